"""TOTP (django-otp): enrolment with a first code, login with a code, wrong and replayed codes."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa.views import TOTP_SESSION_KEY
from accounts.models import SecurityEvent
from tests.accounts.mfa.conftest import (
    STAGE_URL,
    device_code,
    events,
    is_signed_in,
    lift_device_throttle,
    next_totp_step,
    post_password,
    sign_out,
    totp_code,
)
from tests.conftest import authorize_params, exchange, id_token_claims, login, pkce_pair, query_of

pytestmark = pytest.mark.django_db


def test_enrol_totp_with_a_first_code_then_sign_in_gives_an_mfa_id_token(client, member, rp):
    app, secret = rp
    login(client, member)
    page = client.get("/account/mfa/totp")
    assert page.status_code == 200
    key = client.session[TOTP_SESSION_KEY]["key"]
    html = page.content.decode()
    assert "otpauth://totp/" in html and "secret=" in html  # manual set-up and app link
    assert page.context["manual_key"].replace(" ", "")  # base32 key shown for typing

    wrong = client.post("/account/mfa/totp", {"code": "000000" if totp_code(key) != "000000" else "111111"})
    assert wrong.status_code == 400
    assert not TOTPDevice.objects.filter(user=member).exists()

    done = client.post("/account/mfa/totp", {"code": totp_code(key)})
    assert done.status_code == 200
    codes = done.context["codes"]  # first factor: recovery codes handed out once
    assert len(codes) == 10
    device = TOTPDevice.objects.get(user=member)
    assert device.confirmed and device.key == key
    assert [e.data["method"] for e in events(member, SecurityEvent.Kind.MFA_ADDED)] == [
        "totp",
        "recovery_codes",
    ]

    sign_out(client)
    verifier, challenge = pkce_pair()
    start = client.get("/authorize", authorize_params(app, challenge=challenge))
    login_url = start["Location"]
    nxt = query_of(login_url)["next"]
    resp = post_password(client, member, next_url=nxt)
    assert resp.status_code == 302 and resp["Location"].startswith(STAGE_URL)
    assert not is_signed_in(client)  # the password alone opens nothing

    next_totp_step(device)
    resp = client.post(resp["Location"], {"method": "totp", "code": device_code(device)})
    assert resp.status_code == 302 and resp["Location"] == nxt
    assert is_signed_in(client)

    resp = client.get(nxt)
    code = query_of(resp["Location"])["code"]
    tokens = exchange(client, app, secret, code, verifier).json()
    claims = id_token_claims(client, tokens["id_token"])
    assert claims["acr"] == "urn:ciam:acr:mfa"
    assert set(claims["amr"]) == {"otp", "pwd", "mfa"}


def test_wrong_code_is_an_error_an_event_and_no_session(client, member, totp_device):
    resp = post_password(client, member)
    assert resp["Location"].startswith(STAGE_URL)
    good = device_code(totp_device)
    bad = "123456" if good != "123456" else "654321"

    resp = client.post(STAGE_URL, {"method": "totp", "code": bad})

    assert resp.status_code == 400
    assert "Incorrect code." in resp.content.decode()
    assert not is_signed_in(client)
    [event] = events(member, SecurityEvent.Kind.MFA_CHALLENGE_FAILED)
    assert event.data["method"] == "totp" and event.ip == "127.0.0.1"
    # django-otp backs off right after a failure, even for the right code ...
    assert client.post(STAGE_URL, {"method": "totp", "code": good}).status_code == 429
    assert not is_signed_in(client)
    # ... until the back-off has passed (moved clock, not a sleep).
    lift_device_throttle(totp_device)
    resp = client.post(STAGE_URL, {"method": "totp", "code": good})
    assert resp.status_code == 302 and is_signed_in(client)


def test_a_code_works_once(client, member, totp_device):
    post_password(client, member)
    code = device_code(totp_device)
    assert client.post(STAGE_URL, {"method": "totp", "code": code}).status_code == 302
    sign_out(client)

    post_password(client, member)
    replay = client.post(STAGE_URL, {"method": "totp", "code": code})

    assert replay.status_code == 400
    assert not is_signed_in(client)
    assert events(member, SecurityEvent.Kind.MFA_CHALLENGE_FAILED)


def test_too_many_wrong_codes_lock_the_second_step_for_a_while(client, member, totp_device, settings):
    settings.ACCOUNTS_MFA_MAX_FAILURES = 3
    post_password(client, member)
    good = device_code(totp_device)
    bad = "000001" if good != "000001" else "000002"
    for _ in range(3):
        lift_device_throttle(totp_device)
        assert client.post(STAGE_URL, {"method": "totp", "code": bad}).status_code == 400
    lift_device_throttle(totp_device)

    locked = client.post(STAGE_URL, {"method": "totp", "code": good})

    assert locked.status_code == 429
    assert "Too many wrong codes" in locked.content.decode()
    assert not is_signed_in(client)
    assert len(events(member, SecurityEvent.Kind.THROTTLED)) == 1
    # The lock lives in the cache with an expiry: once it lapses the member gets in.
    cache.clear()
    assert client.post(STAGE_URL, {"method": "totp", "code": good}).status_code == 302


def test_the_stage_cannot_be_skipped(client, member, totp_device):
    post_password(client, member)

    assert client.get("/").status_code == 302  # home still wants a login
    assert not is_signed_in(client)
    resp = client.get("/accounts/login/")
    assert resp.status_code == 200


def test_remove_totp_needs_recent_authentication_and_leaves_an_event(client, member, totp_device):
    post_password(client, member)
    client.post(STAGE_URL, {"method": "totp", "code": device_code(totp_device)})

    resp = client.post("/account/mfa/totp/remove")

    assert resp.status_code == 302
    assert not TOTPDevice.objects.filter(user=member).exists()
    assert events(member, SecurityEvent.Kind.MFA_REMOVED)[0].data["method"] == "totp"


def test_the_setup_page_shows_a_qr_code_when_a_qr_library_is_installed(client, member):
    pytest.importorskip("qrcode", reason="qrcode is not installed: the page offers the key and link only")
    login(client, member)

    html = client.get("/account/mfa/totp").content.decode()

    assert '<img id="totp-qr" src="data:image/svg+xml;base64,' in html
