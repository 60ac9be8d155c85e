"""Fixtures for the loyalty app: a program with tiers, a partner client, members and their tokens."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from idp.models import Client, CodeIssuance
from loyalty import services
from loyalty.models import Program, ProgramClient, Tier
from tests.conftest import make_client

API = "/api/v1/loyalty"


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def make_program(slug: str = "sky", **fields) -> Program:
    program = Program.objects.create(slug=slug, name=fields.pop("name", slug.title() + " Miles"), **fields)
    Tier.objects.create(program=program, code="blue", name="Blue", min_points=0)
    Tier.objects.create(program=program, code="silver", name="Silver", min_points=10_000)
    Tier.objects.create(program=program, code="gold", name="Gold", min_points=50_000)
    return program


def make_partner(program: Program, *, scope: str = "loyalty:earn loyalty:reverse", **client_fields):
    client, secret = make_client(
        authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
        name=client_fields.pop("name", "Card partner"),
        **client_fields,
    )
    ProgramClient.objects.create(program=program, client=client)
    return client, token_for(None, client, scope=scope)


def token_for(user, client, *, scope: str, expires_in: int = 3600) -> str:
    return _token(user, client, scope=scope, expires_in=expires_in)[0]


def _token(user, client, *, scope: str, expires_in: int = 3600):
    raw = secrets.token_urlsafe(32)
    token = get_access_token_model().objects.create(
        user=user, application=client, token=raw, scope=scope, expires=timezone.now() + timedelta(seconds=expires_in)
    )
    return raw, token


def member_token(user, client, *, scope: str = "openid loyalty loyalty:redeem", acr: str, auth_age: int = 0) -> str:
    """A member's access token as the token endpoint issues it, with its authentication context."""
    raw, token = _token(user, client, scope=scope)
    CodeIssuance.objects.create(
        code_hash=secrets.token_hex(32),
        client=client,
        user=user,
        auth_time=timezone.now() - timedelta(seconds=auth_age),
        acr=acr,
        amr=["pwd", "otp", "mfa"] if acr.endswith("mfa") else ["pwd"],
        redeemed_at=timezone.now(),
        access_token_id=token.pk,
    )
    return raw


def post(client, path: str, body, *, token: str | None = None, key: str | None = None, raw: bool = False):
    headers = {}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    data = body if raw else json.dumps(body)
    return client.post(API + path, data=data, content_type="application/json", **headers)


def new_key() -> str:
    return str(uuid.uuid4())


def earn(program, membership, points: int, *, client, key: str | None = None, now=None, reference: str = ""):
    body = {"member_number": membership.member_number, "points": points, "reference": reference}
    return services.points_earn(
        program=program,
        client=client,
        member_number=membership.member_number,
        points=points,
        reference=reference,
        idempotency_key=key or new_key(),
        fingerprint=services.request_hash("earn", body),
        now=now,
    )


@pytest.fixture
def program(db) -> Program:
    return make_program()


@pytest.fixture
def partner(program):
    return make_partner(program)


@pytest.fixture
def membership(member, program):
    return services.membership_join(user=member, program=program)
