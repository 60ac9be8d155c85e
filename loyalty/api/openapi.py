"""The OpenAPI 3.1 description of the loyalty API.

The request schemas here are the ones the views validate against (:func:`request_schema`), and
a test checks that every route of :mod:`loyalty.api.urls` is described and every example is
valid against its schema.
"""

from __future__ import annotations

from copy import deepcopy

from accounts.services import ACR_MFA

ABSOLUTE_MAX_POINTS = 1_000_000_000  # the program's own limit (Program.max_points_per_posting) is lower

_EXAMPLE_NUMBER = "4929018374"
_EXAMPLE_ID = "7d1f3c2e-8a4b-4f6e-9c1d-2b3a4c5d6e7f"
_EXAMPLE_EARN_ID = "0a6c8f4e-1b2d-4e3f-8a9b-7c6d5e4f3a2b"

SCHEMAS: dict = {
    "EarnRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["member_number", "points"],
        "properties": {
            "member_number": {
                "type": "string",
                "pattern": "^[1-9][0-9]{9}$",
                "description": "Ten digits, the last a Luhn check digit.",
            },
            "points": {
                "type": "integer",
                "minimum": 1,
                "maximum": ABSOLUTE_MAX_POINTS,
                "description": "Whole points to credit; the program sets a lower maximum per posting.",
            },
            "reference": {"type": "string", "maxLength": 64, "description": "Your own transaction id."},
            "description": {"type": "string", "maxLength": 200, "description": "Shown on the member's statement."},
        },
    },
    "RedeemRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["points"],
        "properties": {
            "points": {"type": "integer", "minimum": 1, "maximum": ABSOLUTE_MAX_POINTS},
            "reference": {"type": "string", "maxLength": 64},
            "description": {"type": "string", "maxLength": 200},
        },
    },
    "ReversalRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["transaction_id"],
        "properties": {
            "transaction_id": {
                "type": "string",
                "format": "uuid",
                "description": "The ``id`` the earn posting returned.",
            },
            "reason": {"type": "string", "maxLength": 200},
        },
    },
    "Entry": {
        "type": "object",
        "required": ["id", "kind", "points", "balance", "member_number", "program", "created"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "kind": {"type": "string", "enum": ["earn", "redeem", "expire", "adjust", "reverse"]},
            "points": {"type": "integer", "description": "Positive for credits, negative for debits."},
            "balance": {"type": "integer", "minimum": 0, "description": "The member's balance after it."},
            "member_number": {"type": "string"},
            "program": {"type": "string"},
            "tier": {"type": ["string", "null"]},
            "reference": {"type": "string"},
            "description": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
            "reverses": {"type": ["string", "null"], "description": "For a reversal: the earn it undoes."},
            "shortfall": {
                "type": "integer",
                "minimum": 0,
                "description": "For a reversal: points already spent, owed and settled from later earnings.",
            },
        },
    },
    "Membership": {
        "type": "object",
        "required": ["program", "member_number", "balance", "tier"],
        "properties": {
            "program": {"type": "string"},
            "member_number": {"type": "string"},
            "balance": {"type": "integer", "minimum": 0},
            "owed": {"type": "integer", "minimum": 0},
            "tier": {
                "type": ["object", "null"],
                "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
            },
            "expiring_soon": {
                "type": "object",
                "properties": {
                    "points": {"type": "integer", "minimum": 0},
                    "first_date": {"type": ["string", "null"], "format": "date-time"},
                    "within_days": {"type": "integer"},
                },
            },
        },
    },
    "StatementLine": {
        "type": "object",
        "required": ["id", "kind", "points", "balance_after", "created"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "kind": {"type": "string", "enum": ["earn", "redeem", "expire", "adjust", "reverse"]},
            "points": {"type": "integer"},
            "balance_after": {"type": "integer", "minimum": 0},
            "description": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
        },
    },
    "Statement": {
        "type": "object",
        "required": ["entries"],
        "properties": {
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/StatementLine"}},
            "next": {"type": ["string", "null"], "description": "URL of the next (older) page."},
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "code": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
                },
            },
        },
    },
}


def _problem(code: str, status: int, title: str, **extra) -> dict:
    return {
        "type": f"urn:ciam:problem:{code}",
        "code": code,
        "title": title,
        "status": status,
        "instance": "/api/v1/loyalty/programs/sky/earn",
        **extra,
    }


def _problems(description: str, *examples: dict) -> dict:
    return {
        "description": description,
        "content": {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "examples": {e["code"]: {"value": e} for e in examples},
            }
        },
    }


_ENTRY_EXAMPLE = {
    "id": _EXAMPLE_EARN_ID,
    "kind": "earn",
    "points": 1200,
    "balance": 5400,
    "member_number": _EXAMPLE_NUMBER,
    "program": "sky",
    "tier": "silver",
    "reference": "ORDER-88231",
    "description": "Groceries",
    "created": "2025-05-01T09:30:00Z",
}

_IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": (
        "A unique key per posting (a UUID). Retrying with the same key and body returns the first result "
        "(with ``Idempotent-Replayed: true``); the same key with another body is refused (422)."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "5f0c1e8a-3c2b-4d7e-9f10-2a3b4c5d6e7f",
}

_PROGRAM_PARAM = {
    "name": "program",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "example": "sky",
}

_COMMON_ERRORS = {
    "400": _problems(
        "Malformed JSON or a missing Idempotency-Key.",
        _problem("malformed_json", 400, "The request body is not valid JSON."),
        _problem("idempotency_key_required", 400, "Send an Idempotency-Key header with every posting."),
    ),
    "401": _problems(
        "No or an invalid access token.", _problem("invalid_token", 401, "The access token is not valid.")
    ),
    "403": _problems(
        "The token lacks the scope, or the client does not act for this program.",
        _problem("insufficient_scope", 403, "The access token does not carry the scope this needs."),
        _problem("wrong_program", 403, "This client does not act for this program."),
    ),
    "404": _problems("Unknown program.", _problem("unknown_program", 404, "There is no such program.")),
    "415": _problems(
        "The body is not JSON.", _problem("unsupported_media_type", 415, "Send the request body as application/json.")
    ),
    "422": _problems(
        "Invalid fields, or a key reused with another body.",
        _problem(
            "validation_failed",
            422,
            "The request has invalid fields.",
            errors=[{"pointer": "/points", "detail": "Must be at least 1."}],
        ),
        _problem("idempotency_key_reused", 422, "This Idempotency-Key was already used for a different request."),
    ),
}


def _json(schema_name: str, example: dict | None = None, examples: dict | None = None) -> dict:
    content: dict = {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
    if example is not None:
        content["example"] = example
    if examples is not None:
        content["examples"] = {k: {"value": v} for k, v in examples.items()}
    return {"content": {"application/json": content}}


def _post(
    *,
    summary: str,
    description: str,
    scopes: list[str],
    scheme: str,
    request: str,
    example: dict,
    response_example: dict,
    extra_errors: dict | None = None,
    operation_id: str,
) -> dict:
    responses = {
        "201": {
            "description": "Posted (or the stored result of the same request).",
            **_json("Entry", response_example),
        },
        **deepcopy(_COMMON_ERRORS),
        **(extra_errors or {}),
    }
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": [{scheme: scopes}],
        "parameters": [_PROGRAM_PARAM, _IDEMPOTENCY_HEADER],
        "requestBody": {"required": True, **_json(request, example)},
        "responses": responses,
    }


def document(*, server_url: str = "/api/v1/loyalty") -> dict:
    """The OpenAPI 3.1 document (``server_url``: the absolute API root when a request is at hand)."""
    paths = {
        "/programs/{program}/earn": {
            "post": _post(
                operation_id="earn",
                summary="Credit points to a member (partners)",
                description="A partner's client-credentials token with `loyalty:earn`, for its own program.",
                scopes=["loyalty:earn"],
                scheme="partner",
                request="EarnRequest",
                example={
                    "member_number": _EXAMPLE_NUMBER,
                    "points": 1200,
                    "reference": "ORDER-88231",
                    "description": "Groceries",
                },
                response_example=_ENTRY_EXAMPLE,
                extra_errors={
                    "404": _problems(
                        "Unknown program or member.",
                        _problem("unknown_program", 404, "There is no such program."),
                        _problem("unknown_member", 404, "No member of this program has that number."),
                    )
                },
            )
        },
        "/programs/{program}/reversals": {
            "post": _post(
                operation_id="reverse",
                summary="Reverse an earn (a refunded purchase)",
                description=(
                    "Removes exactly the points the earn credited. Points the member has already spent are "
                    "owed (`shortfall`) and settled from their next earnings; the balance never goes below 0."
                ),
                scopes=["loyalty:reverse"],
                scheme="partner",
                request="ReversalRequest",
                example={"transaction_id": _EXAMPLE_EARN_ID, "reason": "Refund"},
                response_example={
                    **_ENTRY_EXAMPLE,
                    "id": _EXAMPLE_ID,
                    "kind": "reverse",
                    "points": -1200,
                    "balance": 4200,
                    "reverses": _EXAMPLE_EARN_ID,
                    "shortfall": 0,
                    "description": "Refund",
                },
                extra_errors={
                    "404": _problems(
                        "No earn of this client with that id.",
                        _problem("unknown_transaction", 404, "No earn transaction of yours has that id."),
                    ),
                    "409": _problems(
                        "Already reversed.",
                        _problem(
                            "already_reversed",
                            409,
                            "This transaction has already been reversed.",
                            reversal_id=_EXAMPLE_ID,
                        ),
                    ),
                },
            )
        },
        "/programs/{program}/redemptions": {
            "post": _post(
                operation_id="redeem",
                summary="Spend the member's points (RPs, with the member's token)",
                description=(
                    "A member's access token with `loyalty:redeem`, from a client of this program. Redeeming more "
                    "than the program's threshold needs a recent second factor (RFC 9470 step-up: answer a 401 "
                    f"`insufficient_user_authentication` by sending the member to /authorize with "
                    f"`acr_values={ACR_MFA}` and `max_age`). Redemptions are limited per day and held for a while "
                    "after a sign-in from a new device."
                ),
                scopes=["loyalty:redeem"],
                scheme="member",
                request="RedeemRequest",
                example={"points": 500, "reference": "CART-1192", "description": "Lounge pass"},
                response_example={
                    **_ENTRY_EXAMPLE,
                    "kind": "redeem",
                    "points": -500,
                    "balance": 4900,
                    "reference": "CART-1192",
                    "description": "Lounge pass",
                },
                extra_errors={
                    "401": _problems(
                        "No valid token, or a step-up is needed (see WWW-Authenticate).",
                        _problem("invalid_token", 401, "The access token is not valid."),
                        _problem(
                            "insufficient_user_authentication",
                            401,
                            "This redemption needs you to confirm it is you with a second factor.",
                            acr_values=ACR_MFA,
                            max_age=600,
                        ),
                    ),
                    "403": _problems(
                        "Scope, program or a hold after a new-device sign-in.",
                        _problem("insufficient_scope", 403, "The access token does not carry the scope this needs."),
                        _problem(
                            "redemption_on_hold",
                            403,
                            "Redemptions are paused for a while after a sign-in from a new device.",
                            hold_until="2025-05-02T09:30:00Z",
                        ),
                    ),
                    "404": _problems(
                        "Not a member of this program.",
                        _problem("not_a_member", 404, "You are not a member of this program."),
                    ),
                    "409": _problems(
                        "Not enough points.", _problem("insufficient_points", 409, "Not enough points.", balance=120)
                    ),
                    "429": _problems(
                        "Too many redemptions in 24 hours (see Retry-After).",
                        _problem(
                            "redemption_limit",
                            429,
                            "Too many redemptions in the last 24 hours. Try again later.",
                            retry_after=3600,
                        ),
                    ),
                },
            )
        },
        "/programs/{program}/me": {
            "get": {
                "operationId": "membership",
                "summary": "The member's number, tier, balance and points expiring soon",
                "security": [{"member": ["loyalty"]}],
                "parameters": [_PROGRAM_PARAM],
                "responses": {
                    "200": {
                        "description": "The membership.",
                        **_json(
                            "Membership",
                            {
                                "program": "sky",
                                "member_number": _EXAMPLE_NUMBER,
                                "balance": 5400,
                                "owed": 0,
                                "tier": {"code": "silver", "name": "Silver"},
                                "expiring_soon": {
                                    "points": 300,
                                    "first_date": "2025-07-01T00:00:00Z",
                                    "within_days": 90,
                                },
                            },
                        ),
                    },
                    "401": _COMMON_ERRORS["401"],
                    "403": _COMMON_ERRORS["403"],
                    "404": _problems(
                        "Unknown program, or not a member.",
                        _problem("not_a_member", 404, "You are not a member of this program."),
                    ),
                },
            }
        },
        "/programs/{program}/me/entries": {
            "get": {
                "operationId": "statement",
                "summary": "The member's statement, newest first",
                "security": [{"member": ["loyalty"]}],
                "parameters": [
                    _PROGRAM_PARAM,
                    {
                        "name": "before",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "format": "uuid"},
                        "description": "Entries older than this one.",
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "A page of entries.",
                        **_json(
                            "Statement",
                            {
                                "entries": [
                                    {
                                        "id": _EXAMPLE_EARN_ID,
                                        "kind": "earn",
                                        "points": 1200,
                                        "balance_after": 5400,
                                        "description": "Groceries",
                                        "created": "2025-05-01T09:30:00Z",
                                    }
                                ],
                                "next": None,
                            },
                        ),
                    },
                    "401": _COMMON_ERRORS["401"],
                    "403": _COMMON_ERRORS["403"],
                    "404": _problems(
                        "Unknown program, or not a member.",
                        _problem("not_a_member", 404, "You are not a member of this program."),
                    ),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1 document."}},
            }
        },
        "/docs": {
            "get": {
                "operationId": "docs",
                "summary": "This document as a web page",
                "security": [],
                "responses": {"200": {"description": "HTML."}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Loyalty API",
            "version": "1.0.0",
            "description": (
                "Points ledger of the member identity platform. Every posting needs an `Idempotency-Key`; "
                "errors are RFC 9457 problem details (`application/problem+json`)."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": deepcopy(SCHEMAS),
            "securitySchemes": {
                "partner": {
                    "type": "oauth2",
                    "description": "A partner's client-credentials token.",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/token",
                            "scopes": {
                                "loyalty:earn": "Credit points to members",
                                "loyalty:reverse": "Reverse your own earn transactions",
                            },
                        }
                    },
                },
                "member": {
                    "type": "oauth2",
                    "description": "A member's access token from the authorization-code flow.",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": "/authorize",
                            "tokenUrl": "/token",
                            "scopes": {
                                "loyalty": "Read the membership and statement",
                                "loyalty:redeem": "Spend points",
                            },
                        }
                    },
                },
            },
        },
    }


def request_schema(name: str) -> tuple[dict, dict]:
    """(schema, root) for validating a request body with :func:`loyalty.api.schema.validate`."""
    root = {"components": {"schemas": SCHEMAS}}
    return SCHEMAS[name], root


def _pretty(value) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False)


def browsable() -> dict:
    """The document flattened for the HTML page (no script: our CSP allows none from elsewhere)."""
    doc = document()
    schemas = doc["components"]["schemas"]
    operations = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            security = op.get("security") or []
            scopes = sorted({s for req in security for values in req.values() for s in values})
            schemes = sorted({name for req in security for name in req})
            request = None
            if "requestBody" in op:
                content = op["requestBody"]["content"]["application/json"]
                name = content["schema"]["$ref"].rsplit("/", 1)[1]
                request = {
                    "schema_name": name,
                    "schema": _pretty(schemas[name]),
                    "example": _pretty(content["example"]),
                }
            responses = []
            for status, resp in op["responses"].items():
                examples = []
                for media in resp.get("content", {}).values():
                    if "example" in media:
                        examples.append(_pretty(media["example"]))
                    for example in media.get("examples", {}).values():
                        examples.append(_pretty(example["value"]))
                responses.append({"status": status, "description": resp["description"], "examples": examples})
            operations.append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": op["summary"],
                    "description": op.get("description", ""),
                    "scopes": scopes,
                    "schemes": schemes,
                    "parameters": op.get("parameters", []),
                    "request": request,
                    "responses": responses,
                }
            )
    return {"operations": operations}
