"""Sign-up through an upstream, and the account linking rules (issue 3, "Social login")."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from accounts.models import SecurityEvent
from tests.accounts.social.conftest import come_back, signed_in_user_id, social_login, start
from tests.conftest import PASSWORD, authorize_params, exchange, id_token_claims, pkce_pair, query_of

User = get_user_model()


def events(kind, user=None):
    qs = SecurityEvent.objects.filter(kind=kind)
    if user is not None:
        qs = qs.filter(user=user)
    return list(qs)


def rp_login_next(client, app) -> tuple[str, str, str]:
    """Start at the RP: /authorize sends an anonymous browser to the login page with next=."""
    verifier, challenge = pkce_pair()
    params = authorize_params(app, challenge=challenge)
    response = client.get("/authorize", params)
    assert response.status_code == 302, response.content[:300]
    next_url = query_of(response["Location"])["next"]
    assert next_url.startswith("/authorize?")
    return next_url, verifier, params["nonce"]


def finish_at_rp(client, app, secret, authorize_url: str, verifier: str) -> dict:
    response = client.get(authorize_url)
    assert response.status_code == 302, response.content[:300]
    code = query_of(response["Location"])["code"]
    token = exchange(client, app, secret, code, verifier)
    assert token.status_code == 200, token.content
    return id_token_claims(client, token.json()["id_token"])


@pytest.mark.spec("OIDC Core §3.1.3.7, RFC 8176 §2")
def test_new_member_signs_up_through_upstream_and_returns_to_rp_with_amr_fed(
    client, partner_app, upstream, rp
):
    app, secret = rp
    next_url, verifier, nonce = rp_login_next(client, app)

    authorize = start(client, next_url=next_url)
    # We ask the upstream with a nonce and PKCE (S256).
    sent = query_of(authorize)
    assert sent["nonce"] and sent["code_challenge"] and sent["code_challenge_method"] == "S256"
    assert sent["redirect_uri"] == "http://testserver/accounts/oidc/partner/login/callback/"

    response = come_back(client, upstream.consent(authorize))
    assert response.status_code == 302 and response["Location"] == next_url

    user = User.objects.get(email="new.member@example.com")
    assert str(user.pk) == signed_in_user_id(client)
    assert (user.given_name, user.family_name) == ("Taro", "Yamada")
    assert not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified  # the upstream verified it
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("partner", "upstream-user-1")
    [linked] = events(SecurityEvent.Kind.SOCIAL_LINKED, user)
    assert linked.data["proof"] == "signup" and linked.data["provider"] == "partner"

    claims = finish_at_rp(client, app, secret, next_url, verifier)
    assert claims["sub"] == str(user.sub)
    assert claims["nonce"] == nonce
    assert claims["amr"] == ["fed"]
    assert claims["acr"] == "urn:ciam:acr:password"


def test_returning_member_signs_in_without_questions(client, partner_app, upstream):
    social_login(client, upstream)
    user_id = signed_in_user_id(client)
    other_browser = Client()
    response = social_login(other_browser, upstream)
    assert response.status_code == 302
    assert signed_in_user_id(other_browser) == user_id
    assert User.objects.count() == 1


@pytest.fixture
def member_email_upstream(upstream, member):
    upstream.subject.update(email=member.email, email_verified=True, sub="google-style-subject")
    return upstream


def test_verified_email_of_existing_account_neither_signs_in_nor_links(
    client, partner_app, member_email_upstream, member
):
    response = social_login(client, member_email_upstream)

    assert response.status_code == 302 and response["Location"] == "/account/social/link/"
    assert signed_in_user_id(client) is None
    assert not SocialAccount.objects.exists()
    page = client.get("/account/social/link/")
    assert page.status_code == 200
    assert b'id="link-password"' in page.content and member.email.encode() in page.content


def test_wrong_password_is_refused_right_password_links_and_signs_in(
    client, partner_app, member_email_upstream, member, rp
):
    app, secret = rp
    next_url, verifier, _nonce = rp_login_next(client, app)
    social_login(client, member_email_upstream, next_url=next_url)

    wrong = client.post("/account/social/link/", {"password": "not the password at all"})
    assert wrong.status_code == 400
    assert signed_in_user_id(client) is None
    assert not SocialAccount.objects.exists()
    [refused] = events(SecurityEvent.Kind.SOCIAL_REJECTED, member)
    assert refused.data["reason"] == "wrong_password"

    right = client.post("/account/social/link/", {"password": PASSWORD})
    assert right.status_code == 302 and right["Location"] == next_url
    assert signed_in_user_id(client) == str(member.pk)
    account = SocialAccount.objects.get()
    assert account.user == member and account.uid == "google-style-subject"
    [linked] = events(SecurityEvent.Kind.SOCIAL_LINKED, member)
    assert linked.data["proof"] == "password"

    # The session is a federated sign-in; the password only proved the link.
    claims = finish_at_rp(client, app, secret, next_url, verifier)
    assert claims["sub"] == str(member.sub) and claims["amr"] == ["fed"]

    # From now on the upstream account signs straight in.
    other_browser = Client()
    again = social_login(other_browser, member_email_upstream)
    assert again.status_code == 302 and again["Location"] != "/account/social/link/"
    assert signed_in_user_id(other_browser) == str(member.pk)


def test_too_many_wrong_passwords_end_the_pending_link(client, partner_app, member_email_upstream, member):
    social_login(client, member_email_upstream)
    for _ in range(4):
        assert client.post("/account/social/link/", {"password": "wrong wrong wrong"}).status_code == 400
    last = client.post("/account/social/link/", {"password": "wrong wrong wrong"})
    assert last.status_code == 302 and last["Location"] == "/accounts/login/"
    # Even the right password no longer links: the person must start again.
    gone = client.post("/account/social/link/", {"password": PASSWORD})
    assert gone.status_code == 302 and gone["Location"] == "/accounts/login/"
    assert signed_in_user_id(client) is None and not SocialAccount.objects.exists()
    reasons = [e.data["reason"] for e in events(SecurityEvent.Kind.SOCIAL_REJECTED, member)]
    assert reasons.count("wrong_password") == 5


def _code_from_outbox() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def test_emailed_code_proves_ownership(client, partner_app, member_email_upstream, member):
    social_login(client, member_email_upstream)
    sent = client.post("/account/social/link/code")
    assert sent.status_code == 302
    assert mail.outbox[-1].to == [member.email]
    code = _code_from_outbox()

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = client.post("/account/social/link/code/verify", {"code": wrong})
    assert refused.status_code == 400 and signed_in_user_id(client) is None
    assert not SocialAccount.objects.exists()

    accepted = client.post("/account/social/link/code/verify", {"code": code})
    assert accepted.status_code == 302
    assert signed_in_user_id(client) == str(member.pk)
    assert SocialAccount.objects.get().user == member
    [linked] = events(SecurityEvent.Kind.SOCIAL_LINKED, member)
    assert linked.data["proof"] == "email_code"


def test_code_from_an_earlier_pending_link_does_not_work(
    client, partner_app, member_email_upstream, member, monkeypatch
):
    codes = iter([111111, 222222])
    monkeypatch.setattr("accounts.social.services.secrets.randbelow", lambda _n: next(codes))
    social_login(client, member_email_upstream)
    client.post("/account/social/link/code")
    assert _code_from_outbox() == "111111"
    social_login(client, member_email_upstream)  # a new attempt replaces the pending link
    client.post("/account/social/link/code")
    assert _code_from_outbox() == "222222"
    refused = client.post("/account/social/link/code/verify", {"code": "111111"})
    assert refused.status_code == 400
    assert signed_in_user_id(client) is None and not SocialAccount.objects.exists()


def test_no_emailed_code_for_an_address_not_verified_here(client, partner_app, member_email_upstream, member):
    EmailAddress.objects.filter(user=member).update(verified=False)
    social_login(client, member_email_upstream)
    page = client.get("/account/social/link/")
    assert b"/account/social/link/code" not in page.content
    refused = client.post("/account/social/link/code")
    assert refused.status_code == 302 and not mail.outbox


def test_not_my_account_signs_up_with_another_address(client, partner_app, member_email_upstream, member):
    social_login(client, member_email_upstream)
    declined = client.post("/account/social/link/other-email")
    assert declined.status_code == 302 and declined["Location"] == "/accounts/3rdparty/signup/"
    form = client.get("/accounts/3rdparty/signup/")
    assert form.status_code == 200 and member.email.encode() not in form.content
    created = client.post("/accounts/3rdparty/signup/", {"email": "someone.else@example.com"})
    assert created.status_code == 302
    user = User.objects.get(email="someone.else@example.com")
    assert signed_in_user_id(client) == str(user.pk)
    assert SocialAccount.objects.get().user == user
    assert not SocialAccount.objects.filter(user=member).exists()


@pytest.mark.parametrize("verified", [False, "false", None], ids=["false", "string-false", "absent"])
def test_unverified_upstream_email_never_takes_over_an_account(
    client, partner_app, upstream, member, verified
):
    upstream.subject.update(email=member.email.upper(), email_verified=verified)
    if verified is None:
        del upstream.subject["email_verified"]

    response = social_login(client, upstream)

    assert response.status_code == 409
    assert b'id="unverified-email"' in response.content
    assert signed_in_user_id(client) is None
    assert not SocialAccount.objects.exists()
    assert client.get("/account/social/link/").status_code == 302  # nothing to prove: no link offered
    [refused] = events(SecurityEvent.Kind.SOCIAL_REJECTED, member)
    assert refused.data["reason"] == "unverified_email"

    # The offer: sign up with another address (the taken one is not prefilled, and refused).
    assert member.email.encode() not in client.get("/accounts/3rdparty/signup/").content.lower()
    taken = client.post("/accounts/3rdparty/signup/", {"email": member.email})
    assert taken.status_code == 200 and signed_in_user_id(client) is None
    created = client.post("/accounts/3rdparty/signup/", {"email": "fresh@example.com"})
    assert created.status_code == 302
    assert SocialAccount.objects.get().user.email == "fresh@example.com"
    assert signed_in_user_id(client) != str(member.pk)


def test_unverified_email_of_nobody_signs_up_with_the_address_unverified(client, partner_app, upstream):
    upstream.subject.update(email="unconfirmed@example.com", email_verified=False)
    response = social_login(client, upstream)
    assert response.status_code == 302
    user = User.objects.get(email="unconfirmed@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    [linked] = events(SecurityEvent.Kind.SOCIAL_LINKED, user)
    assert linked.data["email_verified"] is False


def test_inactive_account_is_not_linked(client, partner_app, member_email_upstream, member):
    member.is_active = False
    member.save(update_fields=["is_active"])
    response = social_login(client, member_email_upstream)
    assert response.status_code == 403
    assert signed_in_user_id(client) is None and not SocialAccount.objects.exists()
    assert events(SecurityEvent.Kind.SOCIAL_REJECTED, member)[0].data["reason"] == "inactive"


def test_account_without_password_proves_with_an_emailed_code(
    client, partner_app, member_email_upstream, member
):
    member.set_unusable_password()
    member.save(update_fields=["password"])
    social_login(client, member_email_upstream)
    page = client.get("/account/social/link/")
    assert b'id="link-password"' not in page.content
    assert client.post("/account/social/link/", {"password": PASSWORD}).status_code == 400
    client.post("/account/social/link/code")
    assert client.post("/account/social/link/code/verify", {"code": _code_from_outbox()}).status_code == 302
    assert signed_in_user_id(client) == str(member.pk)


def test_link_page_without_a_pending_sign_in(client, db):
    response = client.get("/account/social/link/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.post("/account/social/link/code").status_code == 302
    assert not mail.outbox


def test_second_factor_is_still_asked_after_linking(client, partner_app, member_email_upstream, member):
    """The link proof is not a sign-in: a member with an authenticator app still needs it."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=member, name="Phone", confirmed=True)
    social_login(client, member_email_upstream)
    response = client.post("/account/social/link/", {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/account/mfa/")
    assert signed_in_user_id(client) is None

    # The linked account signs in next time, and the second factor is asked again.
    browser = Client()
    again = social_login(browser, member_email_upstream)
    assert again.status_code == 302 and again["Location"].startswith("/account/mfa/")
    assert signed_in_user_id(browser) is None
