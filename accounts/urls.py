"""The member's own account pages: second factors, passkeys, sessions and security events."""

from django.urls import include, path

app_name = "accounts"

urlpatterns = [
    path("mfa/", include("accounts.mfa.urls")),
    path("security/", include("accounts.security.urls")),
    path("social/", include("accounts.social.urls")),
    path("profile/", include("accounts.profile.urls")),
    path("phone/", include("accounts.phone.urls")),
]
