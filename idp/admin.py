from __future__ import annotations

from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _
from oauth2_provider.admin import ApplicationAdmin

from idp.models import AuditEvent, Client, ClientAuthorization, CodeIssuance

# django-oauth-toolkit registers the swapped client model with its own admin; ours replaces it.
if admin.site.is_registered(Client):
    admin.site.unregister(Client)


@admin.register(Client)
class ClientAdmin(ApplicationAdmin):
    list_display = ("name", "client_id", "client_type", "authorization_grant_type", "first_party")
    list_filter = ("client_type", "authorization_grant_type", "first_party")
    search_fields = ("name", "client_id")
    fieldsets = (
        (None, {"fields": ("name", "client_id", "client_type", "authorization_grant_type")}),
        (_("Secret"), {"fields": ("client_secret", "hash_client_secret")}),
        (
            _("Redirects and logout"),
            {
                "fields": (
                    "redirect_uris",
                    "post_logout_redirect_uris",
                    "backchannel_logout_uri",
                    "allowed_origins",
                )
            },
        ),
        (
            _("Policy"),
            {"fields": ("first_party", "require_pkce", "require_mfa", "allowed_scopes", "algorithm")},
        ),
        (_("Branding"), {"fields": ("logo", "brand_color")}),
    )

    def get_urls(self):
        from idp.config_io.admin import config_view

        view = self.admin_site.admin_view(lambda request: config_view(self, request))
        return [path("configuration/", view, name="idp_config"), *super().get_urls()]


@admin.register(ClientAuthorization)
class ClientAuthorizationAdmin(admin.ModelAdmin):
    list_display = ("user", "client", "scope", "updated", "revoked_at")
    list_filter = ("client",)
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    readonly_fields = ("user", "client", "scope", "created", "updated", "revoked_at")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created", "kind", "user", "client")
    list_filter = ("kind",)
    search_fields = ("user__email", "kind")


@admin.register(CodeIssuance)
class CodeIssuanceAdmin(ReadOnlyAdmin):
    list_display = ("created", "client", "user", "acr", "redeemed_at", "replayed_at")
