"""The authorization endpoint and discovery, on top of django-oauth-toolkit."""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from jwcrypto import jws
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauth2_provider.views import AuthorizationView, ConnectDiscoveryInfoView
from oauth2_provider.views import UserInfoView as BaseUserInfoView
from oauthlib.oauth2.rfc6749.errors import InvalidClientIdError, MissingClientIdError

from accounts import selectors as account_selectors
from accounts import services as account_services
from idp import claims as claims_registry
from idp import interstitials, selectors, services
from idp.oauth.clients import client_get

SESSION_REAUTH_PENDING = account_services.SESSION_REAUTH_PENDING
SESSION_REAUTH_FRESH = account_services.SESSION_REAUTH_FRESH
SESSION_SID = "idp_sid"


def _prompt(request) -> set[str]:
    return set(request.GET.get("prompt", "").split())


def _with_params(uri: str, **params: str) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _id_token_hint_subject(token: str) -> str | None:
    """Subject of an ID token we signed (expired ones included, OIDC Core §3.1.2.1), else None."""
    keys = [oauth2_settings.OIDC_RSA_PRIVATE_KEY, *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE]
    for pem in keys:
        try:
            signed = jws.JWS()
            signed.deserialize(token)
            signed.verify(jwk_from_pem(pem), alg="RS256")  # cached: parsing a PEM costs ~50 ms
            return json.loads(signed.payload).get("sub")
        except Exception:  # noqa: BLE001 - any malformed or foreign token is simply not a hint
            continue
    return None


@method_decorator(never_cache, name="dispatch")
class AuthorizeView(AuthorizationView):
    """OIDC Core §3.1.2: authentication request handling, prompt, max_age, consent and SSO."""

    template_name = "idp/authorize.html"

    # --- anonymous users -------------------------------------------------------------------------
    def handle_no_permission(self):
        request = self.request
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        client = client_get(credentials["client_id"])
        if "none" in _prompt(request):
            return self.authorization_error(client, credentials, "login_required")
        # The login about to happen satisfies prompt=login and max_age for this request. Only
        # then is a session written for an anonymous visitor.
        if "login" in _prompt(request) or request.GET.get("max_age") or request.GET.get("id_token_hint"):
            request.session[SESSION_REAUTH_PENDING] = True
        return redirect_to_login(request.get_full_path(), resolve_url(self.get_login_url()))

    # --- signed-in users ------------------------------------------------------------------------------
    def get(self, request, *args, **kwargs):
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        client = client_get(credentials["client_id"])
        prompt = _prompt(request)

        try:
            max_age = self._max_age(request)
        except ValueError:
            return self.authorization_error(client, credentials, "invalid_request", "max_age must be a number")

        context = account_services.authentication_context(request)
        hint_sub = _id_token_hint_subject(request.GET["id_token_hint"]) if request.GET.get("id_token_hint") else None
        other_user = hint_sub is not None and hint_sub != str(request.user.sub)
        too_old = max_age is not None and time.time() - context["auth_time"] > max_age
        if "login" in prompt or too_old or other_user:
            if request.session.pop(SESSION_REAUTH_FRESH, False) and not other_user:
                context = account_services.authentication_context(request)
            elif "none" in prompt:
                return self.authorization_error(client, credentials, "login_required")
            else:
                request.session[SESSION_REAUTH_PENDING] = True
                return redirect_to_login(request.get_full_path(), resolve_url(self.get_login_url()))

        required = account_selectors.required_acr(
            user=request.user, client=client, acr_values=request.GET.get("acr_values", "")
        )
        if not account_selectors.acr_meets(context["acr"], required):
            if "none" in prompt:
                return self.authorization_error(client, credentials, "interaction_required")
            # Step-up: ask for exactly what is missing, then come back here.
            query = urlencode({"next": request.get_full_path(), "acr": required})
            return HttpResponseRedirect(reverse("accounts:step_up") + "?" + query)

        # Pages other apps put before the code (re-consent to changed terms, ...): idp.interstitials.
        interstitial = interstitials.pending_interstitial(request, request.user, client)
        if interstitial is not None:
            if "none" in prompt or interstitial.url is None:
                return self.authorization_error(client, credentials, interstitial.error, interstitial.description)
            return HttpResponseRedirect(interstitials.redirect_url(interstitial, request.get_full_path()))

        scope_set = set(scopes)
        if client.first_party or (
            "consent" not in prompt and selectors.client_authorization_covers(request.user, client, scope_set)
        ):
            return self._issue(request, scopes, credentials, client)
        if "none" in prompt:
            return self.authorization_error(client, credentials, "consent_required")
        return super().get(request, *args, **kwargs)

    def _issue(self, request, scopes, credentials, client):
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, client)
        return self.redirect(uri, client)

    @staticmethod
    def _max_age(request) -> int | None:
        raw = request.GET.get("max_age")
        if raw in (None, ""):
            return None
        value = int(raw)
        if value < 0:
            raise ValueError(raw)
        return value

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        application = context.get("application")
        if application is not None:
            scopes = context.get("scopes", [])
            context["claims_preview"] = claims_registry.claims_for(self.request.user, scopes=scopes, client=application)
        return context

    # --- consent form ---------------------------------------------------------------------------
    def form_valid(self, form):
        if form.cleaned_data.get("allow"):
            client = client_get(form.cleaned_data["client_id"])
            interstitial = client and interstitials.pending_interstitial(self.request, self.request.user, client)
            if interstitial and client.redirect_uri_allowed(form.cleaned_data["redirect_uri"]):
                # Posted past a pending interstitial (it appeared after the consent page was shown):
                # the RP hears the error and starts again, and its new request shows the page.
                return self.authorization_error(client, form.cleaned_data, interstitial.error, interstitial.description)
            if client is not None:
                self._consented = (client, set(form.cleaned_data.get("scope", "").split()))
        return super().form_valid(form)

    def create_authorization_response(self, request, scopes, credentials, allow):
        """Every code carries how and when the user authenticated (auth_time, acr, amr, sid)."""
        if allow:
            consented = getattr(self, "_consented", None)
            context = account_services.authentication_context(request)
            credentials = {**credentials, **context, "sid": self._sid(request)}
            uri, headers, body, status = super().create_authorization_response(request, scopes, credentials, allow)
            if consented is not None:
                services.client_authorization_grant(user=request.user, client=consented[0], scopes=consented[1])
            return uri, headers, body, status
        return super().create_authorization_response(request, scopes, credentials, allow)

    @staticmethod
    def _sid(request) -> str:
        sid = request.session.get(SESSION_SID)
        if not sid:
            sid = secrets.token_urlsafe(16)
            request.session[SESSION_SID] = sid
        return sid

    # --- responses ---------------------------------------------------------------------------------
    def error_response(self, error, application, **kwargs):
        unknown = isinstance(error.oauthlib_error, (InvalidClientIdError, MissingClientIdError))
        return super().error_response(error, application, unknown_client=unknown, **kwargs)

    def authorization_error(self, client, credentials, error: str, description: str | None = None):
        """OIDC Core §3.1.2.6 error response to the (already validated) redirect URI."""
        uri = _with_params(
            credentials["redirect_uri"],
            error=error,
            error_description=description,
            state=credentials.get("state") or None,
        )
        return self.redirect(uri, client)

    def redirect(self, redirect_to, application):
        """RFC 9207: every authorization response, errors included, names the issuer."""
        if "iss" not in dict(parse_qsl(urlsplit(redirect_to).query)):
            redirect_to = _with_params(redirect_to, iss=oauth2_settings.oidc_issuer(self.request))
        return super().redirect(redirect_to, application)


class DiscoveryView(ConnectDiscoveryInfoView):
    """OpenID Provider metadata, with the capabilities we add to django-oauth-toolkit's."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        endpoint = self._get_endpoint_url
        data.update(
            {
                "prompt_values_supported": ["none", "login", "consent"],
                "acr_values_supported": list(account_services.ACR_LEVELS),
                "claims_parameter_supported": True,
                "request_parameter_supported": False,
                "request_uri_parameter_supported": False,
                "response_modes_supported": ["query"],
                "grant_types_supported": oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED,
                "revocation_endpoint": endpoint(request, "revoke-token", required=True),
                "introspection_endpoint": endpoint(request, "introspect", required=True),
                "device_authorization_endpoint": endpoint(request, "device-authorization", required=True),
                "ui_locales_supported": ["en", "ja"],
                "claim_types_supported": ["normal"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "revocation_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "introspection_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "authorization_response_iss_parameter_supported": True,
                "backchannel_logout_supported": True,
                "backchannel_logout_session_supported": True,
            }
        )
        response.content = json.dumps(data).encode()
        response["Content-Length"] = str(len(response.content))
        return response


class UserInfoView(BaseUserInfoView):
    """OIDC Core §5.3. Access tokens in the query string are refused (RFC 9700 §4.3.2, RFC 6750 §2.3)."""

    def dispatch(self, request, *args, **kwargs):
        if "access_token" in request.GET:
            response = JsonResponse(
                {
                    "error": "invalid_request",
                    "error_description": "Send the access token in the Authorization header.",
                },
                status=400,
            )
            response["WWW-Authenticate"] = 'Bearer error="invalid_request"'
            return response
        return super().dispatch(request, *args, **kwargs)
