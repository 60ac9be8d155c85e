"""The staff app's admin: the audit log (read, filter, export as JSON Lines) and the single
customer view (``Customers``: a masked member search, one page per member, break glass)."""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from staff import masking, selectors, services
from staff.forms import BreakGlassForm
from staff.models import AuditEntry, Customer

EXPORT_PERMISSION = "staff.export_auditentry"


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Append-only: nobody adds, changes or deletes, whatever their permissions."""

    list_display = ("created", "action", "name", "actor", "actor_ip", "target_type", "object_id", "member_id")
    list_filter = ("action", ("created", admin.DateFieldListFilter), "target_type")
    search_fields = ("=actor__email", "=member__email", "=member__id", "=actor__id", "=object_id", "name", "reason")
    date_hierarchy = "created"
    list_select_related = ("actor", "target_type")
    readonly_fields = (
        "created",
        "action",
        "name",
        "actor",
        "actor_ip",
        "actor_user_agent",
        "target_type",
        "object_id",
        "member_id",
        "reason",
        "fields",
        "details",
    )
    fields = readonly_fields
    show_full_result_count = False
    actions = ["export_jsonl"]
    staff_self_audited = ("staff_auditentry_export",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="staff_auditentry_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"export_url": None}
        if self.has_export_permission(request):
            query = request.GET.urlencode()
            extra["export_url"] = reverse("admin:staff_auditentry_export") + (f"?{query}" if query else "")
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def _export(self, request, queryset, filters: dict):
        services.audit_write(request=request, action=AuditEntry.Action.EXPORT, target=AuditEntry, details=filters)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        response = StreamingHttpResponse(selectors.audit_jsonl(queryset), content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="staff-audit-{stamp}.jsonl"'
        return response

    def export_view(self, request):
        """The rows the changelist shows for the same filters, as JSON Lines."""
        if not (self.has_view_permission(request) and self.has_export_permission(request)):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
            queryset = changelist.get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:staff_auditentry_changelist") + "?e=1")
        return self._export(request, queryset, {"filters": dict(request.GET.items()), "channel": "admin"})

    @admin.action(description=_("Export the selected entries as JSON Lines"), permissions=["export"])
    def export_jsonl(self, request, queryset):
        return self._export(request, queryset, {"ids": len(queryset), "channel": "admin"})


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Find a member (masked for roles without the unmask permission) and open their one page."""

    list_display = ("email", "given_name", "family_name", "date_joined", "is_active")
    search_fields = ("email", "given_name", "family_name", "=sub", "=loyalty_memberships__member_number")
    ordering = ("-date_joined",)
    show_full_result_count = False
    list_per_page = 50
    staff_self_audited = ("staff_customer_unmask",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path("<int:pk>/unmask/", self.admin_site.admin_view(self.unmask_view), name="staff_customer_unmask"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not str(object_id).isdigit():
            raise Http404
        member = get_object_or_404(Customer, pk=object_id)
        return self._render(request, member, BreakGlassForm())

    def _render(self, request, member, form, status: int = 200):
        masked = not masking.is_unmasked(request, member.pk)
        overview = selectors.customer_overview(user=member, masked=masked)
        services.audit_write(
            request=request,
            action=AuditEntry.Action.VIEW_PII,
            target=member,
            name="customer_view",
            details={"masked": masked},
        )
        expires = masking.unmask_expires(request, member.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Customer %(id)s") % {"id": member.pk},
            "subtitle": None,
            "opts": self.model._meta,
            "member": member,
            "overview": overview,
            "form": form,
            "unmask_until": datetime.datetime.fromtimestamp(expires, tz=datetime.UTC) if expires else None,
            "can_unmask_all": masking.can_unmask_all(request.user),
            "user_change_url": _user_change_url(request, member),
        }
        return TemplateResponse(request, "staff/customer.html", context, status=status)

    def unmask_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        member = get_object_or_404(Customer, pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:staff_customer_change", args=[pk]))
        form = BreakGlassForm(request.POST)
        if not form.is_valid():
            return self._render(request, member, form, status=400)
        services.break_glass(request=request, member=member, reason=form.cleaned_data["reason"])
        messages.success(request, _("Personal data shown for a limited time. Your reason has been recorded."))
        return HttpResponseRedirect(reverse("admin:staff_customer_change", args=[pk]))


def _user_change_url(request, member) -> str | None:
    if request.user.has_perm("accounts.view_user"):
        return reverse("admin:accounts_user_change", args=[member.pk])
    return None


def customer_link(obj) -> str:
    """A link to the customer view, for other admins' lists and change pages."""
    if obj is None or obj.pk is None:
        return ""
    return format_html('<a href="{}">{}</a>', reverse("admin:staff_customer_change", args=[obj.pk]), _("Customer view"))
