"""Fixtures for second factors and passkeys: TOTP codes from a moved clock, a software authenticator."""

from __future__ import annotations

import json
import time
from binascii import unhexlify

import pytest
from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SecurityEvent
from tests.accounts.mfa.authenticator import SoftAuthenticator
from tests.conftest import PASSWORD

STAGE_URL = "/account/mfa/authenticate"


def totp_code(key: str, *, at: float | None = None) -> str:
    """The code an authenticator app shows for ``key`` (hex) at time ``at`` (default: now)."""
    totp = TOTP(unhexlify(key.encode()), step=30, t0=0, digits=6)
    totp.time = time.time() if at is None else at
    return f"{totp.token():06d}"


def next_totp_step(device: TOTPDevice) -> None:
    """Move the device's clock origin back one step, so 'now' is a new step (no sleeping)."""
    device.refresh_from_db()
    device.t0 -= device.step
    device.save(update_fields=["t0"])


def device_code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def lift_device_throttle(device: TOTPDevice) -> None:
    """django-otp backs off after a wrong code; move the failure into the past instead of waiting."""
    device.refresh_from_db()
    if device.throttling_failure_timestamp is not None:
        device.throttling_failure_timestamp = device.throttling_failure_timestamp.replace(year=2000)
        device.save(update_fields=["throttling_failure_timestamp"])


def age_authentication(client, seconds: int) -> None:
    """Move every authentication record of the test client's session ``seconds`` into the past."""
    session = client.session
    records = session.get(AUTHENTICATION_METHODS_SESSION_KEY, [])
    for record in records:
        record["at"] -= seconds
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()


def session_records(client, user) -> list[dict]:
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = client.session
    return get_authentication_records(request, user)


def events(user, kind: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(user=user, kind=kind).order_by("id"))


def post_password(client, user, *, password: str = PASSWORD, next_url: str | None = None):
    data = {"login": user.email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator("http://testserver")


@pytest.fixture
def totp_device(member) -> TOTPDevice:
    return TOTPDevice.objects.create(user=member, name="Authenticator app", confirmed=True)


def options(client, url: str, data: dict | None = None) -> dict:
    resp = client.post(url, data or {})
    assert resp.status_code == 200, resp.content[:300]
    return resp.json()


def register_passkey(client, authenticator: SoftAuthenticator, *, name: str = "Laptop", **forge):
    """Add a passkey from the account page (the member must be signed in recently)."""
    opts = options(client, "/account/mfa/passkeys/add/options")
    credential = authenticator.create(opts, **forge)
    return client.post("/account/mfa/passkeys/add", {"name": name, "credential": json.dumps(credential)})


def sign_out(client) -> None:
    """Sign out through the hosted page, as a member would."""
    resp = client.post("/accounts/logout/")
    assert resp.status_code == 302
    assert not is_signed_in(client)


def force_login_with_mfa(client, user) -> None:
    """``client.force_login`` plus the authentication records of a password + TOTP sign-in.

    For tests of pages behind a second factor (e.g. the admin served by MFAAdminSite) that
    are not about signing in; importable from other test packages.
    """
    from allauth.account.internal.flows.login import _AUTHENTICATION_METHODS_USER_SESSION_KEY

    client.force_login(user)
    session = client.session
    now = time.time()
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": now},
        {"method": "mfa", "type": "totp", "at": now},
    ]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()
