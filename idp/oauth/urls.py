"""Protocol endpoints at the issuer's root, named as django-oauth-toolkit expects."""

from django.urls import path, re_path
from oauth2_provider import views as dot

from idp.oauth import device, token, views
from idp.oauth.guard import protocol_guard as guard

app_name = "oauth2_provider"

urlpatterns = [
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views.DiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(
        ".well-known/oauth-authorization-server",
        dot.OAuthServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path(".well-known/jwks.json", dot.JwksInfoView.as_view(), name="jwks-info"),
    path("authorize", guard(views.AuthorizeView.as_view(), page=True), name="authorize"),
    path("token", guard(token.TokenView.as_view()), name="token"),
    path("revoke", guard(dot.RevokeTokenView.as_view()), name="revoke-token"),
    path("introspect", guard(dot.IntrospectTokenView.as_view()), name="introspect"),
    path("userinfo", guard(views.UserInfoView.as_view()), name="user-info"),
    path("logout", guard(dot.RPInitiatedLogoutView.as_view()), name="rp-initiated-logout"),
    path("device_authorization", guard(dot.DeviceAuthorizationView.as_view()), name="device-authorization"),
    path("device", device.DeviceUserCodeView.as_view(), name="device"),
    path("device/<slug:client_id>/<slug:user_code>", device.DeviceConfirmView.as_view(), name="device-confirm"),
    path(
        "device/<slug:client_id>/<slug:user_code>/status",
        dot.DeviceGrantStatusView.as_view(),
        name="device-grant-status",
    ),
]
