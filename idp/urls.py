from django.contrib import admin
from django.urls import include, path

from idp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("idp.oauth.urls")),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("", include("consent.legal.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("apps/", views.connected_apps, name="connected_apps"),
    path("apps/<int:pk>/revoke", views.revoke_app, name="revoke_app"),
    path("branding/<str:client_id>/logo", views.client_logo, name="client_logo"),
    path("branding/<str:client_id>/theme.css", views.client_theme, name="client_theme"),
    path("api/v1/profile/", include("accounts.profile.api")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
