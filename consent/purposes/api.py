"""The consent API for apps and devices (mobile apps, in-store kiosks, vending machines) and the
audience API for marketing systems. JSON in and out, errors as RFC 9457 problem details.

Member endpoints take a member's access token (``consents`` to read, ``consents:write`` to change):

* ``GET  /api/v1/consents``                  current state of every purpose offered to the member
* ``POST /api/v1/consents``                  ``{"consents": {"<code>": true|false, ...}, "channel"?, "language"?}``
* ``PUT  /api/v1/consents/purposes/<code>``  ``{"granted": true|false, "channel"?, "language"?}``
* ``GET  /api/v1/consents/history``          the member's records, newest first, ``?cursor=`` to page

Writes are idempotent: a purpose already in the asked state gets no record. The collection channel
is the body's ``channel`` (app, kiosk, device, web, api) or else the client's
(``CONSENT_CLIENT_CHANNELS``, then device grant → device, public client → app, else api).

``GET /api/v1/consents/audience?purpose=<code>&channel=<email|sms|phone|push>&limit=&cursor=`` takes a
client-credentials token with ``consents:audience``, for a client whose allowed scopes name
``consents:audience`` explicitly; it pages through the contactable members by an opaque cursor.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt

from consent.models import ConsentRecord, Purpose
from consent.purposes import selectors, services
from consent.purposes.app_settings import app_settings
from idp.api import DomainError, api_view, problem_response

Channel = ConsentRecord.Channel
API_CHANNELS = (Channel.APP, Channel.KIOSK, Channel.DEVICE, Channel.WEB, Channel.API)
AUDIENCE_SCOPE = "consents:audience"
CURSOR_SALT = "consent.purposes.cursor"


# --- helpers -----------------------------------------------------------------------------------------


def cursor_make(*, kind: str, after: int, **bound) -> str:
    return signing.dumps({"k": kind, "a": after, **bound}, salt=CURSOR_SALT)


def cursor_read(raw: str, *, kind: str, **bound) -> int:
    """The position in a cursor we issued for the same listing, or a 400 problem."""
    try:
        data = signing.loads(raw, salt=CURSOR_SALT, max_age=app_settings.CURSOR_MAX_AGE)
    except signing.BadSignature as exc:
        raise DomainError(code="invalid_cursor", title=_("The cursor is not valid or has expired.")) from exc
    if not isinstance(data, dict) or data.get("k") != kind or not isinstance(data.get("a"), int):
        raise DomainError(code="invalid_cursor", title=_("The cursor is not valid or has expired."))
    if any(data.get(key) != value for key, value in bound.items()):
        raise DomainError(code="invalid_cursor", title=_("The cursor belongs to another listing."))
    return data["a"]


def default_channel(client) -> str:
    mapped = app_settings.CLIENT_CHANNELS.get(client.client_id)
    if mapped in Channel.values:
        return mapped
    if client.authorization_grant_type == client.GRANT_DEVICE_CODE:
        return Channel.DEVICE
    if client.client_type == client.CLIENT_PUBLIC:
        return Channel.APP
    return Channel.API


def _channel(request: HttpRequest) -> str:
    channel = (request.json or {}).get("channel")
    if channel is None:
        return default_channel(request.client)
    if channel not in API_CHANNELS:
        raise DomainError(
            code="invalid_channel",
            title=_("Unknown channel."),
            field="channel",
            allowed=[str(c) for c in API_CHANNELS],
        )
    return channel


def _language(request: HttpRequest) -> str:
    language = (request.json or {}).get("language") if request.method != "GET" else request.GET.get("language")
    if language is None:
        return request.LANGUAGE_CODE
    codes = {code for code, _name in settings.LANGUAGES}
    if not isinstance(language, str) or language.lower() not in codes:
        raise DomainError(code="invalid_language", title=_("Unknown language."), field="language")
    return language.lower()


def _purpose_json(purpose: Purpose, text, state) -> dict:
    return {
        "code": purpose.code,
        "category": purpose.category,
        "contact_channel": purpose.contact_channel or None,
        "name": text.name if text else purpose.code,
        "description": text.description if text else "",
        "language": text.language if text else None,
        "version": text.version if text else None,
        "active": purpose.is_active,
        "granted": bool(state and state.granted),
        "since": state.since.isoformat() if state else None,
    }


def _record_json(record: ConsentRecord) -> dict:
    return {
        "id": str(record.uuid),
        "purpose": record.purpose.code,
        "granted": record.granted,
        "at": record.created.isoformat(),
        "channel": record.channel,
        "client_id": record.client_id or None,
        "language": record.language or None,
        "version": record.text.version if record.text_id else None,
    }


def _state_json(request: HttpRequest, *, language: str, recorded=None) -> dict:
    user = request.member
    purposes = selectors.purposes_offered(
        user=user, brand=request.GET.get("brand") or None, region=request.GET.get("region") or None
    )
    texts = selectors.texts_for(purposes, language=language)
    states = selectors.consent_states(user=user)
    body = {
        "sub": str(user.sub),
        "consents": selectors.granted_codes(user=user),
        "purposes": [_purpose_json(p, texts.get(p.pk), states.get(p.pk)) for p in purposes],
    }
    if recorded is not None:
        body["recorded"] = [_record_json(r) for r in recorded]
    return body


def _change(request: HttpRequest, changes: dict) -> JsonResponse:
    language = _language(request)
    records = services.consent_change(
        user=request.member,
        changes=changes,
        channel=_channel(request),
        client=request.client,
        request=request,
        language=language,
    )
    return JsonResponse(_state_json(request, language=language, recorded=records))


def _method_not_allowed(request: HttpRequest, allowed: str):
    response = problem_response(status=405, code="method_not_allowed", title=_("Method not allowed."), request=request)
    response["Allow"] = allowed
    return response


# --- member endpoints --------------------------------------------------------------------------------


@api_view(methods=["GET"], scopes=["consents"], member_only=True)
def consents_read(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_state_json(request, language=_language(request)))


@api_view(methods=["POST"], scopes=["consents:write"], member_only=True)
def consents_write(request: HttpRequest) -> JsonResponse:
    body = request.json
    if body is None:
        raise DomainError(code="invalid_request", title=_("Send a JSON object."), field="consents")
    changes = body.get("consents")
    if not isinstance(changes, dict) or not changes:
        raise DomainError(
            code="invalid_request",
            title=_('Name the purposes to change: {"consents": {"<purpose>": true or false}}.'),
            field="consents",
        )
    return _change(request, changes)


@csrf_exempt
def consents(request: HttpRequest):
    if request.method == "GET":
        return consents_read(request)
    if request.method == "POST":
        return consents_write(request)
    return _method_not_allowed(request, "GET, POST")


@api_view(methods=["PUT"], scopes=["consents:write"], member_only=True)
def consent_put(request: HttpRequest, code: str) -> JsonResponse:
    if not Purpose.objects.filter(code=code).exists():
        raise DomainError(code="unknown_purpose", title=_("There is no such purpose."), status=404, purpose=code)
    granted = (request.json or {}).get("granted")
    if not isinstance(granted, bool):
        raise DomainError(code="invalid_value", title=_('"granted" must be true or false.'), field="granted")
    return _change(request, {code: granted})


@api_view(methods=["GET"], scopes=["consents"], member_only=True)
def consent_history(request: HttpRequest) -> JsonResponse:
    user = request.member
    size = app_settings.HISTORY_PAGE_SIZE
    records = selectors.consent_history(user=user)
    raw = request.GET.get("cursor")
    if raw:
        records = records.filter(id__lt=cursor_read(raw, kind="history", u=user.pk))
    page = list(records[: size + 1])
    more = len(page) > size
    page = page[:size]
    return JsonResponse(
        {
            "records": [_record_json(r) for r in page],
            "next_cursor": cursor_make(kind="history", after=page[-1].pk, u=user.pk) if more else None,
        }
    )


# --- audience -----------------------------------------------------------------------------------------


def _limit(raw: str | None) -> int:
    if raw is None:
        return min(app_settings.AUDIENCE_PAGE_SIZE, app_settings.AUDIENCE_MAX_PAGE_SIZE)
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= app_settings.AUDIENCE_MAX_PAGE_SIZE:
        raise DomainError(
            code="invalid_limit",
            title=_("The limit is out of range."),
            field="limit",
            maximum=app_settings.AUDIENCE_MAX_PAGE_SIZE,
        )
    return limit


@api_view(methods=["GET"], scopes=[AUDIENCE_SCOPE])
def audience(request: HttpRequest) -> JsonResponse:
    if request.member is not None:
        raise DomainError(
            code="client_credentials_required",
            title=_("Audiences are for service clients (client credentials), not member tokens."),
            status=403,
        )
    if AUDIENCE_SCOPE not in (request.client.allowed_scope_set or set()):
        raise DomainError(
            code="audience_not_allowed",
            title=_("This client is not allowed to read audiences: list consents:audience in its allowed scopes."),
            status=403,
        )
    code = request.GET.get("purpose")
    if not code:
        raise DomainError(code="invalid_request", title=_("Name the purpose."), field="purpose")
    purpose, channel = selectors.audience_purpose(code=code, channel=request.GET.get("channel"))
    limit = _limit(request.GET.get("limit"))
    raw = request.GET.get("cursor")
    after = cursor_read(raw, kind="audience", p=purpose.code, c=channel) if raw else 0
    page, next_after = selectors.audience_page(purpose=purpose, channel=channel, after=after, limit=limit)
    if not raw:
        # One audit event per export (its first page): later pages need the cursor it issued.
        services.audience_export_record(purpose=purpose, channel=channel, client=request.client)
    next_cursor = (
        cursor_make(kind="audience", after=next_after, p=purpose.code, c=channel) if next_after is not None else None
    )
    response = JsonResponse(
        {
            "purpose": purpose.code,
            "channel": channel or None,
            "members": [m.as_dict() for m in page],
            "next_cursor": next_cursor,
        }
    )
    if next_cursor:
        query = request.GET.copy()
        query["cursor"] = next_cursor
        response["Link"] = f'<{request.build_absolute_uri(request.path)}?{query.urlencode()}>; rel="next"'
    return response
