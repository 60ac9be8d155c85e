"""JSON endpoints of the loyalty API. Thin: unpack, check the caller's program, call a service."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from idp.api import api_view
from loyalty import errors, selectors, services
from loyalty.api import openapi
from loyalty.api.schema import validate
from loyalty.app_settings import loyalty_settings
from loyalty.models import Program
from loyalty.numbers import is_valid_member_number


def _program(slug: str) -> Program:
    program = selectors.program_by_slug(slug)
    if program is None:
        raise errors.unknown_program()
    return program


def _own_program(request: HttpRequest, slug: str) -> Program:
    """The program in the path, which must be the one the calling client acts for."""
    program = selectors.program_of_client(request.client)
    if program is not None and program.slug == slug:
        return program
    _program(slug)  # 404 for a program that does not exist
    raise errors.wrong_program()


def _partner_only(request: HttpRequest) -> None:
    if request.member is not None:
        raise errors.LoyaltyError(
            code="partner_token_required",
            title=_("This needs a partner's client-credentials token, not a member's."),
            status=403,
        )


def _idempotency_key(request: HttpRequest) -> str:
    """The ``Idempotency-Key`` header (draft-ietf-httpapi-idempotency-key-header): a string, quoted or not."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
        raise errors.idempotency_key_required()
    return key


def _body(request: HttpRequest, schema_name: str, program: Program) -> dict:
    body = request.json if request.json is not None else {}
    schema, root = openapi.request_schema(schema_name)
    problems = validate(body, schema, root=root)
    if not problems:
        points = body.get("points")
        if points is not None and points > program.max_points_per_posting:
            problems.append(
                {
                    "pointer": "/points",
                    "detail": _("Must be at most %(max)s in this program.") % {"max": program.max_points_per_posting},
                }
            )
        number = body.get("member_number")
        if number is not None and not is_valid_member_number(number):
            problems.append({"pointer": "/member_number", "detail": _("Not a valid member number (check digit).")})
    if problems:
        raise errors.ValidationFailed(problems)
    return body


def _answer(posting: services.Posting) -> JsonResponse:
    response = JsonResponse(posting.body, status=posting.status)
    if posting.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@api_view(methods=["POST"], scopes=["loyalty:earn"])
def earn(request: HttpRequest, program: str) -> JsonResponse:
    _partner_only(request)
    prog = _own_program(request, program)
    key = _idempotency_key(request)
    body = _body(request, "EarnRequest", prog)
    posting = services.points_earn(
        program=prog,
        client=request.client,
        member_number=body["member_number"],
        points=body["points"],
        reference=body.get("reference", ""),
        description=body.get("description", ""),
        idempotency_key=key,
        fingerprint=services.request_hash("earn", body),
    )
    return _answer(posting)


@api_view(methods=["POST"], scopes=["loyalty:reverse"])
def reversal(request: HttpRequest, program: str) -> JsonResponse:
    _partner_only(request)
    prog = _own_program(request, program)
    key = _idempotency_key(request)
    body = _body(request, "ReversalRequest", prog)
    posting = services.earn_reverse(
        program=prog,
        client=request.client,
        transaction_id=body["transaction_id"],
        reason=body.get("reason", ""),
        idempotency_key=key,
        fingerprint=services.request_hash("reverse", body),
    )
    return _answer(posting)


@api_view(methods=["POST"], scopes=["loyalty:redeem"], member_only=True)
def redemption(request: HttpRequest, program: str) -> JsonResponse:
    prog = _own_program(request, program)
    key = _idempotency_key(request)
    body = _body(request, "RedeemRequest", prog)
    auth = None
    if body["points"] > prog.redeem_step_up_threshold:
        auth = selectors.token_auth_context(request.access_token)
    posting = services.points_redeem(
        program=prog,
        user=request.member,
        client=request.client,
        points=body["points"],
        reference=body.get("reference", ""),
        description=body.get("description", ""),
        idempotency_key=key,
        fingerprint=services.request_hash("redeem", body),
        auth=auth,
    )
    return _answer(posting)


@api_view(methods=["GET"], scopes=["loyalty"], member_only=True)
def me(request: HttpRequest, program: str) -> JsonResponse:
    prog = _program(program)
    row = selectors.balance_of(user=request.member, program=prog)
    if row is None:
        raise errors.not_a_member()
    body = {
        "program": prog.slug,
        "member_number": row["member_number"],
        "balance": row["balance"],
        "owed": row["debt"],
        "tier": {"code": row["tier__code"], "name": row["tier__name"]} if row["tier__code"] else None,
    }
    if request.GET.get("expiring", "1") != "0":
        soon = selectors.expiring_soon_of(membership_id=row["id"])
        body["expiring_soon"] = {
            "points": soon.points,
            "first_date": _iso(soon.first_date),
            "within_days": loyalty_settings.EXPIRING_SOON_DAYS,
        }
    return JsonResponse(body)


@api_view(methods=["GET"], scopes=["loyalty"], member_only=True)
def entries(request: HttpRequest, program: str) -> JsonResponse:
    prog = _program(program)
    membership = selectors.membership_of(user=request.member, program=prog)
    if membership is None:
        raise errors.not_a_member()
    params = {k: v for k, v in request.GET.items() if k in ("before", "limit")}
    if "limit" in params:
        params["limit"] = int(params["limit"]) if params["limit"].isdigit() else params["limit"]
    problems = validate(
        params,
        {
            "type": "object",
            "properties": {
                "before": {"type": "string", "format": "uuid"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 200},
            },
        },
    )
    if problems:
        raise errors.ValidationFailed(problems)
    limit = params.get("limit", 50)
    before_id = None
    if "before" in params:
        before_id = selectors.entry_id_of(membership=membership, uuid=params["before"])
        if before_id is None:
            raise errors.ValidationFailed([{"pointer": "/before", "detail": _("No such entry on your statement.")}])
    rows = selectors.statement(membership, limit=limit + 1, before_id=before_id)
    page, more = rows[:limit], len(rows) > limit
    nxt = None
    if more:
        nxt = request.build_absolute_uri(
            reverse("loyalty_api:entries", args=[prog.slug]) + f"?before={page[-1].uuid}&limit={limit}"
        )
    return JsonResponse(
        {
            "entries": [
                {
                    "id": str(e.uuid),
                    "kind": e.kind,
                    "points": e.points,
                    "balance_after": e.balance_after,
                    "description": e.description,
                    "created": _iso(e.created),
                }
                for e in page
            ],
            "next": nxt,
        }
    )


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    root = request.build_absolute_uri(reverse("loyalty_api:openapi")).rsplit("/", 1)[0]
    response = JsonResponse(openapi.document(server_url=root), json_dumps_params={"indent": 2})
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def docs(request: HttpRequest):
    return render(request, "loyalty/api_docs.html", {"doc": openapi.document(), **openapi.browsable()})
