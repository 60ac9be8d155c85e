"""Staff pages of the outbox: subscriptions (with their secret shown once), events, deliveries.

A signing secret is shown exactly once, on the page that answers the creation or the rotation
(rendered directly, ``Cache-Control: no-store``; never put in a message, a cookie, the URL or the
admin's change history). Afterwards staff see its fingerprint only; a lost secret is replaced with
"Rotate signing secret", during whose overlap the old one keeps working.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consent.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from consent.outbox import services

SECRET_TEMPLATE = "admin/consent/webhooksubscription/secret.html"


class HttpsURLField(forms.URLField):
    """A URL typed without a scheme is taken as https://."""

    def __init__(self, **kwargs):
        kwargs.setdefault("assume_scheme", "https")
        super().__init__(**kwargs)


class WebhookSubscriptionForm(forms.ModelForm):
    kinds = forms.CharField(
        label=_("Event kinds"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, for example consent.changed."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "is_active")
        field_classes = {"url": HttpsURLField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["kinds"].initial = "\n".join(self.instance.event_kinds)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        services.webhook_url_validate(url)
        return url

    def clean_kinds(self) -> list[str]:
        kinds = services.event_kinds_validate(self.cleaned_data["kinds"].replace(",", " ").split())
        if not kinds:
            raise ValidationError(_("Name at least one event kind."), code="required")
        return kinds

    def clean(self):
        cleaned = super().clean()
        if "kinds" in cleaned:
            self.instance.event_kinds = cleaned["kinds"]
        return cleaned


def _secret_page(request, admin_site, subscriptions: list[tuple[WebhookSubscription, str]], *, rotated: bool):
    response = TemplateResponse(
        request,
        SECRET_TEMPLATE,
        {
            **admin_site.each_context(request),
            "title": _("Signing secret"),
            "subscriptions": subscriptions,
            "rotated": rotated,
            "opts": WebhookSubscription._meta,
        },
    )
    add_never_cache_headers(response)
    return response


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("name", "url", "kinds_display", "is_active", "secret_fingerprint", "updated")
    list_filter = ("is_active",)
    search_fields = ("name", "url")
    readonly_fields = ("secret_fingerprint", "previous_secret_expires_at", "created", "updated")
    fieldsets = (
        (None, {"fields": ("name", "url", "kinds", "is_active")}),
        (
            _("Signing secret"),
            {
                "fields": ("secret_fingerprint", "previous_secret_expires_at"),
                "description": _(
                    "The secret is shown once, when it is created. Rotate it to get a new one; "
                    "the previous one keeps signing during the overlap."
                ),
            },
        ),
        (None, {"fields": ("created", "updated")}),
    )
    actions = ["rotate_secret"]

    @admin.display(description=_("event kinds"))
    def kinds_display(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_kinds)

    def save_model(self, request, obj, form, change):
        secret = services.webhook_subscription_save(subscription=obj, actor=request.user)
        if secret:
            request._webhook_secret = secret

    def delete_model(self, request, obj):
        services.webhook_subscription_delete(subscription=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for subscription in queryset:
            services.webhook_subscription_delete(subscription=subscription, actor=request.user)

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_webhook_secret", None)
        if secret:
            return _secret_page(request, self.admin_site, [(obj, secret)], rotated=False)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=_("Rotate signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        rotated = [
            (subscription, services.webhook_subscription_rotate_secret(subscription=subscription, actor=request.user))
            for subscription in queryset.order_by("pk")
        ]
        return _secret_page(request, self.admin_site, rotated, rotated=True)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "succeeded", "error")
    readonly_fields = fields
    show_change_link = False


class DeliveryInline(ReadOnlyInline):
    model = WebhookDelivery
    fields = ("subscription", "status", "attempts", "last_status_code", "last_error", "next_attempt_at")
    readonly_fields = fields


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ("created", "kind", "webhook_id", "subject", "user")
    list_filter = ("kind",)
    search_fields = ("kind", "subject", "user__email")
    date_hierarchy = "created"
    fields = ("webhook_id", "kind", "created", "user", "subject", "payload")
    readonly_fields = fields
    inlines = [DeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "event_kind",
        "webhook_id",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "subscription", "event__kind")
    list_select_related = ("event", "subscription")
    search_fields = ("event__kind", "subscription__name", "last_error")
    fields = (
        "event",
        "subscription",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_expires_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created",
    )
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["redeliver"]

    @admin.display(description=_("kind"), ordering="event__kind")
    def event_kind(self, obj: WebhookDelivery) -> str:
        return obj.event.kind

    @admin.display(description=_("webhook-id"))
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return obj.event.webhook_id

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Deliver again"), permissions=["change"])
    def redeliver(self, request, queryset):
        count = services.webhook_deliveries_redeliver(
            delivery_ids=queryset.values_list("pk", flat=True), actor=request.user
        )
        message = ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", count)
        self.message_user(request, message % {"count": count})
