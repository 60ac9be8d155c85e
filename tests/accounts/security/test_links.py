"""Password reset and email confirmation links: single-use, expiring, and dead once the password
or the email address changes. Expiry is shown by links minted with an older timestamp."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account import app_settings as allauth_settings
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail, signing
from django.utils import timezone

from accounts.models import SecurityEvent
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Another-good-phrase-77"
OTHER_PASSWORD = "Yet-another-phrase-88"


def last_link(kind: str) -> str:
    """The link of that kind in the newest email that has one (notifications may come after)."""
    for message in reversed(mail.outbox):
        found = re.search(rf"http://testserver(/accounts/{kind}/\S+)", message.body)
        if found:
            return found.group(1)
    raise AssertionError(f"no {kind} link in the outbox")


# --- password reset -------------------------------------------------------------------------------


def reset_link(client, user) -> str:
    client.post("/accounts/password/reset/", {"email": user.email})
    return last_link("password/reset/key")


def reset_link_opens(client, link: str) -> bool:
    resp = client.get(link)
    if resp.status_code == 302:
        return True
    assert resp.status_code == 200 and resp.context["token_fail"]
    return False


def use_reset_link(client, link: str, password: str) -> bool:
    form = client.get(link, follow=True)
    done = client.post(form.redirect_chain[-1][0], {"password1": password, "password2": password})
    return done.status_code == 302


def test_reset_link_is_single_use(client, browser, member):
    link = reset_link(client, member)
    assert use_reset_link(client, link, NEW_PASSWORD)
    assert not reset_link_opens(browser(), link)
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)


def test_reset_link_expires(client, member):
    link = reset_link(client, member)
    uidb36, token = re.search(r"/key/([0-9a-z]+)-(.+)/$", link).groups()
    assert reset_link_opens(client, link)
    # The same link minted PASSWORD_RESET_TIMEOUT (+1s) ago.
    gen = default_token_generator
    minted = gen._num_seconds(gen._now()) - settings.PASSWORD_RESET_TIMEOUT - 1
    old = gen._make_token_with_timestamp(member, minted, gen.secret)
    assert old != token
    assert not reset_link_opens(client, f"/accounts/password/reset/key/{uidb36}-{old}/")


def test_reset_link_dies_when_the_password_changes(client, browser, member):
    link = reset_link(client, member)
    laptop = browser()
    login(laptop, member)
    laptop.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert not reset_link_opens(client, link)


def test_reset_link_dies_when_the_email_changes(client, browser, member):
    EmailAddress.objects.create(user=member, email="new@example.com", verified=True, primary=False)
    link = reset_link(client, member)
    laptop = browser()
    login(laptop, member)
    laptop.post("/accounts/reauthenticate/", {"password": PASSWORD})
    laptop.post("/accounts/email/", {"email": "new@example.com", "action_primary": ""})
    member.refresh_from_db()
    assert member.email == "new@example.com"
    assert not reset_link_opens(client, link)


def test_reset_link_dies_when_the_member_signs_in(client, browser, member):
    """Django's token covers ``last_login``: remembering the password retires the link."""
    link = reset_link(client, member)
    login(browser(), member)
    assert not reset_link_opens(client, link)


# --- email confirmation -----------------------------------------------------------------------------


@pytest.fixture
def fresh(client, django_user_model):
    """A member just signed up (signed in in ``client``), with the confirmation link mailed."""
    client.post("/accounts/signup/", {"email": "fresh@example.com", "password1": "a-Good-passphrase-91"})
    user = django_user_model.objects.get(email="fresh@example.com")
    return user, last_link("confirm-email")


def confirm(client, link: str) -> bool:
    page = client.get(link)
    if page.context["confirmation"] is None:
        assert client.post(link).status_code == 404
        return False
    client.post(link)
    return True


def verified(user, email=None) -> bool:
    return EmailAddress.objects.get(user=user, email=email or user.email).verified


def test_confirmation_link_is_single_use(client, browser, fresh):
    user, link = fresh
    assert confirm(client, link) and verified(user)
    assert not confirm(browser(), link)


def test_confirmation_link_expires(client, fresh):
    user, link = fresh
    address = EmailAddress.objects.get(user=user)

    class Then(signing.TimestampSigner):
        def timestamp(self):
            days = allauth_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS
            return signing.b62_encode(int((timezone.now() - timedelta(days=days, seconds=1)).timestamp()))

    old_key = Then(salt=allauth_settings.SALT).sign_object(address.pk)
    assert not confirm(client, f"/accounts/confirm-email/{old_key}/")
    assert not verified(user)
    assert confirm(client, link)  # the fresh one still works


def test_confirmation_link_dies_when_the_password_changes(client, fresh):
    user, link = fresh
    resp = client.post(
        "/accounts/password/change/",
        {"oldpassword": "a-Good-passphrase-91", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert resp.status_code == 302
    assert not confirm(client, link)
    assert not verified(user)


def test_a_link_sent_after_the_change_works(client, fresh):
    user, _old_link = fresh
    client.post(
        "/accounts/password/change/",
        {"oldpassword": "a-Good-passphrase-91", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    # Move the clock: the change was a minute ago (links carry whole seconds).
    SecurityEvent.objects.filter(user=user, kind=SecurityEvent.Kind.PASSWORD_CHANGED).update(
        created=timezone.now() - timedelta(minutes=1)
    )
    client.post("/accounts/reauthenticate/", {"password": NEW_PASSWORD})
    client.post("/accounts/email/", {"email": user.email, "action_send": ""})
    assert confirm(client, last_link("confirm-email"))
    assert verified(user)


def test_confirmation_link_dies_when_the_email_changes(client, member):
    login(client, member)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    client.post("/accounts/email/", {"email": "pending@example.com", "action_add": ""})
    pending_link = last_link("confirm-email")
    EmailAddress.objects.create(user=member, email="second@example.com", verified=True, primary=False)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    client.post("/accounts/email/", {"email": "second@example.com", "action_primary": ""})
    assert SecurityEvent.objects.filter(user=member, kind=SecurityEvent.Kind.EMAIL_CHANGED).exists()

    assert not confirm(client, pending_link)
    assert not verified(member, "pending@example.com")


def test_confirmation_link_dies_when_the_address_is_removed(client, member):
    login(client, member)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    client.post("/accounts/email/", {"email": "pending@example.com", "action_add": ""})
    link = last_link("confirm-email")
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    client.post("/accounts/email/", {"email": "pending@example.com", "action_remove": ""})
    assert not EmailAddress.objects.filter(email="pending@example.com").exists()
    assert not confirm(client, link)
