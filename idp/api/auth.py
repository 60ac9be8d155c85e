"""Bearer-token authentication for our JSON APIs (RFC 6750), errors as RFC 9457 problems."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.oauth2_backends import get_oauthlib_core

from idp.api.problems import DomainError, problem_response


def _unauthorized(request, *, error: str, title, status: int = 401, scopes: Iterable[str] = ()):
    response = problem_response(status=status, code=error, title=title, request=request)
    challenge = f'Bearer error="{error}"'
    if scopes:
        challenge += f', scope="{" ".join(scopes)}"'
    response["WWW-Authenticate"] = challenge if error != "unauthorized" else "Bearer"
    return response


def _parse_json(request: HttpRequest):
    if request.method not in ("POST", "PUT", "PATCH") or not request.body:
        return None
    content_type = request.content_type or ""
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise DomainError(
            code="unsupported_media_type", title=_("Send the request body as application/json."), status=415
        )
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DomainError(code="malformed_json", title=_("The request body is not valid JSON.")) from exc
    if not isinstance(body, dict):
        raise DomainError(code="malformed_json", title=_("The request body must be a JSON object."))
    return body


def api_view(*, scopes: Iterable[str] = (), methods: Iterable[str] = ("GET",), member_only: bool = False) -> Callable:
    """Protect a JSON view with an OAuth access token holding every scope in ``scopes``.

    Sets ``request.access_token``, ``request.client``, ``request.member`` (the token's user, ``None``
    for a client-credentials token; ``request.user`` is then anonymous) and ``request.json``.
    ``member_only`` refuses tokens without a user.
    Any :class:`DomainError` raised by the view becomes a problem-details response.
    """
    required = tuple(scopes)
    allowed = {m.upper() for m in methods}

    def decorator(view: Callable) -> Callable:
        @csrf_exempt
        @never_cache
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            if request.method not in allowed:
                response = problem_response(
                    status=405, code="method_not_allowed", title=_("Method not allowed."), request=request
                )
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            if "access_token" in request.GET:
                title = _("Send the access token in the Authorization header.")
                return _unauthorized(request, error="invalid_request", status=400, title=title)
            if not request.headers.get("Authorization", "").lower().startswith("bearer "):
                return _unauthorized(request, error="unauthorized", title=_("An access token is required."))
            valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
            token = getattr(oauth_request, "access_token", None) if oauth_request is not None else None
            if not valid or token is None:
                return _unauthorized(request, error="invalid_token", title=_("The access token is not valid."))
            if not token.allow_scopes(required):
                return _unauthorized(
                    request,
                    error="insufficient_scope",
                    status=403,
                    scopes=required,
                    title=_("The access token does not carry the scope this needs."),
                )
            if member_only and token.user_id is None:
                return _unauthorized(
                    request, error="insufficient_scope", status=403, title=_("This needs a member's access token.")
                )
            request.access_token = token
            request.client = token.application
            request.member = token.user
            request.user = token.user or AnonymousUser()
            try:
                request.json = _parse_json(request)
                return view(request, *args, **kwargs)
            except DomainError as error:
                return error.response(request)

        return wrapped

    return decorator
