"""MFA required by the client, the member's policy or acr_values; step-up; the staff admin."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa.views import TOTP_SESSION_KEY
from accounts.models import SecurityEvent, WebAuthnCredential
from tests.accounts.mfa.conftest import (
    STAGE_URL,
    device_code,
    events,
    force_login_with_mfa,
    is_signed_in,
    options,
    post_password,
    register_passkey,
    sign_out,
    totp_code,
)
from tests.conftest import (
    authorize_params,
    exchange,
    id_token_claims,
    login,
    make_client,
    pkce_pair,
    query_of,
)

pytestmark = pytest.mark.django_db

ENROL_URL = "/account/mfa/enrol"


def _start(client, app, **extra):
    verifier, challenge = pkce_pair()
    resp = client.get("/authorize", authorize_params(app, challenge=challenge, **extra))
    return verifier, resp


def _claims(client, app, secret, resp, verifier) -> dict:
    code = query_of(resp["Location"])["code"]
    return id_token_claims(client, exchange(client, app, secret, code, verifier).json()["id_token"])


def test_a_client_that_requires_mfa_makes_a_member_enrol_before_finishing(client, member):
    app, secret = make_client(require_mfa=True)
    verifier, start = _start(client, app)
    nxt = query_of(start["Location"])["next"]

    resp = post_password(client, member, next_url=nxt)

    assert resp.status_code == 302 and resp["Location"].startswith(ENROL_URL)
    assert not is_signed_in(client)
    page = client.get(resp["Location"])
    assert page.context["totp_allowed"] and "otpauth://" in page.content.decode()
    key = client.session[TOTP_SESSION_KEY]["key"]
    bad = client.post(
        ENROL_URL, {"action": "totp", "code": "000000" if totp_code(key) != "000000" else "111111"}
    )
    assert bad.status_code == 400 and not is_signed_in(client)

    shown = client.post(ENROL_URL, {"action": "totp", "code": totp_code(key)})
    assert shown.status_code == 200 and len(shown.context["codes"]) == 10
    assert not is_signed_in(client)  # codes first, then on
    done = client.post(ENROL_URL, {"action": "continue"})

    assert done.status_code == 302 and done["Location"] == nxt
    assert is_signed_in(client)
    claims = _claims(client, app, secret, client.get(nxt), verifier)
    assert claims["acr"] == "urn:ciam:acr:mfa" and set(claims["amr"]) == {"otp", "pwd", "mfa"}


def test_enrolment_with_a_passkey_during_login(client, member, authenticator):
    app, secret = make_client(require_mfa=True)
    verifier, start = _start(client, app)
    nxt = query_of(start["Location"])["next"]
    post_password(client, member, next_url=nxt)

    opts = options(client, "/account/mfa/enrol/options")
    credential = authenticator.create(opts)
    shown = client.post(
        ENROL_URL, {"action": "passkey", "name": "Phone", "credential": json.dumps(credential)}
    )
    assert shown.status_code == 200
    done = client.post(ENROL_URL, {"action": "continue"})

    assert done["Location"] == nxt and is_signed_in(client)
    assert WebAuthnCredential.objects.get(user=member).name == "Phone"
    assert _claims(client, app, secret, client.get(nxt), verifier)["acr"] == "urn:ciam:acr:phishing-resistant"


def test_enrolment_is_not_offered_to_a_member_who_already_has_a_factor(client, member, totp_device):
    app, _secret = make_client(require_mfa=True)
    _verifier, start = _start(client, app)
    resp = post_password(client, member, next_url=query_of(start["Location"])["next"])
    assert resp["Location"].startswith(STAGE_URL)

    # Someone who has only the password cannot add their own factor instead.
    assert client.get(ENROL_URL)["Location"] == STAGE_URL
    assert client.post("/account/mfa/enrol/options").status_code == 409
    assert TOTPDevice.objects.filter(user=member).count() == 1


def test_members_of_a_required_group_are_asked_for_a_second_factor(client, member, settings):
    settings.ACCOUNTS_MFA_REQUIRED_GROUPS = ["pharmacists"]
    member.groups.add(Group.objects.create(name="pharmacists"))

    resp = post_password(client, member)

    assert resp["Location"].startswith(ENROL_URL)


def test_the_last_factor_of_a_member_who_must_use_mfa_cannot_be_removed(
    client, member, totp_device, settings
):
    settings.ACCOUNTS_MFA_REQUIRED_GROUPS = ["pharmacists"]
    member.groups.add(Group.objects.create(name="pharmacists"))
    post_password(client, member)
    client.post(STAGE_URL, {"method": "totp", "code": device_code(totp_device)})

    resp = client.post("/account/mfa/totp/remove", follow=True)

    assert TOTPDevice.objects.filter(user=member).exists()
    assert "Add another one before removing it" in resp.content.decode()
    assert not events(member, SecurityEvent.Kind.MFA_REMOVED)


@pytest.mark.spec("OIDC Core §3.1.2.1")
def test_acr_values_mfa_steps_up_a_password_session(client, member, rp):
    app, secret = rp
    login(client, member)  # no factor yet: a password session
    device = TOTPDevice.objects.create(
        user=member, name="Authenticator app", confirmed=True
    )  # set up elsewhere

    verifier, resp = _start(client, app, acr_values="urn:ciam:acr:mfa")

    assert resp.status_code == 302 and resp["Location"].startswith("/account/mfa/step-up?")
    step_up = resp["Location"]
    assert query_of(step_up)["acr"] == "urn:ciam:acr:mfa"
    page = client.get(step_up)
    assert page.context["methods"] == ["totp"]
    resp = client.post(step_up, {"method": "totp", "code": device_code(device)})
    assert resp.status_code == 302 and resp["Location"].startswith("/authorize?")
    claims = _claims(client, app, secret, client.get(resp["Location"]), verifier)
    assert claims["acr"] == "urn:ciam:acr:mfa" and set(claims["amr"]) == {"otp", "pwd", "mfa"}
    assert events(member, SecurityEvent.Kind.STEP_UP)[0].data == {"method": "totp", "acr": "urn:ciam:acr:mfa"}


def test_phishing_resistant_step_up_asks_for_a_passkey_only(client, member, totp_device, authenticator, rp):
    app, secret = rp
    post_password(client, member)
    client.post(STAGE_URL, {"method": "totp", "code": device_code(totp_device)})
    assert register_passkey(client, authenticator).status_code in (200, 302)
    # A later, separate sign-in with password and app code: acr mfa, not phishing-resistant.
    sign_out(client)
    post_password(client, member)
    from tests.accounts.mfa.conftest import next_totp_step

    next_totp_step(totp_device)
    client.post(STAGE_URL, {"method": "totp", "code": device_code(totp_device)})

    verifier, resp = _start(client, app, acr_values="urn:ciam:acr:phishing-resistant")
    step_up = resp["Location"]
    assert step_up.startswith("/account/mfa/step-up?")
    assert client.get(step_up).context["methods"] == ["webauthn"]
    next_totp_step(totp_device)
    assert client.post(step_up, {"method": "totp", "code": device_code(totp_device)}).status_code == 400

    opts = options(client, "/account/mfa/passkeys/options")
    resp = client.post(step_up, {"action": "passkey", "credential": json.dumps(authenticator.get(opts))})
    assert resp["Location"].startswith("/authorize?")
    claims = _claims(client, app, secret, client.get(resp["Location"]), verifier)
    assert claims["acr"] == "urn:ciam:acr:phishing-resistant" and "hwk" in claims["amr"]


def test_step_up_without_a_suitable_factor_offers_enrolment(client, member):
    login(client, member)

    page = client.get("/account/mfa/step-up", {"next": "/", "acr": "urn:ciam:acr:phishing-resistant"})

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="enrol-passkey"' in html and 'id="enrol-totp"' not in html


def test_step_up_goes_back_only_to_local_urls(client, member, totp_device):
    post_password(client, member)
    client.post(STAGE_URL, {"method": "totp", "code": device_code(totp_device)})

    resp = client.get(
        "/account/mfa/step-up", {"next": "https://evil.example/steal", "acr": "urn:ciam:acr:mfa"}
    )

    assert resp.status_code == 302 and resp["Location"] == "/"


@pytest.mark.urls("tests.accounts.mfa.admin_urls")
def test_the_admin_requires_a_second_factor_in_the_session(client, member, totp_device):
    TOTPDevice.objects.filter(user=member).update(confirmed=False)
    login(client, member)  # a password session, without any second factor
    TOTPDevice.objects.filter(user=member).update(confirmed=True)
    member.is_staff = True  # promoted while signed in
    member.is_superuser = True
    member.save()

    resp = client.get("/admin/", follow=True)
    assert resp.redirect_chain[-1][0].startswith("/account/mfa/step-up?")
    assert "acr=urn%3Aciam%3Aacr%3Amfa" in resp.redirect_chain[-1][0]

    step_up = resp.redirect_chain[-1][0]
    resp = client.post(step_up, {"method": "totp", "code": device_code(totp_device)})
    assert client.get(resp["Location"]).status_code == 200  # /admin/


@pytest.mark.urls("tests.accounts.mfa.admin_urls")
def test_staff_sign_in_to_the_admin_through_the_hosted_login(client, member, totp_device):
    member.is_staff = True
    member.save()
    client.post("/accounts/logout/")

    resp = client.get("/admin/", follow=True)
    assert resp.redirect_chain[-1][0].startswith("/accounts/login/?next=/admin/")
    resp = post_password(client, member, next_url="/admin/")
    assert resp["Location"].startswith(STAGE_URL)  # staff always get the second step
    resp = client.post(STAGE_URL, {"method": "totp", "code": device_code(totp_device)})
    assert resp["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.urls("tests.accounts.mfa.admin_urls")
def test_a_session_with_a_second_factor_uses_the_admin(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")

    force_login_with_mfa(client, admin_user)

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/idp/client/add/").status_code == 200
