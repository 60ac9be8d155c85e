"""The project's URLs with the admin served by MFAAdminSite (as idp/urls.py would after the change)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from accounts.mfa.admin import MFAAdminSite
from idp.urls import urlpatterns as project_urlpatterns

site = MFAAdminSite(name="admin")
for model, model_admin in admin.site._registry.items():
    site.register(model, type(model_admin))

urlpatterns = [p for p in project_urlpatterns if str(p.pattern) != "admin/"] + [path("admin/", site.urls)]
