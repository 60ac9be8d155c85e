"""Staff views of the loyalty app. The ledger is read-only here: points move only through
services, and a staff adjustment needs the ``loyalty.adjust_points`` permission and a reason."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from idp.api import DomainError
from loyalty import services
from loyalty.models import EarnLot, IdempotencyRecord, LedgerEntry, Membership, Program, ProgramClient, Tier, TierChange


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0


class ProgramClientInline(admin.TabularInline):
    model = ProgramClient
    extra = 0
    raw_id_fields = ("client",)


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_active", "points_expire_after_days", "redeem_step_up_threshold")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [TierInline, ProgramClientInline]

    def has_delete_permission(self, request, obj=None):
        return False  # a program with a ledger is closed (is_active), never deleted


class EntryInline(ReadOnlyMixin, admin.TabularInline):
    model = LedgerEntry
    fields = ("created", "kind", "points", "balance_after", "client", "actor", "reference", "description")
    readonly_fields = fields
    ordering = ("-id",)
    extra = 0
    max_num = 0
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client", "actor")


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"), help_text=_("Positive to credit, negative to debit."), min_value=-(10**9), max_value=10**9
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a number of points other than 0."))
        return points

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason for the adjustment."))
        return reason


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("member_number", "program", "user", "tier", "balance", "debt", "status", "joined_at")
    list_select_related = ("program", "tier__program", "user")
    list_filter = ("program", "status", "tier")
    search_fields = ("member_number", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = (
        "program",
        "user",
        "member_number",
        "status",
        "tier",
        "balance",
        "debt",
        "joined_at",
        "adjust_link",
    )
    fields = readonly_fields
    inlines = [EntryInline]

    def has_add_permission(self, request):
        return False  # members join through the service (one click on their loyalty page)

    def has_delete_permission(self, request, obj=None):
        return False  # erasure pseudonymises; the ledger stays

    @admin.display(description=_("Adjust points"))
    def adjust_link(self, obj):
        if obj.pk is None:
            return ""
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:loyalty_membership_adjust", args=[obj.pk]),
            _("Credit or debit points with a reason"),
        )

    def get_urls(self):
        return [
            path("<int:pk>/adjust/", self.admin_site.admin_view(self.adjust_view), name="loyalty_membership_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, pk: int):
        if not request.user.has_perm("loyalty.adjust_points"):
            raise PermissionDenied
        membership = get_object_or_404(Membership, pk=pk)
        form = AdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = services.points_adjust(
                    membership_id=membership.pk,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error("points", error.title)
            else:
                messages.success(request, _("Adjusted by %(points)+d points.") % {"points": entry.points})
                return redirect("admin:loyalty_membership_change", membership.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust points of %(number)s") % {"number": membership.member_number},
            "membership": membership,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "loyalty/admin_adjust.html", context, status=400 if form.errors else 200)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created", "membership", "kind", "points", "balance_after", "client", "actor", "reference")
    list_filter = ("kind", "membership__program")
    search_fields = ("membership__member_number", "reference", "uuid")
    list_select_related = ("membership", "client", "actor")


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created", "membership", "from_tier", "to_tier", "qualifying_points", "reason")
    list_filter = ("reason",)
    search_fields = ("membership__member_number",)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created", "program", "scope", "key", "status")
    search_fields = ("key",)


@admin.register(EarnLot)
class EarnLotAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("earned_at", "membership", "points", "remaining", "expires_at", "qualifying")
    search_fields = ("membership__member_number",)
