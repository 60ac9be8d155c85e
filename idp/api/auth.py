"""Bearer-token authentication for our JSON APIs (RFC 6750), errors as RFC 9457 problems.

The token check is our own, not oauthlib's ``verify_request``: that path copied the request's
headers and body into an oauthlib request and loaded the token joined to its whole client and
user (about 54 columns), which was some 70 % of an API request's CPU (docs/benchmarks.md). It
keeps the rules of django-oauth-toolkit's ``validate_bearer_token``, which the OAuth endpoints
(``/userinfo``, ``/introspect``) still use:

* the token comes from the ``Authorization: Bearer`` header only; one in the query string is
  refused (RFC 6750 §2.3, RFC 9700 §4.3.2) and one in a form body is never read;
* it is looked up by DOT's indexed ``token_checksum`` (SHA-256 of the token; the ``token``
  column may be redacted at rest), so an unknown, revoked (deleted) token, or one whose client
  or user was deleted (the rows cascade), is ``invalid_token``;
* expired (``now >= expires``), bound to other resources (RFC 8707, DOT's resource validator),
  or of a client that ``is_usable`` refuses: ``invalid_token``;
* a token of a deactivated account is ``invalid_token`` too (DOT does not look at the user);
* scopes: every scope the view needs, else 403 ``insufficient_scope``.

One statement (:mod:`idp.api.tokens`): the token's own columns, its client's ``client_id`` and
its user's ``is_active``; the client object comes from the per-process cache
(``idp.oauth.clients.client_get``). The user is loaded in the same statement for ``member_only``
views, and otherwise only when the view touches ``request.member``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from idp.api.problems import DomainError, problem_response
from idp.api.tokens import access_token_row
from idp.oauth.clients import client_get


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


def _bearer_token(request: HttpRequest) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (RFC 6750 §2.1), else ``None``."""
    parts = request.headers.get("Authorization", "").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


class _MemberGone(DomainError):
    """The token's user was deleted after the token was read (its tokens went with it)."""

    status = 401
    code = "invalid_token"


def _lazy_member(user_id):
    def load():
        user = get_user_model()._default_manager.filter(pk=user_id).first()
        if user is None:
            raise _MemberGone()
        return user

    return SimpleLazyObject(load)


def _valid_token(request: HttpRequest, raw: str, *, with_user: bool):
    """The access token ``raw`` names if it may be used now, with its client attached; else ``None``."""
    found = access_token_row(raw, with_user=with_user)
    if found is None:
        return None
    token, client_id, user_is_active = found
    if token.expires is None or timezone.now() >= token.expires:
        return None
    if token.user_id is not None and not user_is_active:
        return None
    if token.resource and not token.allows_audience(request.build_absolute_uri(request.path)):
        return None
    if token.application_id is None or client_id is None:
        return None  # DOT issues none without a client; such a row is not ours to honour
    client = client_get(client_id)
    if client is None or client.pk != token.application_id or not client.is_usable(request):
        return None
    token.application = client
    return token


def api_view(*, scopes: Iterable[str] = (), methods: Iterable[str] = ("GET",), member_only: bool = False) -> Callable:
    """Protect a JSON view with an OAuth access token holding every scope in ``scopes``.

    Sets ``request.access_token``, ``request.client``, ``request.member`` (the token's user, ``None``
    for a client-credentials token; ``request.user`` is then anonymous), ``request.member_id`` and
    ``request.json``. ``member_only`` refuses tokens without a user (and loads the user with the
    token; elsewhere ``request.member`` is loaded when first used).
    Any :class:`DomainError` raised by the view becomes a problem-details response.
    """
    required = frozenset(scopes)
    required_list = tuple(scopes)
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
            raw = _bearer_token(request)
            token = _valid_token(request, raw, with_user=member_only) if raw else None
            if token is None:
                return _unauthorized(request, error="invalid_token", title=_("The access token is not valid."))
            if required and not required.issubset(token.scope.split()):
                return _unauthorized(
                    request,
                    error="insufficient_scope",
                    status=403,
                    scopes=required_list,
                    title=_("The access token does not carry the scope this needs."),
                )
            if member_only and token.user_id is None:
                return _unauthorized(
                    request, error="insufficient_scope", status=403, title=_("This needs a member's access token.")
                )
            request.access_token = token
            request.client = token.application
            request.member_id = token.user_id
            if token.user_id is None:
                request.member = None
            elif member_only:
                request.member = token.user
            else:
                request.member = _lazy_member(token.user_id)
            request.user = AnonymousUser() if request.member is None else request.member
            try:
                request.json = _parse_json(request)
                return view(request, *args, **kwargs)
            except _MemberGone:
                return _unauthorized(request, error="invalid_token", title=_("The access token is not valid."))
            except DomainError as error:
                return error.response(request)

        return wrapped

    return decorator
