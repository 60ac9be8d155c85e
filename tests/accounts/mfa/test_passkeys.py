"""Passkeys (py_webauthn) against a software authenticator: registration, passwordless login,
second factor, sign counter, and forged responses (W3C WebAuthn Level 2 §7.1, §7.2)."""

from __future__ import annotations

import json

import pytest

from accounts.models import SecurityEvent, User, WebAuthnCredential
from tests.accounts.mfa.authenticator import SoftAuthenticator, b64u
from tests.accounts.mfa.conftest import (
    STAGE_URL,
    events,
    is_signed_in,
    options,
    post_password,
    register_passkey,
    session_records,
    sign_out,
)
from tests.conftest import PASSWORD, authorize_params, exchange, id_token_claims, login, pkce_pair, query_of
from tests.consent.legal.conftest import documents  # noqa: F401 - fixture
from tests.consent.purposes.conftest import purposes  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

LOGIN_OPTIONS = "/account/mfa/passkeys/login/options"
LOGIN = "/account/mfa/passkeys/login"


@pytest.fixture
def member_with_passkey(client, member, authenticator):
    login(client, member)
    resp = register_passkey(client, authenticator, name="Laptop")
    assert resp.status_code == 200, resp.content[:300]  # recovery codes page (first factor)
    sign_out(client)
    return member


def passwordless(client, authenticator, **forge):
    opts = options(client, LOGIN_OPTIONS)
    return client.post(LOGIN, {"credential": json.dumps(authenticator.get(opts, **forge))})


def rejected(user) -> list[str]:
    return [e.data.get("reason") for e in events(user, SecurityEvent.Kind.PASSKEY_REJECTED)]


@pytest.mark.spec("WebAuthn L2 §7.1")
def test_register_a_passkey_from_the_account_page(client, member, authenticator):
    login(client, member)
    opts = options(client, "/account/mfa/passkeys/add/options")
    assert opts["rp"]["id"] == "testserver"
    assert opts["authenticatorSelection"]["residentKey"] == "required"
    assert opts["authenticatorSelection"]["userVerification"] == "required"
    assert opts["attestation"] == "none"
    assert opts["user"]["name"] == member.email
    credential = authenticator.create(opts)

    resp = client.post("/account/mfa/passkeys/add", {"name": "Phone", "credential": json.dumps(credential)})

    assert resp.status_code == 200
    passkey = WebAuthnCredential.objects.get(user=member)
    assert passkey.name == "Phone"
    assert bytes(passkey.credential_id) == authenticator.passkeys[0].credential_id
    assert passkey.discoverable and passkey.transports == ["internal", "hybrid"]
    assert passkey.sign_count == 0 and not passkey.backup_eligible
    assert events(member, SecurityEvent.Kind.PASSKEY_ADDED)[0].data["name"] == "Phone"

    # The next registration excludes it, and the same credential twice is refused.
    again = options(client, "/account/mfa/passkeys/add/options")
    assert [c["id"] for c in again["excludeCredentials"]] == [b64u(bytes(passkey.credential_id))]
    resp = client.post("/account/mfa/passkeys/add", {"name": "Copy", "credential": json.dumps(credential)})
    assert resp.status_code == 400
    assert WebAuthnCredential.objects.filter(user=member).count() == 1


def test_a_credential_id_registered_to_one_account_is_refused_for_another(
    client, member, authenticator, django_user_model
):
    login(client, member)
    assert register_passkey(client, authenticator).status_code == 200
    taken = authenticator.passkeys[0].credential_id
    sign_out(client)
    other = django_user_model.objects.create_user(email="other@example.com", password=PASSWORD)

    login(client, other)
    opts = options(client, "/account/mfa/passkeys/add/options")
    rogue = SoftAuthenticator().create(opts, credential_id=taken)
    resp = client.post("/account/mfa/passkeys/add", {"name": "Copy", "credential": json.dumps(rogue)})

    assert resp.status_code == 400
    assert "already registered" in resp.content.decode()
    assert not WebAuthnCredential.objects.filter(user=other).exists()


@pytest.mark.spec("WebAuthn L2 §7.2")
def test_passwordless_login_gives_a_phishing_resistant_id_token(
    client, member_with_passkey, authenticator, rp
):
    app, secret = rp
    verifier, challenge = pkce_pair()
    start = client.get("/authorize", authorize_params(app, challenge=challenge))
    nxt = query_of(start["Location"])["next"]

    opts = options(client, LOGIN_OPTIONS)
    assert opts["userVerification"] == "required"
    assert opts.get("allowCredentials", []) == []  # discoverable: the authenticator names the account
    resp = client.post(LOGIN, {"credential": json.dumps(authenticator.get(opts)), "next": nxt})

    assert resp.status_code == 302 and resp["Location"] == nxt  # no second step after a passkey
    assert is_signed_in(client)
    code = query_of(client.get(nxt)["Location"])["code"]
    claims = id_token_claims(client, exchange(client, app, secret, code, verifier).json()["id_token"])
    assert claims["sub"] == str(member_with_passkey.sub)
    assert claims["acr"] == "urn:ciam:acr:phishing-resistant"
    assert set(claims["amr"]) == {"hwk", "user", "mfa"}
    passkey = WebAuthnCredential.objects.get(user=member_with_passkey)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None


def test_passwordless_login_needs_user_verification(client, member_with_passkey, authenticator):
    resp = passwordless(client, authenticator, uv=False)

    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")
    assert not is_signed_in(client)
    assert rejected(member_with_passkey) == ["invalid"]


def test_a_passkey_is_a_second_factor_after_the_password(client, member_with_passkey, authenticator):
    resp = post_password(client, member_with_passkey)
    assert resp["Location"].startswith(STAGE_URL)
    page = client.get(STAGE_URL)
    assert page.context["methods"][0] == "webauthn"
    opts = options(client, "/account/mfa/authenticate/options")
    assert [c["id"] for c in opts["allowCredentials"]] == [b64u(authenticator.passkeys[0].credential_id)]

    resp = client.post(
        STAGE_URL, {"action": "passkey", "credential": json.dumps(authenticator.get(opts, uv=False))}
    )

    assert resp.status_code == 302 and is_signed_in(client)
    methods = [(r["method"], r.get("type")) for r in session_records(client, member_with_passkey)]
    assert methods[-2:] == [("password", None), ("mfa", "webauthn")]


@pytest.mark.spec("WebAuthn L2 §7.2 step 21")
def test_a_counter_that_goes_backwards_is_refused_and_flags_the_passkey(
    client, member_with_passkey, authenticator
):
    assert passwordless(client, authenticator, sign_count=7).status_code == 302
    sign_out(client)

    resp = passwordless(client, authenticator, sign_count=3)

    assert not is_signed_in(client)
    assert "signature counter went backwards" in client.get(resp["Location"]).content.decode()
    passkey = WebAuthnCredential.objects.get(user=member_with_passkey)
    assert passkey.flagged_at is not None and passkey.sign_count == 7
    assert rejected(member_with_passkey) == ["counter"]
    # Blocked from now on, even with a counter that moves on.
    assert passwordless(client, authenticator, sign_count=8).status_code == 302
    assert not is_signed_in(client)
    assert rejected(member_with_passkey) == ["counter", "flagged"]


def test_authenticators_without_a_counter_are_accepted(client, member, django_user_model):
    synced = SoftAuthenticator(counting=False, backup=True)
    login(client, member)
    assert register_passkey(client, synced).status_code == 200
    passkey = WebAuthnCredential.objects.get(user=member)
    assert passkey.backup_eligible and passkey.backup_state
    sign_out(client)

    for _ in range(2):
        assert passwordless(client, synced).status_code == 302 and is_signed_in(client)
        sign_out(client)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        ({"origin": "https://evil.example"}, "invalid"),
        ({"rp_id": "evil.example"}, "invalid"),
        ({"challenge": b64u(b"a challenge we never issued")}, "invalid"),
    ],
    ids=["wrong-origin", "wrong-rp-id", "wrong-challenge"],
)
@pytest.mark.spec("WebAuthn L2 §7.2")
def test_forged_assertions_are_refused(client, member_with_passkey, authenticator, forge, reason):
    resp = passwordless(client, authenticator, **forge)

    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")
    assert not is_signed_in(client)
    page = client.get(resp["Location"]).content.decode()
    assert "could not be verified" in page
    assert rejected(member_with_passkey) == [reason]
    assert WebAuthnCredential.objects.get(user=member_with_passkey).flagged_at is None


def test_a_replayed_assertion_is_refused(client, member_with_passkey, authenticator):
    opts = options(client, LOGIN_OPTIONS)
    assertion = json.dumps(authenticator.get(opts))
    assert client.post(LOGIN, {"credential": assertion}).status_code == 302 and is_signed_in(client)
    sign_out(client)

    # The same response again: its challenge was used up (and its counter is not new).
    resp = client.post(LOGIN, {"credential": assertion})
    assert not is_signed_in(client)
    assert "expired or was already used" in client.get(resp["Location"]).content.decode()
    # Even with a fresh challenge pending, the old response does not match it.
    options(client, LOGIN_OPTIONS)
    client.post(LOGIN, {"credential": assertion})
    assert not is_signed_in(client)
    assert rejected(member_with_passkey) == ["challenge", "invalid"]


@pytest.mark.parametrize(
    "forge",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}, {"challenge": b64u(b"not ours")}],
    ids=["wrong-origin", "wrong-rp-id", "wrong-challenge"],
)
def test_forged_registrations_are_refused(client, member, authenticator, forge):
    login(client, member)

    resp = register_passkey(client, authenticator, **forge)

    assert resp.status_code == 400
    assert "could not be registered" in resp.content.decode()
    assert not WebAuthnCredential.objects.filter(user=member).exists()
    assert rejected(member) == ["registration"]


def test_a_challenge_for_the_second_step_is_not_a_login(client, member_with_passkey, authenticator):
    """A response to another ceremony's challenge (here: the second step) cannot sign in."""
    post_password(client, member_with_passkey)
    opts = options(client, "/account/mfa/authenticate/options")
    assertion = authenticator.get(opts)

    client.post(LOGIN, {"credential": json.dumps(assertion)})

    assert not is_signed_in(client)


def test_rename_and_remove(client, member_with_passkey, authenticator):
    passwordless(client, authenticator)
    passkey = WebAuthnCredential.objects.get(user=member_with_passkey)

    client.post(f"/account/mfa/passkeys/{passkey.pk}/rename", {"name": "Work laptop"})
    passkey.refresh_from_db()
    assert passkey.name == "Work laptop"

    resp = client.post(f"/account/mfa/passkeys/{passkey.pk}/remove")
    assert resp.status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    assert events(member_with_passkey, SecurityEvent.Kind.PASSKEY_REMOVED)[0].data["name"] == "Work laptop"
    # With its last factor gone the account no longer has recovery codes to back it up.
    assert not member_with_passkey.recovery_codes.exists()


def test_sign_up_with_a_passkey_and_no_password(client, authenticator, rp):
    app, secret = rp
    verifier, challenge = pkce_pair()
    nxt = query_of(client.get("/authorize", authorize_params(app, challenge=challenge))["Location"])["next"]
    page = client.get("/accounts/signup/", {"next": nxt})
    assert "/account/mfa/passkeys/signup" in page.content.decode()

    bad = client.post("/account/mfa/passkeys/signup/options", {"email": "not-an-email"})
    assert bad.status_code == 400 and "email" in bad.json()["errors"]
    opts = options(client, "/account/mfa/passkeys/signup/options", {"email": "New@Example.com"})
    assert opts["authenticatorSelection"]["residentKey"] == "required"
    credential = authenticator.create(opts)
    resp = client.post(
        "/account/mfa/passkeys/signup?" + f"next={nxt}",
        {"email": "new@example.com", "credential": json.dumps(credential), "next": nxt},
    )

    assert resp.status_code == 302 and resp["Location"] == nxt, resp.content[:400]
    user = User.objects.get(email="new@example.com")
    assert not user.has_usable_password()
    assert authenticator.passkeys[0].user_handle == user.sub.bytes
    assert WebAuthnCredential.objects.filter(user=user).count() == 1
    code = query_of(client.get(nxt)["Location"])["code"]
    claims = id_token_claims(client, exchange(client, app, secret, code, verifier).json()["id_token"])
    assert claims["sub"] == str(user.sub)
    assert claims["acr"] == "urn:ciam:acr:phishing-resistant"
    sign_out(client)

    # The passkey is how this account signs in ...
    assert passwordless(client, authenticator).status_code == 302 and is_signed_in(client)
    # ... so its last passkey cannot be removed.
    passkey = WebAuthnCredential.objects.get(user=user)
    resp = client.post(f"/account/mfa/passkeys/{passkey.pk}/remove", follow=True)
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    assert "only way into your account" in resp.content.decode()


def test_sign_up_with_a_taken_email_is_refused(client, member, authenticator):
    resp = client.post("/account/mfa/passkeys/signup/options", {"email": member.email})

    assert resp.status_code == 400
    assert "already registered" in resp.json()["error"]


def test_the_signup_challenge_is_bound_to_its_email(client, authenticator):
    opts = options(client, "/account/mfa/passkeys/signup/options", {"email": "first@example.com"})
    credential = authenticator.create(opts)

    resp = client.post(
        "/account/mfa/passkeys/signup", {"email": "second@example.com", "credential": json.dumps(credential)}
    )

    assert resp.status_code == 400
    assert not User.objects.filter(email__in=["first@example.com", "second@example.com"]).exists()


@pytest.mark.parametrize(
    "credential",
    [
        "not json",
        "[1, 2]",
        json.dumps({"id": "x", "rawId": "y", "type": "public-key", "response": {}}),
        json.dumps(
            {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": "%%%"}}
        ),
    ],
    ids=["not-json", "not-an-object", "missing-fields", "bad-base64"],
)
def test_garbage_is_a_clear_message_not_an_error(client, member_with_passkey, authenticator, credential):
    options(client, LOGIN_OPTIONS)
    resp = client.post(LOGIN, {"credential": credential})
    assert resp.status_code == 302 and not is_signed_in(client)
    assert "could not be read" in client.get(resp["Location"]).content.decode()

    options(client, "/account/mfa/passkeys/signup/options", {"email": "fresh@example.com"})
    resp = client.post(
        "/account/mfa/passkeys/signup", {"email": "fresh@example.com", "credential": credential}
    )
    assert resp.status_code == 400
    assert "could not be registered" in resp.content.decode() or "could not be read" in resp.content.decode()
    assert not User.objects.filter(email="fresh@example.com").exists()


def test_an_assertion_of_an_unknown_passkey_is_refused(client, member_with_passkey):
    stranger = SoftAuthenticator()
    stranger.create({"rp": {"id": "testserver"}, "user": {"id": b64u(b"someone")}, "challenge": b64u(b"c")})

    resp = passwordless(client, stranger)

    assert not is_signed_in(client)
    assert "not registered" in client.get(resp["Location"]).content.decode()
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.PASSKEY_REJECTED, user=None).exists()


@pytest.mark.usefixtures("documents", "purposes")
def test_sign_up_with_a_passkey_records_the_terms_opt_ins_and_programmes(client, authenticator):
    from consent.models import ConsentState, LegalAcceptance
    from loyalty.models import Membership, Program

    Program.objects.create(slug="miles", name="Miles")
    page = client.get("/account/mfa/passkeys/signup")
    html = page.content.decode()
    assert 'name="accept_legal"' in html and 'name="join_program_miles"' in html
    # The page posts its fields for the options: the terms are checked before the ceremony ...
    early = client.post("/account/mfa/passkeys/signup/options", {"email": "opted@example.com"})
    assert early.status_code == 400 and "accept_legal" in early.json()["errors"]
    opts = options(
        client, "/account/mfa/passkeys/signup/options", {"email": "opted@example.com", "accept_legal": "on"}
    )
    credential = json.dumps(authenticator.create(opts))

    # ... and again with the credential, as on the password form.
    refused = client.post("/account/mfa/passkeys/signup", {"email": "opted@example.com", "credential": credential})
    assert refused.status_code == 400 and not User.objects.filter(email="opted@example.com").exists()

    resp = client.post(
        "/account/mfa/passkeys/signup",
        {
            "email": "opted@example.com",
            "credential": credential,
            "accept_legal": "on",
            "consent_marketing_email": "on",
            "join_program_miles": "on",
        },
    )
    assert resp.status_code == 302, resp.content[:400]
    user = User.objects.get(email="opted@example.com")
    accepted = LegalAcceptance.objects.filter(user=user, channel="signup")
    assert sorted(accepted.values_list("version__document__slug", flat=True)) == ["privacy", "terms"]
    granted = ConsentState.objects.filter(user=user, granted=True).values_list("purpose__code", flat=True)
    assert list(granted) == ["marketing_email"]
    assert Membership.objects.filter(user=user, program__slug="miles").exists()
