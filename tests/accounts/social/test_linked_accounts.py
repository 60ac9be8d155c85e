"""The linked-accounts page: list, link while signed in, unlink (never the last way in)."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import SecurityEvent, WebAuthnCredential
from tests.accounts.social.conftest import signed_in_user_id, social_login
from tests.conftest import login

User = get_user_model()
PAGE = "/account/social/"


def link(user, provider="partner", uid="uid-1", email="linked@example.com") -> SocialAccount:
    return SocialAccount.objects.create(user=user, provider=provider, uid=uid, extra_data={"email": email})


@pytest.fixture
def social_only_user(db, partner_app, upstream):
    """A member who signed up through the upstream: no password, no passkey, one linked account."""
    browser = Client()
    social_login(browser, upstream)
    user = User.objects.get(email=upstream.subject["email"])
    assert not user.has_usable_password()
    return user, browser


def test_page_lists_linked_accounts_and_offers_others(client, member, partner_app):
    link(member)
    login(client, member)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert b"Partner ID" in page.content and b"linked@example.com" in page.content
    assert b'action="/account/social/' in page.content  # the unlink form
    # Linking another account posts to the provider's login with process=connect.
    assert (
        b'action="/accounts/oidc/partner/login/?process=connect&amp;next=%2Faccount%2Fsocial%2F"'
        in page.content
    )


def test_page_needs_a_signed_in_member(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_signed_in_member_links_an_upstream_account(client, member, partner_app, upstream):
    upstream.subject.update(email="someone-else@example.com")  # the upstream's address does not matter here
    login(client, member)
    response = social_login(client, upstream, process="connect", next_url=PAGE)
    assert response.status_code == 302 and response["Location"] == PAGE
    assert signed_in_user_id(client) == str(member.pk)
    account = SocialAccount.objects.get()
    assert account.user == member
    [event] = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SOCIAL_LINKED)
    assert event.user == member and event.data["proof"] == "session"


def test_upstream_account_of_another_member_is_not_moved(client, member, social_only_user, upstream):
    owner, _browser = social_only_user
    login(client, member)
    response = social_login(client, upstream, process="connect", next_url=PAGE)
    assert response.status_code == 302
    assert SocialAccount.objects.get().user == owner
    [refused] = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SOCIAL_REJECTED, user=member)
    assert refused.data["reason"] == "connected_other"


def test_unlink_with_a_password_left(client, member, partner_app):
    account = link(member)
    login(client, member)
    response = client.post(f"{PAGE}{account.pk}/unlink")
    assert response.status_code == 302
    assert not SocialAccount.objects.exists()
    [event] = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SOCIAL_UNLINKED)
    assert event.user == member and event.data["provider"] == "partner"


def test_last_way_in_cannot_be_unlinked(social_only_user):
    user, browser = social_only_user
    account = SocialAccount.objects.get(user=user)
    page = browser.get(PAGE)
    assert f"{PAGE}{account.pk}/unlink".encode() not in page.content

    response = browser.post(f"{PAGE}{account.pk}/unlink")
    assert response.status_code == 302
    assert SocialAccount.objects.filter(pk=account.pk).exists()
    [refused] = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SOCIAL_REJECTED, user=user)
    assert refused.data["reason"] == "last_way_in"
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SOCIAL_UNLINKED).exists()
    assert b"only way to sign in" in browser.get(PAGE).content


def test_a_passkey_is_another_way_in(social_only_user):
    user, browser = social_only_user
    WebAuthnCredential.objects.create(user=user, name="Phone", credential_id=b"cred-1", public_key=b"pk")
    account = SocialAccount.objects.get(user=user)
    assert browser.post(f"{PAGE}{account.pk}/unlink").status_code == 302
    assert not SocialAccount.objects.filter(pk=account.pk).exists()


def test_another_linked_account_is_another_way_in(social_only_user):
    user, browser = social_only_user
    first = SocialAccount.objects.get(user=user)
    second = link(user, provider="google", uid="g-1")
    assert browser.post(f"{PAGE}{first.pk}/unlink").status_code == 302
    assert list(SocialAccount.objects.filter(user=user)) == [second]
    # ...and now the remaining one is the last way in.
    browser.post(f"{PAGE}{second.pk}/unlink")
    assert SocialAccount.objects.filter(pk=second.pk).exists()


def test_cannot_unlink_someone_elses_account(client, member, social_only_user):
    owner, _browser = social_only_user
    account = SocialAccount.objects.get(user=owner)
    login(client, member)
    client.post(f"{PAGE}{account.pk}/unlink")
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_unlink_needs_post(client, member, partner_app):
    account = link(member)
    login(client, member)
    assert client.get(f"{PAGE}{account.pk}/unlink").status_code == 405
    assert SocialAccount.objects.exists()


def test_allauths_own_disconnect_goes_through_our_rules(client, member, partner_app):
    """allauth's connections page would unlink without our event: it refuses and points to ours."""
    account = link(member)
    login(client, member)
    response = client.post("/accounts/3rdparty/", {"account": account.pk})
    assert response.status_code == 200
    assert SocialAccount.objects.filter(pk=account.pk).exists()
    assert b"/account/social/" in client.get("/accounts/3rdparty/").content
