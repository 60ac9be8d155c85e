"""OpenID Connect relying-party checks on top of allauth's OAuth 2.0 views.

allauth's own adapter skips the ID token signature when the token came straight from the
token endpoint (OIDC Core §3.1.3.7 allows it), sends no nonce and trusts whatever issuer
discovery names. Upstreams here include partners' IdPs, so we check everything:

- discovery: the issuer is the configured one (OIDC Discovery §4.3); endpoints are https;
- authorization response: ``iss`` matches when present or announced (RFC 9207);
- ID token: asymmetric signature against the upstream's JWKS, ``iss``, ``aud``/``azp``,
  ``exp``/``iat``, and the ``nonce`` we stored with the state (OIDC Core §3.1.3.7);
- userinfo: its ``sub`` is the ID token's (OIDC Core §5.3.2).

Any failure is an ``OAuth2Error``, which allauth's callback view turns into the
authentication error page (and our adapter into a security event).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from jwcrypto import jwk, jws
from jwcrypto.common import JWException
from requests import RequestException

from accounts.social.conf import is_acceptable_endpoint

ALLOWED_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
CLOCK_SKEW_SECONDS = 60
METADATA_CACHE_SECONDS = 300
WELL_KNOWN = "/.well-known/openid-configuration"


def _b64json(segment: str) -> dict:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class OpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    #: The nonce stored with the state of this callback (set by ``CallbackView``).
    expected_nonce: str | None = None

    # --- metadata ------------------------------------------------------------------------------
    def _get_json(self, url: str, *, fresh: bool = False) -> dict:
        from allauth.socialaccount.adapter import get_adapter

        if not is_acceptable_endpoint(url):
            raise OAuth2Error(f"Refusing a non-https upstream URL: {url}")
        key = "social:oidc:" + hashlib.sha256(url.encode()).hexdigest()
        if not fresh and (cached := cache.get(key)) is not None:
            return cached
        with get_adapter().get_requests_session() as session:
            response = session.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        if not isinstance(data, dict):
            raise OAuth2Error(f"{url} did not return a JSON object")
        cache.set(key, data, METADATA_CACHE_SECONDS)
        return data

    def expected_issuer(self) -> str:
        app = self.get_provider().app
        if app.settings.get("issuer"):
            return str(app.settings["issuer"])
        return str(app.settings["server_url"]).split("/.well-known/")[0]

    @property
    def openid_config(self) -> dict:
        if not hasattr(self, "_openid_config"):
            provider = self.get_provider()
            config = dict(self._get_json(provider.server_url))
            config.update(provider.app.settings.get("openid_configuration_overrides", {}))
            issuer = config.get("issuer")
            if not isinstance(issuer, str) or issuer.rstrip("/") != self.expected_issuer().rstrip("/"):
                raise OAuth2Error(f"Discovery names issuer {issuer!r}, expected {self.expected_issuer()!r}")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(config.get(name), str) or not is_acceptable_endpoint(config[name]):
                    raise OAuth2Error(f"Discovery has no acceptable {name}")
            self._openid_config = config
        return self._openid_config

    # --- authorization response ------------------------------------------------------------------
    def get_access_token_data(self, request: HttpRequest, app, client, pkce_code_verifier=None):
        """Check RFC 9207's ``iss`` before the code goes anywhere (mix-up defence)."""
        iss = request.GET.get("iss")
        config = self.openid_config
        if iss is None and config.get("authorization_response_iss_parameter_supported"):
            raise OAuth2Error("The authorization response has no iss")
        if iss is not None and iss != config["issuer"]:
            raise OAuth2Error("The authorization response comes from another issuer")
        return super().get_access_token_data(request, app, client, pkce_code_verifier=pkce_code_verifier)

    # --- ID token and userinfo -------------------------------------------------------------------
    def complete_login(self, request: HttpRequest, app, token, **kwargs):
        response = kwargs.get("response") or {}
        raw = response.get("id_token")
        if not isinstance(raw, str) or not raw:
            raise OAuth2Error("The token response has no ID token")
        try:
            claims = self.verify_id_token(app, raw)
            data: dict = {"id_token": claims}
            if app.settings.get("fetch_userinfo", True) and self.openid_config.get("userinfo_endpoint"):
                userinfo = self._fetch_user_info(token.token)
                if not isinstance(userinfo, dict) or userinfo.get("sub") != claims["sub"]:
                    raise OAuth2Error("userinfo is about another subject")
                data["userinfo"] = userinfo
            return self.get_provider().sociallogin_from_response(request, data)
        except (KeyError, TypeError, ValueError) as e:
            raise OAuth2Error(f"Malformed upstream response: {e.__class__.__name__}") from e

    def verify_id_token(self, app, raw: str) -> dict:
        parts = raw.split(".")
        if len(parts) != 3:
            raise OAuth2Error("The ID token is not a signed JWT")
        header = _b64json(parts[0])
        alg = header.get("alg")
        supported = self.openid_config.get("id_token_signing_alg_values_supported") or ALLOWED_ALGS
        if alg not in ALLOWED_ALGS or alg not in supported:
            raise OAuth2Error(f"ID token algorithm {alg!r} is not accepted")
        key = self._signing_key(header.get("kid"))
        try:
            signed = jws.JWS()
            signed.deserialize(raw)
            signed.verify(key, alg=alg)
            claims = json.loads(signed.payload)
        except (JWException, ValueError) as e:
            raise OAuth2Error("The ID token signature is not valid") from e
        if not isinstance(claims, dict):
            raise OAuth2Error("The ID token has no claims")
        self._check_claims(app, claims)
        return claims

    def _signing_key(self, kid) -> jwk.JWK:
        jwks_uri = self.openid_config["jwks_uri"]
        for fresh in (False, True):  # a kid we do not know yet: the upstream rotated keys
            keys = [k for k in self._get_json(jwks_uri, fresh=fresh).get("keys", []) if isinstance(k, dict)]
            keys = [k for k in keys if k.get("use", "sig") == "sig" and k.get("kty") in ("RSA", "EC", "OKP")]
            if kid is not None:
                keys = [k for k in keys if k.get("kid") == kid]
            if len(keys) == 1:
                return jwk.JWK(**keys[0])
        raise OAuth2Error(f"No single signing key for kid {kid!r}")

    def _check_claims(self, app, claims: dict) -> None:
        now = time.time()
        if claims.get("iss") != self.openid_config["issuer"]:
            raise OAuth2Error("The ID token comes from another issuer")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if app.client_id not in audiences:
            raise OAuth2Error("The ID token is for another client")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != app.client_id:
            raise OAuth2Error("The ID token was issued to another party")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or exp + CLOCK_SKEW_SECONDS < now:
            raise OAuth2Error("The ID token has expired")
        if not isinstance(iat, int | float) or iat - CLOCK_SKEW_SECONDS > now:
            raise OAuth2Error("The ID token was issued in the future")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise OAuth2Error("The ID token has no subject")
        nonce = claims.get("nonce")
        if (
            not self.expected_nonce
            or not isinstance(nonce, str)
            or not hmac.compare_digest(nonce.encode(), self.expected_nonce.encode())
        ):
            raise OAuth2Error("The ID token nonce does not match this sign-in")
        if jti := claims.get("jti"):
            replay_key = "social:oidc:jti:" + hashlib.sha256(f"{claims['iss']}|{jti}".encode()).hexdigest()
            if not cache.add(replay_key, True, timeout=max(int(exp - now) + CLOCK_SKEW_SECONDS, 1)):
                raise OAuth2Error("The ID token was used before")


class CallbackView(OAuth2CallbackView):
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except (OAuth2Error, RequestException) as e:
            # allauth builds the token client (discovery) outside its own error handling.
            return render_authentication_error(request, self.adapter.get_provider(), exception=e)

    def _get_state(self, request: HttpRequest, provider):
        state, response = super()._get_state(request, provider)
        if state is not None:
            self.adapter.expected_nonce = state.get("nonce")
        return state, response


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return OAuth2LoginView.adapter_view(OpenIDConnectAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist as e:
        raise Http404 from e


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return CallbackView.adapter_view(OpenIDConnectAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist as e:
        raise Http404 from e
