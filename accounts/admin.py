from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "given_name", "family_name", "is_staff", "date_joined")
    search_fields = ("email", "given_name", "family_name")
    readonly_fields = ("sub", "date_joined", "last_login", "updated_at")
    fieldsets = (
        (None, {"fields": ("email", "password", "sub")}),
        (
            _("Profile"),
            {"fields": ("given_name", "family_name", "nickname", "phone_number", "locale", "zoneinfo")},
        ),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
