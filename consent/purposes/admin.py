"""Staff side of purposes: the catalogue with versioned texts, read-only records and current
consents, withdrawal on a member's request, and the audited CSV of contactable members."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consent.models import ConsentRecord, ConsentState, Purpose, PurposeText
from consent.purposes import selectors, services
from idp.api import DomainError

EXPORT_PERMISSION = "consent.export_audience"
CSV_UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")


class PurposeTextInline(admin.TabularInline):
    """Texts are published, never edited: existing versions are read-only, a new row is a new version."""

    model = PurposeText
    extra = 0
    fields = ("language", "version", "name", "description", "created")
    readonly_fields = ("version", "created")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AudienceForm(forms.Form):
    channel = forms.ChoiceField(label=_("Contact channel"), choices=Purpose.ContactChannel.choices, required=False)


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = ("code", "category", "contact_channel", "brand", "regions", "offer_at_signup", "is_active")
    list_filter = ("category", "contact_channel", "is_active", "offer_at_signup")
    search_fields = ("code", "brand", "texts__name")
    inlines = [PurposeTextInline]
    readonly_fields = ("audience_link",)
    fields = (
        "code",
        "category",
        "contact_channel",
        "brand",
        "regions",
        "offer_at_signup",
        "is_active",
        "position",
        "audience_link",
    )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "code"] if obj is not None else fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # purposes are retired (not active), so their records keep their meaning

    @admin.display(description=_("Contactable members"))
    def audience_link(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "-"
        url = reverse("admin:consent_purpose_audience", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Export as CSV"))

    def save_model(self, request, obj, form, change) -> None:
        services.purpose_save(purpose=obj, actor=request.user)

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not PurposeText:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for text_form in formset.extra_forms:
            if text_form.has_changed() and text_form.is_valid():
                data = text_form.cleaned_data
                text = services.purpose_text_add(
                    purpose=form.instance,
                    language=data["language"],
                    name=data["name"],
                    description=data["description"],
                    actor=request.user,
                )
                formset.new_objects.append(text)
        return None

    def get_urls(self):
        view = self.admin_site.admin_view(self.audience_view)
        return [path("<int:pk>/audience/", view, name="consent_purpose_audience"), *super().get_urls()]

    def audience_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: choose the channel; POST (CSRF-protected): download the CSV, audited."""
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        purpose = get_object_or_404(Purpose, pk=pk)
        form = AudienceForm(
            request.POST if request.method == "POST" else None, initial={"channel": purpose.contact_channel}
        )
        if request.method == "POST" and form.is_valid():
            try:
                purpose, channel = selectors.audience_purpose(code=purpose.code, channel=form.cleaned_data["channel"])
            except DomainError as error:
                form.add_error("channel", error.title)
            else:
                services.audience_export_record(purpose=purpose, channel=channel, user=request.user)
                return _audience_csv(purpose=purpose, channel=channel)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Export contactable members"),
            "opts": self.model._meta,
            "original": purpose,
            "form": form,
        }
        return TemplateResponse(request, "consent/purposes/admin_audience.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    value = "" if value is None else str(value)
    return "'" + value if value.startswith(CSV_UNSAFE_START) else value  # no formulas in spreadsheets


def _audience_csv(*, purpose: Purpose, channel: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    header = [
        "sub",
        *(["email"] if channel == "email" else []),
        *(["phone_number"] if channel in ("sms", "phone") else []),
    ]
    header += ["locale", "granted_at"]

    def rows():
        yield writer.writerow(header)
        for member in selectors.audience_iter(purpose=purpose, channel=channel):
            row = member.as_dict()
            yield writer.writerow([_cell(row.get(col)) for col in header])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audience-{purpose.code}-{channel or "all"}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    """The evidence, read-only for everyone (the database refuses changes as well)."""

    list_display = ("created", "user", "purpose", "granted", "channel", "client_id", "actor")
    list_filter = ("granted", "channel", "purpose")
    search_fields = ("user__email", "=client_id")
    list_select_related = ("user", "purpose", "actor")
    show_full_result_count = False
    fields = (
        "uuid",
        "created",
        "user",
        "purpose",
        "granted",
        "channel",
        "client_id",
        "text",
        "language",
        "ip",
        "user_agent",
        "actor",
        "note",
    )
    readonly_fields = fields


@admin.register(ConsentState)
class ConsentStateAdmin(ReadOnlyAdmin):
    """Current consents; customer service withdraws them here on a member's request."""

    list_display = ("user", "purpose", "granted", "since")
    list_filter = ("granted", "purpose")
    search_fields = ("user__email",)
    list_select_related = ("user", "purpose")
    show_full_result_count = False
    fields = ("user", "purpose", "granted", "since", "record")
    readonly_fields = fields
    actions = ["withdraw"]

    def has_withdraw_permission(self, request) -> bool:
        return request.user.has_perm("consent.change_consentstate")

    @admin.action(description=_("Withdraw on the member's request"), permissions=["withdraw"])
    def withdraw(self, request, queryset) -> None:
        count = 0
        for state in queryset.filter(granted=True).select_related("user", "purpose"):
            count += len(
                services.consent_change(
                    user=state.user,
                    changes={state.purpose.code: False},
                    channel=ConsentRecord.Channel.STAFF,
                    request=request,
                    actor=request.user,
                    note="withdrawn by customer service",
                )
            )
        messages.success(
            request,
            ngettext("%(count)d consent withdrawn.", "%(count)d consents withdrawn.", count) % {"count": count},
        )
