"""The privacy officer's queue: export and erasure requests with their steps, legal holds and
inactivity notices. Everything is read-only except through the actions, which call the services
(and so are audited): retry a request, place a hold (the add form), lift holds.

Permissions are Django's model permissions: ``change`` on a request to retry it, ``add`` on
legal holds to place one, ``change`` on legal holds to lift one. Nobody deletes here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consent.models import ErasureRequest, ErasureStep, ExportRequest, InactivityNotice, LegalHold
from consent.privacy import registry, selectors, services


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.concrete_fields] + list(self.readonly_fields)


class ErasureStepInline(admin.TabularInline):
    model = ErasureStep
    extra = 0
    can_delete = False
    fields = ("position", "key", "action", "hold_category", "state", "attempts", "started_at", "finished_at", "error")
    readonly_fields = fields
    ordering = ("position", "id")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _holds_html(user_ref: int):
    holds = list(selectors.holds_for(user_ref=user_ref))
    if not holds:
        return _("none")
    return format_html_join(
        "",
        '<div><a href="{}">{}</a> — {} ({})</div>',
        (
            (
                reverse("admin:consent_legalhold_change", args=[h.pk]),
                h.category,
                h.reason,
                _("active") if h.is_active() else _("ended"),
            )
            for h in holds
        ),
    )


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "user_ref", "reason", "state", "steps_done", "created", "heartbeat_at", "finished_at")
    list_filter = ("state", "reason")
    search_fields = ("=id", "=user_ref")
    ordering = ("-created",)
    inlines = [ErasureStepInline]
    readonly_fields = ("holds", "place_hold")
    exclude = ("notify_email",)
    actions = ["retry"]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f != "notify_email"]

    @admin.display(description=_("steps done"))
    def steps_done(self, obj: ErasureRequest) -> str:
        steps = obj.steps.all()
        return f"{sum(1 for s in steps if s.state == ErasureStep.State.DONE)}/{len(steps)}"

    @admin.display(description=_("legal holds"))
    def holds(self, obj: ErasureRequest):
        return _holds_html(obj.user_ref)

    @admin.display(description=_("place a hold"))
    def place_hold(self, obj: ErasureRequest):
        if obj.state == ErasureRequest.State.DONE:
            return "—"
        return format_html(
            '<a href="{}?user_ref={}">{}</a>', reverse("admin:consent_legalhold_add"), obj.user_ref, _("Place a hold")
        )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps")

    @admin.action(description=_("Retry the selected requests"), permissions=["change"])
    def retry(self, request, queryset):
        done = 0
        for erasure in queryset:
            try:
                services.erasure_retry(erasure=erasure, staff=request.user)
            except services.PrivacyError as error:
                self.message_user(request, f"#{erasure.pk}: {error.message}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%d request queued again.", "%d requests queued again.", done) % done,
                messages.SUCCESS,
            )


@admin.register(ExportRequest)
class ExportRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "state", "created", "finished_at", "expires_at", "downloaded_at")
    list_filter = ("state",)
    search_fields = ("=id", "user__email")
    exclude = ("payload",)  # the member's data is theirs to download, not staff's to read
    actions = ["retry"]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f != "payload"]

    @admin.action(description=_("Retry the selected exports"), permissions=["change"])
    def retry(self, request, queryset):
        for export in queryset:
            try:
                services.export_retry(export=export, staff=request.user)
            except services.PrivacyError as error:
                self.message_user(request, f"#{export.pk}: {error.message}", messages.WARNING)


class LegalHoldForm(forms.ModelForm):
    user_ref = forms.IntegerField(label=_("account number"), min_value=1)
    category = forms.ChoiceField(label=_("data held"))
    ends_at = forms.SplitDateTimeField(label=_("ends"), widget=admin.widgets.AdminSplitDateTime)

    class Meta:
        model = LegalHold
        fields = ("user_ref", "category", "reason", "ends_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(k, str(v)) for k, v in registry.hold_categories().items()]

    def clean_user_ref(self):
        user_ref = self.cleaned_data["user_ref"]
        known = (
            get_user_model().objects.filter(pk=user_ref).exists()
            or ErasureRequest.objects.filter(user_ref=user_ref).exclude(state=ErasureRequest.State.DONE).exists()
        )
        if not known:
            raise forms.ValidationError(_("No account or open erasure request has this number."))
        return user_ref

    def clean(self):
        data = super().clean()
        if {"category", "reason", "ends_at"} <= data.keys():
            try:
                services.legal_hold_validate(category=data["category"], reason=data["reason"], ends_at=data["ends_at"])
            except services.PrivacyError as error:
                raise forms.ValidationError(error.message) from error
        return data


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    form = LegalHoldForm
    list_display = ("id", "user_ref", "category", "ends_at", "active", "rule", "created", "lifted_at")
    list_filter = ("category", "rule")
    search_fields = ("=user_ref", "reason")
    actions = ["lift"]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if request.GET.get("user_ref", "").isdigit():
            initial["user_ref"] = int(request.GET["user_ref"])
        return initial

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in LegalHold._meta.concrete_fields]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user_ref", "category", "reason", "ends_at")
        return [f.name for f in LegalHold._meta.concrete_fields]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(boolean=True, description=_("active"))
    def active(self, obj: LegalHold) -> bool:
        return obj.is_active()

    def save_model(self, request, obj, form, change):
        if change:
            return  # holds are not edited: lift one and place another
        hold = services.legal_hold_place(
            user_ref=form.cleaned_data["user_ref"],
            category=form.cleaned_data["category"],
            reason=form.cleaned_data["reason"],
            ends_at=form.cleaned_data["ends_at"],
            placed_by=request.user,
        )
        obj.pk = hold.pk

    @admin.action(description=_("Lift the selected holds"), permissions=["change"])
    def lift(self, request, queryset):
        lifted = 0
        for hold in queryset.filter(lifted_at__isnull=True):
            services.legal_hold_lift(hold=hold, lifted_by=request.user, reason="lifted in the admin")
            lifted += 1
        self.message_user(request, ngettext("%d hold lifted.", "%d holds lifted.", lifted) % lifted, messages.SUCCESS)


@admin.register(InactivityNotice)
class InactivityNoticeAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "state", "sent_at", "erasure_due_at", "closed_at")
    list_filter = ("state",)
