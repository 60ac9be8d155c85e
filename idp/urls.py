from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from consent.purposes.urls import api_urlpatterns as consent_api_urlpatterns
from idp import views
from idp.dashboard import views as dashboard_views

urlpatterns = [
    # The JSON APIs first: they are the most requested paths, and resolving walks this list in order.
    path("api/v1/loyalty/", include("loyalty.api.urls")),
    path("api/v1/profile/", include("accounts.profile.api")),
    path("api/v1/", include((consent_api_urlpatterns, "consent_api"))),
    path("", views.home, name="home"),
    path("account/", views.home, name="account_home"),
    path("", include("idp.oauth.urls")),
    path("accounts/email/", account_views.email, name="account_email"),  # before allauth's: guards "primary"
    path("accounts/password/renew/", include("accounts.renewal_urls")),
    path("accounts/", include("allauth.urls")),
    path("account/loyalty/", include("loyalty.urls")),
    path("account/", include("accounts.urls")),
    path("", include("consent.legal.urls")),
    path("account/privacy/", include("consent.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("apps/", views.connected_apps, name="connected_apps"),
    path("privacy/", include("consent.privacy.urls")),
    path("apps/<int:pk>/revoke", views.revoke_app, name="revoke_app"),
    path("branding/<str:client_id>/logo", views.client_logo, name="client_logo"),
    path("branding/<str:client_id>/theme.css", views.client_theme, name="client_theme"),
    path("healthz", views.healthz, name="healthz"),
    # Before the admin's own URLs; admin_view lets in active staff whose session has a second factor.
    path("admin/dashboard/", admin.site.admin_view(dashboard_views.dashboard), name="admin_dashboard"),
    path("admin/", admin.site.urls),
]
