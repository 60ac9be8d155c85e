"""OpenID Connect Back-Channel Logout 1.0: logout tokens and their delivery to relying parties.

A Logout Token (§2.4) is a JWT signed like our ID tokens (RS256 with the current signing key,
``kid`` the key's JWK thumbprint as published in the JWKS), typed ``logout+jwt``, with
``iss``, ``aud`` (the client_id), ``iat``, ``exp``, ``jti``, ``sub`` and, for one session,
``sid``; ``events`` names the back-channel logout event and there is never a ``nonce``.
It is POSTed as the form field ``logout_token`` (§2.5); the RP answers 200 or 204 (§2.8).
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest
from jwcrypto import jwk, jwt
from oauth2_provider.settings import oauth2_settings

from accounts.security.app_settings import security_settings

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"


class DeliveryError(Exception):
    """The RP did not accept a logout token. ``retryable`` when trying again may help."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def issuer_for(request: HttpRequest | None) -> str:
    """Our issuer as ID tokens carry it: from the settings, else from the request's origin."""
    if oauth2_settings.OIDC_ISS_ENDPOINT:
        return oauth2_settings.OIDC_ISS_ENDPOINT
    if request is not None and ("HTTP_HOST" in request.META or "SERVER_NAME" in request.META):
        return oauth2_settings.oidc_issuer(request)
    return settings.IDP_PUBLIC_URL  # no request, or a bare one (``Client.logout()`` in tests)


def logout_token(*, issuer: str, client_id: str, sub: str, sid: str = "", now: int | None = None) -> str:
    key = jwk.JWK.from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY.encode())
    iat = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": client_id,
        "iat": iat,
        "exp": iat + security_settings.LOGOUT_TOKEN_LIFETIME,
        "jti": secrets.token_urlsafe(24),
        "sub": sub,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if sid:
        claims["sid"] = sid
    token = jwt.JWT(header={"alg": "RS256", "kid": key.thumbprint(), "typ": LOGOUT_TOKEN_TYPE}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an answer other than 200/204, not a place to follow


_opener = urllib.request.build_opener(_NoRedirects)


def deliver(*, uri: str, token: str) -> int:
    """POST the token; return the RP's status (200 or 204) or raise :class:`DeliveryError`."""
    if urlsplit(uri).scheme not in {"https", "http"}:
        raise DeliveryError(f"unsupported back-channel logout URI {uri!r}", retryable=False)
    request = urllib.request.Request(
        uri,
        data=urlencode({"logout_token": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Member ID"},
        method="POST",
    )
    try:
        with _opener.open(request, timeout=security_settings.BACKCHANNEL_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryError(f"{uri}: {error}", retryable=True) from error
    if status in (200, 204):
        return status
    # 5xx, 408 and 429 may pass; any other answer (400 per §2.8, a redirect) will not.
    raise DeliveryError(f"{uri} answered {status}", retryable=status >= 500 or status in (408, 429))
