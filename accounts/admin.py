from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import SecurityEvent, User, UserSession
from accounts.security import selectors as security_selectors
from accounts.security import services as security_services
from accounts.security.useragent import describe_device


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "given_name", "family_name", "is_staff", "date_joined", "customer_view")
    search_fields = ("email", "given_name", "family_name")
    readonly_fields = ("sub", "date_joined", "last_login", "updated_at", "phone_number_verified", "customer_view")
    fieldsets = (
        (None, {"fields": ("email", "password", "sub", "customer_view")}),
        (
            _("Profile"),
            {
                "fields": (
                    "given_name",
                    "family_name",
                    "nickname",
                    "phone_number",
                    "phone_number_verified",
                    "locale",
                    "zoneinfo",
                )
            },
        ),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def save_model(self, request, obj, form, change) -> None:
        # Only the member's SMS code verifies a number (accounts.phone): one typed in here is not.
        if change and "phone_number" in form.changed_data:
            obj.phone_number_verified = False
        super().save_model(request, obj, form, change)

    @admin.display(description=_("customer view"))
    def customer_view(self, obj) -> str:
        """Everything about the member on one page (``staff.admin.CustomerAdmin``)."""
        if obj is None or obj.pk is None:
            return ""
        return format_html('<a href="{}">{}</a>', reverse("admin:staff_customer_change", args=[obj.pk]), _("Open"))


# --- account protection: security events and sessions --------------------------------------------


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """Append-only: staff read and search, nobody adds, edits or deletes."""

    list_display = ("created", "kind", "user", "ip", "user_agent_short")
    list_filter = ("kind", ("created", admin.DateFieldListFilter))
    search_fields = ("user__email", "ip", "kind")
    date_hierarchy = "created"
    list_select_related = ("user",)
    readonly_fields = ("created", "kind", "user", "ip", "user_agent", "data")
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description=_("device"))
    def user_agent_short(self, obj) -> str:
        return describe_device(obj.user_agent) if obj.user_agent else ""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "created", "last_seen", "ended_at", "ip", "location", "device")
    list_filter = (("ended_at", admin.EmptyFieldListFilter),)
    search_fields = ("user__email", "ip", "sid")
    list_select_related = ("user",)
    readonly_fields = (
        "user",
        "created",
        "last_seen",
        "ended_at",
        "ip",
        "location",
        "user_agent",
        "amr",
        "sid",
    )
    exclude = ("session_key",)
    actions = ["end_sessions"]

    @admin.display(description=_("device"))
    def device(self, obj) -> str:
        return describe_device(obj.user_agent)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_end_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_usersession")

    @admin.action(description=_("Sign out the selected sessions"), permissions=["end"])
    def end_sessions(self, request, queryset):
        ended = 0
        for session in queryset.filter(ended_at__isnull=True).select_related("user"):
            ended += security_services.session_revoke(
                user=session.user,
                session_id=session.pk,
                current_session_id=security_selectors.current_session_id(request),
                request=request,
            )
        self.message_user(
            request,
            ngettext("%(count)d session signed out.", "%(count)d sessions signed out.", ended) % {"count": ended},
        )


class UserSessionInline(admin.TabularInline):
    model = UserSession
    verbose_name_plural = _("active sessions")
    fields = ("created", "last_seen", "ip", "location", "user_agent")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).filter(ended_at__isnull=True).order_by("-last_seen")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


UserAdmin.inlines = (*UserAdmin.inlines, UserSessionInline)
