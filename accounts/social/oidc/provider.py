from __future__ import annotations

import secrets

from allauth.account.models import EmailAddress
from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.openid_connect.provider import (
    OpenIDConnectProvider as AllauthOpenIDConnectProvider,
)
from django.http import HttpRequest
from requests import RequestException

from accounts.social.oidc.views import OpenIDConnectAdapter


def claim_is_true(value) -> bool:
    """``email_verified`` is a boolean (OIDC Core §5.1); some upstreams send "true"/"false"."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def email_claims(data: dict) -> tuple[str | None, bool]:
    """The address and whether the upstream verified *that* address (userinfo first)."""
    userinfo = data.get("userinfo") or {}
    id_token = data.get("id_token") or {}
    email = userinfo.get("email") or id_token.get("email")
    if not isinstance(email, str) or not email:
        return None, False
    for source in (userinfo, id_token):
        if source.get("email") == email and "email_verified" in source:
            return email, claim_is_true(source["email_verified"])
    return email, False


class OpenIDConnectProvider(AllauthOpenIDConnectProvider):
    """Generic OpenID Connect upstream (partners, group companies, Yahoo! JAPAN).

    Sends a nonce and PKCE by default; see ``views.OpenIDConnectAdapter`` for the checks.
    """

    oauth2_adapter_class = OpenIDConnectAdapter
    pkce_enabled_default = True
    supports_token_authentication = False

    def redirect(self, request: HttpRequest, process, next_url=None, data=None, **kwargs):
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        if auth_params is None:
            auth_params = self.get_auth_params()
        auth_params = {**auth_params, "nonce": nonce}
        try:
            # ``nonce`` is stashed with the state, in the session, for the callback to compare.
            return super().redirect(
                request, process, next_url=next_url, data=data, auth_params=auth_params, nonce=nonce, **kwargs
            )
        except (OAuth2Error, RequestException, KeyError, TypeError, ValueError) as e:
            return render_authentication_error(request, self, exception=e)

    def extract_email_addresses(self, data):
        email, verified = email_claims(data)
        if not email:
            return []
        return [EmailAddress(email=email, verified=verified, primary=True)]

    def extract_common_fields(self, data):
        fields = super().extract_common_fields(data)
        fields["email"] = email_claims(data)[0]
        return fields
