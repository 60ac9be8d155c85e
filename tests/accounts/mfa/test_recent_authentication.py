"""Adding or removing a factor needs a recent authentication (allauth's re-authentication flow)."""

from __future__ import annotations

import json

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.app_settings import app_settings
from accounts.models import WebAuthnCredential
from tests.accounts.mfa.authenticator import SoftAuthenticator
from tests.accounts.mfa.conftest import (
    STAGE_URL,
    age_authentication,
    device_code,
    options,
    post_password,
    register_passkey,
    session_records,
)
from tests.conftest import PASSWORD, login, query_of

pytestmark = pytest.mark.django_db


def test_an_old_session_confirms_the_password_before_enrolling(client, member):
    login(client, member)
    age_authentication(client, app_settings.RECENT_AUTH_SECONDS + 1)

    resp = client.get("/account/mfa/totp")

    assert resp.status_code == 302
    assert resp["Location"].startswith("/accounts/reauthenticate/?")
    assert query_of(resp["Location"])["next"] == "/account/mfa/totp"
    assert client.post("/account/mfa/passkeys/add/options").status_code == 403

    resp = client.post(resp["Location"], {"password": PASSWORD})
    assert resp.status_code == 302 and resp["Location"] == "/account/mfa/totp"
    assert client.get("/account/mfa/totp").status_code == 200
    assert session_records(client, member)[-1]["reauthenticated"] is True


def test_removal_from_an_old_session_resumes_after_a_passkey(client, member, authenticator):
    login(client, member)
    register_passkey(client, authenticator, name="One")
    phone = SoftAuthenticator()
    register_passkey(client, phone, name="Two")
    first = WebAuthnCredential.objects.get(user=member, name="One")
    age_authentication(client, 3600)

    resp = client.post(f"/account/mfa/passkeys/{first.pk}/remove")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/reauthenticate/")
    assert WebAuthnCredential.objects.filter(pk=first.pk).exists()
    page = client.get(resp["Location"])
    alternatives = [alt["url"] for alt in page.context["reauthentication_alternatives"]]
    [passkey_url] = [url for url in alternatives if url.startswith("/account/mfa/reauthenticate/passkey")]

    opts = options(client, "/account/mfa/passkeys/options")
    resp = client.post(passkey_url, {"action": "passkey", "credential": json.dumps(phone.get(opts))})

    # allauth replays the suspended POST once re-authenticated.
    assert resp.status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=first.pk).exists()
    assert WebAuthnCredential.objects.filter(user=member, name="Two").exists()


def test_a_member_with_a_factor_changes_factors_only_from_an_mfa_session(client, member):
    login(client, member)  # password only
    device = TOTPDevice.objects.create(user=member, name="Authenticator app", confirmed=True)

    resp = client.get("/account/mfa/passkeys/add")

    assert resp.status_code == 302 and resp["Location"].startswith("/account/mfa/step-up?")
    resp = client.post(resp["Location"], {"method": "totp", "code": device_code(device)})
    assert resp["Location"] == "/account/mfa/passkeys/add"
    assert client.get("/account/mfa/passkeys/add").status_code == 200


def test_second_step_pages_need_a_pending_login(client, member, totp_device):
    assert client.get(STAGE_URL)["Location"] == "/accounts/login/"
    assert client.get("/account/mfa/enrol")["Location"] == "/accounts/login/"
    post_password(client, member)
    assert client.get(STAGE_URL).status_code == 200
