"""The fixes themselves, written as they would go into idp/ (see docs/benchmarks.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import AccessToken, IDToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.signals import app_authorized
from oauth2_provider.views import TokenView

from bench.experiments.policy import cached_client
from idp.models import Client, CodeIssuance
from idp.oauth.validators import Validator
from idp.oauth.views import AuthorizeView, _prompt


def enabled(name: str) -> bool:
    """Fixes are switched at call time: bench/experiments/ab.py alternates them in one process."""
    return name in settings.FIXES


# --- signal: no AccessToken re-read when nobody listens to app_authorized ------------------------------
class FastTokenView(TokenView):
    def authorization_flow_token_response(self, request, *args, **kwargs):
        if not enabled("signal") or app_authorized.has_listeners(type(self)) or app_authorized.has_listeners():
            return super().authorization_flow_token_response(request, *args, **kwargs)
        url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for k, v in headers.items():
            response[k] = v
        return response


# --- anon_session: no session row for an anonymous /authorize unless the flag is needed ---------------
class FastAuthorizeView(AuthorizeView):
    def handle_no_permission(self):
        request = self.request
        needed = "login" in _prompt(request) or request.GET.get("max_age") or request.GET.get("id_token_hint")
        if needed or not enabled("anon_session"):
            return super().handle_no_permission()
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        if "none" in _prompt(request):
            client = Client.objects.get(client_id=credentials["client_id"])
            return self.authorization_error(client, credentials, "login_required")
        return redirect_to_login(request.get_full_path(), resolve_url(self.get_login_url()))


# --- redis: one redis.Redis per connection pool instead of one per cache call ---------------------------
class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        if not enabled("redis"):
            return super().get_client(key, write=write)
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient


# --- the validator ---------------------------------------------------------------------------------------
class FastValidator(Validator):
    def _load_application(self, client_id, request):
        if not enabled("client_cache"):
            return super()._load_application(client_id, request)
        if request.client is not None and getattr(request.client, "client_id", None) == client_id:
            return request.client
        client = cached_client(client_id)
        if client is None or not client.is_usable(request):
            return None
        request.client = client
        return client

    def _get_client_by_audience(self, audience):
        if not enabled("client_cache"):
            return super()._get_client_by_audience(audience)
        for client_id in [audience] if isinstance(audience, str) else audience:
            client = cached_client(client_id)
            if client is not None:
                return client
        return None

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        # idtoken: finalize_id_token() has just saved the IDToken and left it on the request;
        # DOT would re-parse and re-verify the JWT and look the client and the IDToken up again.
        saved = getattr(request, "id_token", None)
        if not (enabled("idtoken") and token.get("id_token") and isinstance(saved, IDToken)):
            return super()._create_access_token(expires, request, token, source_refresh_token)
        at = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=saved,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(at, token["access_token"])
        at.save()
        request.issued_access_token = at
        return at

    # savepoint: record the code redemption inside DOT's own transaction instead of wrapping
    # it in a second one (which costs a SAVEPOINT and a RELEASE on every grant).
    def save_bearer_token(self, token, request, *args, **kwargs):
        if not enabled("savepoint"):
            return super().save_bearer_token(token, request, *args, **kwargs)
        return OAuth2Validator.save_bearer_token(self, token, request, *args, **kwargs)

    def _save_bearer_token(self, token, request, *args, **kwargs):
        result = super()._save_bearer_token(token, request, *args, **kwargs)
        if enabled("savepoint"):
            issuance = getattr(request, "code_issuance", None)
            if issuance is not None:
                rt = getattr(request, "issued_refresh_token", None)
                at = getattr(request, "issued_access_token", None)
                updated = CodeIssuance.objects.filter(pk=issuance.pk, redeemed_at__isnull=True).update(
                    redeemed_at=timezone.now(),
                    token_family=rt.token_family if rt else None,
                    access_token_id=at.pk if at else None,
                )
                if not updated:
                    raise ValueError("authorization code redeemed twice")
        return result
