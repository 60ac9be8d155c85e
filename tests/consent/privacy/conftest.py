"""Fixtures for the privacy part: a member with data in every app, a moved clock, Celery in-process
(except for the worker tests), and test-only models registered for one test."""

from __future__ import annotations

import datetime
import secrets
from contextlib import contextmanager

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.apps import apps
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import KnownDevice, RecoveryCode, SecurityEvent, UserSession, WebAuthnCredential
from idp.services import audit_record, client_authorization_grant
from tests.conftest import PASSWORD, exchange, get_code, login, make_client

PHONE = "+81 90 1234 5678"
NICKNAME = "hanako-the-unique"
STREET = "1-2-3 Unique-cho"


@pytest.fixture(autouse=True)
def _eager_unless_worker(request):
    """Run queued tasks in-process, also with REDIS_URL, unless the test starts a real worker."""
    if "real_worker" in request.fixturenames:
        yield
        return
    from idp.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


class Clock:
    """``django.utils.timezone.now`` held at a settable instant (time rules, not sleeps)."""

    def __init__(self, start: datetime.datetime):
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def move(self, **delta) -> datetime.datetime:
        self.now += datetime.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    moved = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", moved)
    return moved


def rich_member_data(client, member) -> dict:
    """Give ``member`` data in every app, the way the product creates it where that is cheap."""
    member.nickname = NICKNAME
    member.phone_number = PHONE
    member.address = {"street_address": STREET, "country": "JP"}
    member.save()
    EmailAddress.objects.create(user=member, email="hanako.second@example.com", verified=False, primary=False)
    login(client, member)  # session row, known device, "signed in" event
    app, secret = make_client(name="Fuel Rewards")
    code, verifier = get_code(client, app)
    tokens = exchange(client, app, secret, code, verifier).json()  # code issuance, access/refresh/ID token
    client_authorization_grant(user=member, client=app, scopes={"openid", "email"})
    TOTPDevice.objects.create(user=member, name="Phone", confirmed=True)
    EmailDevice.objects.create(user=member, name="Email", email=member.email, confirmed=True)
    passkey = WebAuthnCredential.objects.create(
        user=member, name="Hanako's laptop", credential_id=secrets.token_bytes(16), public_key=b"k"
    )
    RecoveryCode.objects.create(user=member, code_hash="x" * 40)
    social_app = SocialApp.objects.create(provider="google", name="Google", client_id="g", secret="s")
    account = SocialAccount.objects.create(
        user=member, provider="google", uid="1234567890", extra_data={"email": member.email, "name": "Hanako"}
    )
    SocialToken.objects.create(app=social_app, account=account, token="social-token-value")
    SecurityEvent.objects.create(
        user=member, kind=SecurityEvent.Kind.EMAIL_CHANGED, data={"from": "old@example.com", "to": member.email}
    )
    audit_record(kind="test.member_touched", user=member, data={"note": "plain"})
    return {"client": app, "secret": secret, "tokens": tokens, "passkey": passkey}


@pytest.fixture
def rich_member(client, member):
    return member, rich_member_data(client, member)


def linked_counts(user_pk: int) -> dict[str, int]:
    """Rows that still point at the account, per model (direct ``user`` links and a few paths)."""
    from oauth2_provider.models import get_access_token_model, get_id_token_model, get_refresh_token_model

    from idp.models import AuditEvent, ClientAuthorization, CodeIssuance

    return {
        "sessions": UserSession.objects.filter(user_id=user_pk).count(),
        "known_devices": KnownDevice.objects.filter(user_id=user_pk).count(),
        "security_events": SecurityEvent.objects.filter(user_id=user_pk).count(),
        "passkeys": WebAuthnCredential.objects.filter(user_id=user_pk).count(),
        "totp": TOTPDevice.objects.filter(user_id=user_pk).count(),
        "recovery_codes": RecoveryCode.objects.filter(user_id=user_pk).count(),
        "email_addresses": EmailAddress.objects.filter(user_id=user_pk).count(),
        "social": SocialAccount.objects.filter(user_id=user_pk).count(),
        "access_tokens": get_access_token_model().objects.filter(user_id=user_pk).count(),
        "refresh_tokens": get_refresh_token_model().objects.filter(user_id=user_pk).count(),
        "id_tokens": get_id_token_model().objects.filter(user_id=user_pk).count(),
        "authorizations": ClientAuthorization.objects.filter(user_id=user_pk).count(),
        "code_issuances": CodeIssuance.objects.filter(user_id=user_pk).count(),
        "audit_events": AuditEvent.objects.filter(user_id=user_pk).count(),
    }


def personal_strings_left(needles: list[str]) -> list[str]:
    """Every installed model's text and JSON fields searched for the member's own values."""
    from django.db import models

    found = []
    for model in apps.get_models():
        text_fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField | models.EmailField)
        ]
        for row in model._default_manager.values(*text_fields):
            blob = " ".join(str(v) for v in row.values()).lower()
            for needle in needles:
                if needle.lower() in blob:
                    found.append(f"{model._meta.label}: {needle}")
    return found


@contextmanager
def test_model(name: str, fields: dict, *, create_table: bool = False):
    """A model registered in the ``consent`` app for one test (and its table, when asked): what a
    new app adding personal data looks like to the registry. Removed again afterwards."""
    from django.db import models

    attrs = {"__module__": __name__, "Meta": type("Meta", (), {"app_label": "consent"}), **fields}
    model = type(name, (models.Model,), attrs)
    try:
        if create_table:
            with connection.schema_editor() as editor:
                editor.create_model(model)
        yield model
    finally:
        if create_table:
            with connection.schema_editor() as editor:
                editor.delete_model(model)
        del apps.all_models["consent"][name.lower()]
        apps.clear_cache()


test_model.__test__ = False


__all__ = ["PASSWORD", "Clock", "linked_counts", "personal_strings_left", "rich_member_data", "test_model"]
