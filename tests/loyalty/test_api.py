"""The loyalty JSON API: partners earn and reverse, members redeem and read; every error a problem."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import SecurityEvent
from accounts.services import ACR_MFA, ACR_PASSWORD
from loyalty import services
from loyalty.app_settings import loyalty_settings
from loyalty.models import IdempotencyRecord, LedgerEntry
from tests.conftest import exchange, get_code, id_token_claims, login, make_client
from tests.loyalty.conftest import API, make_program, member_token, new_key, post, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def rp_of_program(program):
    from loyalty.models import ProgramClient

    app, secret = make_client(name="Sky shop")
    ProgramClient.objects.create(program=program, client=app)
    return app, secret


def earn_body(membership, points=100, **extra):
    return {"member_number": membership.member_number, "points": points, **extra}


def assert_problem(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.content[:500]
    assert resp["Content-Type"] == "application/problem+json"
    body = resp.json()
    assert body["code"] == code and body["status"] == status and body["type"] == f"urn:ciam:problem:{code}"
    assert body["title"]
    return body


def test_a_partner_earns_for_a_member(client, program, partner, membership):
    _app, token = partner
    resp = post(client, "/programs/sky/earn", earn_body(membership, 1200, reference="ORDER-1"), token=token, key="k-1")
    assert resp.status_code == 201
    body = resp.json()
    assert body["points"] == 1200 and body["balance"] == 1200 and body["kind"] == "earn"
    assert body["member_number"] == membership.member_number and body["reference"] == "ORDER-1"
    assert resp["Cache-Control"].startswith("max-age=0") or "no-store" in resp["Cache-Control"]


def test_a_retry_gets_the_same_answer_and_a_reused_key_a_problem(client, program, partner, membership):
    _app, token = partner
    first = post(client, "/programs/sky/earn", earn_body(membership, 100), token=token, key="same")
    # Same JSON, other key order and spacing: the same request.
    raw = '{ "points": 100,  "member_number": "' + membership.member_number + '" }'
    again = post(client, "/programs/sky/earn", raw, token=token, key="same", raw=True)
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    other = post(client, "/programs/sky/earn", earn_body(membership, 101), token=token, key="same")
    assert_problem(other, 422, "idempotency_key_reused")
    assert LedgerEntry.objects.count() == 1


BAD_EARNS = [
    # (description, body or raw text, expected status, code, pointer)
    ("negative points", {"points": -5}, 422, "validation_failed", "/points"),
    ("zero points", {"points": 0}, 422, "validation_failed", "/points"),
    ("absurd points", {"points": 10**12}, 422, "validation_failed", "/points"),
    ("above the program's limit", {"points": 1_000_001}, 422, "validation_failed", "/points"),
    ("fractional points", {"points": 1.5}, 422, "validation_failed", "/points"),
    ("points as text", {"points": "100"}, 422, "validation_failed", "/points"),
    ("points as a boolean", {"points": True}, 422, "validation_failed", "/points"),
    ("missing points", {"points": None}, 422, "validation_failed", "/points"),
    ("a typo in the member number", {"member_number": "typo"}, 422, "validation_failed", "/member_number"),
    ("an unknown field", {"pints": 5}, 422, "validation_failed", "/pints"),
    ("a long reference", {"reference": "x" * 65}, 422, "validation_failed", "/reference"),
]


@pytest.mark.parametrize(("what", "change", "status", "code", "pointer"), BAD_EARNS, ids=[b[0] for b in BAD_EARNS])
def test_bad_earn_fields_are_problems_and_post_nothing(
    client, program, partner, membership, what, change, status, code, pointer
):
    _app, token = partner
    body = earn_body(membership, 100)
    body.update(change)
    if change.get("member_number") == "typo":  # a valid-looking number with a wrong check digit
        n = membership.member_number
        body["member_number"] = n[:-1] + str((int(n[-1]) + 1) % 10)
    body = {k: v for k, v in body.items() if v is not None}
    problem = assert_problem(post(client, "/programs/sky/earn", body, token=token, key=new_key()), status, code)
    assert pointer in [e["pointer"] for e in problem["errors"]]
    assert LedgerEntry.objects.count() == 0 and IdempotencyRecord.objects.count() == 0


def test_unknown_member_wrong_program_and_malformed_json_are_problems(client, program, partner, membership):
    _app, token = partner
    other_program = make_program("rail")
    from loyalty.numbers import luhn_check_digit

    stranger = "9" * 9
    stranger += luhn_check_digit(stranger)
    cases = [
        (
            post(
                client,
                "/programs/sky/earn",
                earn_body(membership) | {"member_number": stranger},
                token=token,
                key=new_key(),
            ),
            404,
            "unknown_member",
        ),
        (post(client, "/programs/rail/earn", earn_body(membership), token=token, key=new_key()), 403, "wrong_program"),
        (
            post(client, "/programs/nope/earn", earn_body(membership), token=token, key=new_key()),
            404,
            "unknown_program",
        ),
        (
            post(client, "/programs/sky/earn", '{"points": 1,', token=token, key=new_key(), raw=True),
            400,
            "malformed_json",
        ),
        (post(client, "/programs/sky/earn", "[1]", token=token, key=new_key(), raw=True), 400, "malformed_json"),
        (post(client, "/programs/sky/earn", earn_body(membership), token=token), 400, "idempotency_key_required"),
        (
            post(client, "/programs/sky/earn", earn_body(membership), token=token, key="x" * 256),
            400,
            "idempotency_key_required",
        ),
        (
            client.post(
                API + "/programs/sky/earn",
                "points=1",
                content_type="application/x-www-form-urlencoded",
                HTTP_AUTHORIZATION=f"Bearer {token}",
                HTTP_IDEMPOTENCY_KEY="k",
            ),
            415,
            "unsupported_media_type",
        ),
        (client.get(API + "/programs/sky/earn", HTTP_AUTHORIZATION=f"Bearer {token}"), 405, "method_not_allowed"),
    ]
    for resp, status, code in cases:
        assert_problem(resp, status, code)
    # A member of the other program is unknown in this one.
    other_member = services.membership_join(user=membership.user, program=other_program)
    assert_problem(
        post(client, "/programs/sky/earn", earn_body(other_member), token=token, key=new_key()), 404, "unknown_member"
    )
    assert LedgerEntry.objects.count() == 0


def test_missing_or_wrong_scope_and_token_kinds_are_problems(client, member, program, partner, membership):
    app, _token = partner
    read_only = token_for(None, app, scope="loyalty:reverse")
    resp = post(client, "/programs/sky/earn", earn_body(membership), token=read_only, key=new_key())
    problem = assert_problem(resp, 403, "insufficient_scope")
    assert resp["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="loyalty:earn"'
    assert problem["status"] == 403
    assert_problem(post(client, "/programs/sky/earn", earn_body(membership), key=new_key()), 401, "unauthorized")
    assert_problem(
        post(client, "/programs/sky/earn", earn_body(membership), token="nope", key=new_key()), 401, "invalid_token"
    )
    # A member's token may not credit points, even with the scope.
    members = token_for(member, app, scope="loyalty:earn")
    assert_problem(
        post(client, "/programs/sky/earn", earn_body(membership), token=members, key=new_key()),
        403,
        "partner_token_required",
    )
    # A client that is no partner of any program.
    loner, _ = make_client(authorization_grant_type="client-credentials")
    assert_problem(
        post(
            client,
            "/programs/sky/earn",
            earn_body(membership),
            token=token_for(None, loner, scope="loyalty:earn"),
            key=new_key(),
        ),
        403,
        "wrong_program",
    )
    assert LedgerEntry.objects.count() == 0


def test_a_partner_reverses_a_refunded_purchase(client, program, partner, membership):
    _app, token = partner
    earned = post(client, "/programs/sky/earn", earn_body(membership, 700), token=token, key="buy").json()
    body = {"transaction_id": earned["id"], "reason": "Refund"}
    resp = post(client, "/programs/sky/reversals", body, token=token, key="refund")
    assert resp.status_code == 201
    assert resp.json()["points"] == -700 and resp.json()["reverses"] == earned["id"]
    assert post(client, "/programs/sky/reversals", body, token=token, key="refund").json() == resp.json()
    assert_problem(post(client, "/programs/sky/reversals", body, token=token, key="refund-2"), 409, "already_reversed")
    assert_problem(
        post(client, "/programs/sky/reversals", {"transaction_id": "not-a-uuid"}, token=token, key=new_key()),
        422,
        "validation_failed",
    )
    assert_problem(
        post(
            client,
            "/programs/sky/reversals",
            {"transaction_id": "7d1f3c2e-8a4b-4f6e-9c1d-2b3a4c5d6e7f"},
            token=token,
            key=new_key(),
        ),
        404,
        "unknown_transaction",
    )


@pytest.fixture
def funded(program, partner, membership):
    from tests.loyalty.conftest import earn

    earn(program, membership, 50_000, client=partner[0])
    return membership


def test_a_member_redeems_through_an_rp(client, member, program, rp_of_program, funded):
    app, _ = rp_of_program
    token = member_token(member, app, acr=ACR_PASSWORD)
    resp = post(client, "/programs/sky/redemptions", {"points": 500, "description": "Lounge"}, token=token, key="r1")
    assert resp.status_code == 201 and resp.json()["balance"] == 49_500
    assert_problem(
        post(client, "/programs/sky/redemptions", {"points": 60_000}, token=token, key="r2"),
        401,
        "insufficient_user_authentication",
    )
    no_scope = member_token(member, app, scope="openid loyalty", acr=ACR_PASSWORD)
    assert_problem(
        post(client, "/programs/sky/redemptions", {"points": 5}, token=no_scope, key="r3"), 403, "insufficient_scope"
    )


@pytest.mark.spec("RFC 9470 §3")
def test_large_redemptions_need_a_recent_second_factor(client, member, program, rp_of_program, funded):
    app, _ = rp_of_program
    big = {"points": program.redeem_step_up_threshold + 1}
    weak = member_token(member, app, acr=ACR_PASSWORD)
    resp = post(client, "/programs/sky/redemptions", big, token=weak, key=new_key())
    problem = assert_problem(resp, 401, "insufficient_user_authentication")
    challenge = resp["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="insufficient_user_authentication"')
    assert f'acr_values="{ACR_MFA}"' in challenge and f"max_age={loyalty_settings.STEP_UP_MAX_AGE}" in challenge
    assert problem["acr_values"] == ACR_MFA

    stale = member_token(member, app, acr=ACR_MFA, auth_age=loyalty_settings.STEP_UP_MAX_AGE + 60)
    assert_problem(
        post(client, "/programs/sky/redemptions", big, token=stale, key=new_key()),
        401,
        "insufficient_user_authentication",
    )
    fresh = member_token(member, app, acr=ACR_MFA, auth_age=30)
    resp = post(client, "/programs/sky/redemptions", big, token=fresh, key=new_key())
    assert resp.status_code == 201
    assert LedgerEntry.objects.filter(kind="redeem").count() == 1


def test_redemptions_are_held_after_a_sign_in_from_a_new_device(client, member, program, rp_of_program, funded):
    app, _ = rp_of_program
    token = member_token(member, app, acr=ACR_MFA)
    event = SecurityEvent.objects.create(user=member, kind=SecurityEvent.Kind.NEW_DEVICE)
    problem = assert_problem(
        post(client, "/programs/sky/redemptions", {"points": 10}, token=token, key=new_key()), 403, "redemption_on_hold"
    )
    assert problem["hold_until"]
    # After the hold the same member redeems.
    SecurityEvent.objects.filter(pk=event.pk).update(
        created=timezone.now() - timedelta(seconds=loyalty_settings.NEW_DEVICE_HOLD_SECONDS + 1)
    )
    assert post(client, "/programs/sky/redemptions", {"points": 10}, token=token, key=new_key()).status_code == 201


def test_redemptions_are_limited_per_day(client, member, program, rp_of_program, funded):
    app, _ = rp_of_program
    program.redeem_max_per_day = 3
    program.save()
    token = member_token(member, app, acr=ACR_MFA)
    for _ in range(3):
        assert post(client, "/programs/sky/redemptions", {"points": 10}, token=token, key=new_key()).status_code == 201
    resp = post(client, "/programs/sky/redemptions", {"points": 10}, token=token, key=new_key())
    assert_problem(resp, 429, "redemption_limit")
    assert 0 < int(resp["Retry-After"]) <= 86400
    program.redeem_max_per_day = 0
    program.redeem_max_points_per_day = 100
    program.save()
    assert_problem(
        post(client, "/programs/sky/redemptions", {"points": 71}, token=token, key=new_key()), 429, "redemption_limit"
    )
    assert post(client, "/programs/sky/redemptions", {"points": 70}, token=token, key=new_key()).status_code == 201


def test_an_rp_of_another_program_cannot_redeem(client, member, program, funded):
    from loyalty.models import ProgramClient

    app, _ = make_client(name="Rail shop")
    ProgramClient.objects.create(program=make_program("rail"), client=app)
    token = member_token(member, app, acr=ACR_MFA)
    assert_problem(
        post(client, "/programs/sky/redemptions", {"points": 10}, token=token, key=new_key()), 403, "wrong_program"
    )


def test_the_member_reads_balance_and_statement(client, member, program, rp_of_program, funded):
    app, _ = rp_of_program
    token = member_token(member, app, acr=ACR_MFA)
    for i in range(3):
        post(client, "/programs/sky/redemptions", {"points": 10 + i}, token=token, key=f"s{i}")
    me = client.get(API + "/programs/sky/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert me["balance"] == 50_000 - 33 and me["member_number"] == funded.member_number
    assert me["tier"] == {"code": "gold", "name": "Gold"}
    assert me["expiring_soon"]["points"] == 0
    page = client.get(API + "/programs/sky/me/entries?limit=2", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert [e["points"] for e in page["entries"]] == [-12, -11]
    rest = client.get(page["next"], HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert [e["points"] for e in rest["entries"]] == [-10, 50_000] and rest["next"] is None
    bad = client.get(API + "/programs/sky/me/entries?limit=0", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_problem(bad, 422, "validation_failed")
    stranger = make_program("rail")
    assert_problem(
        client.get(API + f"/programs/{stranger.slug}/me", HTTP_AUTHORIZATION=f"Bearer {token}"), 404, "not_a_member"
    )


@pytest.mark.spec("OIDC Core §5.1")
def test_rps_with_the_loyalty_scope_get_member_number_tier_and_balance(client, member, program, rp_of_program, funded):
    app, secret = rp_of_program
    login(client, member)
    code, verifier = get_code(client, app, scope="openid loyalty")
    tokens = exchange(client, app, secret, code, verifier).json()
    claims = id_token_claims(client, tokens["id_token"])
    assert claims["member_number"] == funded.member_number
    assert claims["loyalty_tier"] == "gold" and claims["loyalty_balance"] == 50_000
    assert claims["loyalty_program"] == "sky"
    info = client.get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()
    assert info["member_number"] == funded.member_number
    # Without the scope, nothing about loyalty.
    code, verifier = get_code(client, app, scope="openid")
    claims = id_token_claims(client, exchange(client, app, secret, code, verifier).json()["id_token"])
    assert "member_number" not in claims
    # A real token of a password sign-in: small redemptions pass, large ones ask for a step-up.
    code, verifier = get_code(client, app, scope="openid loyalty loyalty:redeem")
    token = exchange(client, app, secret, code, verifier).json()["access_token"]
    assert post(client, "/programs/sky/redemptions", {"points": 5}, token=token, key=new_key()).status_code == 201
    big = {"points": program.redeem_step_up_threshold + 1}
    assert_problem(
        post(client, "/programs/sky/redemptions", big, token=token, key=new_key()),
        401,
        "insufficient_user_authentication",
    )
