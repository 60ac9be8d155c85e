"""Throttling per account and per client IP (allauth's rate limits, in the cache: Redis in
production), the credential-stuffing bar, and the way in that stays open: the emailed link.

Rate-limit clocks are moved by editing the hit timestamps the cache holds."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django.core.cache import cache

from accounts.models import SecurityEvent
from accounts.security.app_settings import security_settings
from accounts.security.selectors import suspect_key
from accounts.security.services import RATE_LIMIT_APP
from tests.accounts.security.conftest import CHROME_WINDOWS, FIREFOX_LINUX, age_rate_limit
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db

THROTTLED = SecurityEvent.Kind.THROTTLED
NEW_PASSWORD = "Another-good-phrase-77"
TOO_MANY = "Too many failed login attempts"


def attempt(client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def signed_in(resp) -> bool:
    return resp.status_code == 302 and "_auth_user_id" in resp.wsgi_request.session


@pytest.fixture
def other(db, django_user_model):
    return django_user_model.objects.create_user(email="other@example.com", password=PASSWORD)


@pytest.fixture
def no_stuffing_bar(settings):
    """For tests of allauth's own limits: many failing accounts would also mark the source."""
    settings.ACCOUNTS_STUFFING_DISTINCT_ACCOUNTS = 10_000


def test_failed_logins_lock_the_account_temporarily_from_any_ip(client, browser, member, other):
    for i in range(5):
        assert attempt(client, member.email, f"wrong-password-{i}").status_code == 200

    for _ in range(2):
        locked = attempt(client, member.email, PASSWORD)
        assert locked.status_code == 200 and TOO_MANY in locked.content.decode()
        assert not signed_in(locked)
    elsewhere = browser(FIREFOX_LINUX, "198.51.100.20")
    assert TOO_MANY in attempt(elsewhere, member.email, PASSWORD).content.decode()  # per account
    assert signed_in(attempt(client, other.email, PASSWORD))  # another account from the same IP

    # One event per source, not one per refused attempt.
    events = SecurityEvent.objects.filter(user=member, kind=THROTTLED).order_by("id")
    assert [(e.data["action"], e.ip) for e in events] == [
        ("login_failed", "127.0.0.1"),
        ("login_failed", "198.51.100.20"),
    ]

    assert age_rate_limit("login_failed", 5 * 60, key=f"testserver:{member.email}") >= 1
    assert signed_in(attempt(elsewhere, member.email, PASSWORD))


def test_login_attempts_per_ip_are_limited_temporarily(client, browser, member, no_stuffing_bar):
    statuses = [attempt(client, f"user{i}@example.com", "wrong-password").status_code for i in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    assert attempt(client, member.email, PASSWORD).status_code == 429
    assert signed_in(attempt(browser(FIREFOX_LINUX, "198.51.100.21"), member.email, PASSWORD))  # per IP
    refused = SecurityEvent.objects.filter(kind=THROTTLED, data__action="account_login")
    assert sorted(str(e.user) for e in refused) == ["None", member.email]  # an unknown name, the member

    age_rate_limit("login", 60)
    age_rate_limit("login_failed", 60)
    assert signed_in(attempt(client, member.email, PASSWORD))


def test_signup_per_ip_limited_temporarily(client, browser):
    statuses = [
        client.post("/accounts/signup/", {"email": f"x{i}", "password1": ""}).status_code for i in range(21)
    ]
    assert statuses[:20] == [200] * 20 and statuses[20] == 429
    assert (
        browser(FIREFOX_LINUX, "198.51.100.22").post("/accounts/signup/", {"email": "y"}).status_code == 200
    )
    assert SecurityEvent.objects.filter(kind=THROTTLED, data__action="account_signup").count() == 1

    age_rate_limit("signup", 60)
    assert client.post("/accounts/signup/", {"email": "z", "password1": ""}).status_code == 200


def test_password_reset_requests_limited_per_account_and_per_ip(client, browser, member, other):
    for _ in range(5):
        assert client.post("/accounts/password/reset/", {"email": member.email}).status_code == 302
    assert client.post("/accounts/password/reset/", {"email": member.email}).status_code == 429
    assert client.post("/accounts/password/reset/", {"email": other.email}).status_code == 302
    assert len(mail.outbox) == 6

    for i in range(14):
        client.post("/accounts/password/reset/", {"email": f"nobody{i}@example.com"})
    assert client.post("/accounts/password/reset/", {"email": "late@example.com"}).status_code == 429
    other_ip = browser(FIREFOX_LINUX, "198.51.100.23")
    assert other_ip.post("/accounts/password/reset/", {"email": other.email}).status_code == 302

    assert age_rate_limit("reset_password", 60, key=member.email) == 2
    assert client.post("/accounts/password/reset/", {"email": member.email}).status_code == 302


def test_reset_link_forms_limited_per_ip(client):
    """allauth limits POSTs to reset links per IP; opening one (GET) is not counted, the
    tokens being unguessable (an HMAC over the account's state)."""
    path = "/accounts/password/reset/key/1-bad/"
    statuses = [client.post(path, {"password1": "x", "password2": "x"}).status_code for i in range(21)]
    assert statuses[:20] == [200] * 20 and statuses[20] == 429
    age_rate_limit("reset_password_from_key", 60)
    assert client.post(path, {"password1": "x", "password2": "x"}).status_code == 200


def test_device_code_entry_limited_per_account(client, browser, member, other):
    """RFC 8628 §5.1: user codes are short; guessing is limited per account (idp.oauth.device)."""
    login(client, member)
    statuses = [client.post("/device", {"user_code": f"GUESS{i:04d}"}).status_code for i in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
    same_ip = browser()
    login(same_ip, other)
    assert same_ip.post("/device", {"user_code": "GUESS9999"}).status_code == 200
    assert SecurityEvent.objects.filter(user=member, kind=THROTTLED, data__action="device").count() == 1


def test_a_locked_out_member_still_gets_in_with_the_emailed_link(client, member):
    for i in range(5):
        attempt(client, member.email, f"wrong-password-{i}")
    assert TOO_MANY in attempt(client, member.email, PASSWORD).content.decode()

    client.post("/accounts/password/reset/", {"email": member.email})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)
    form = client.get(link, follow=True)
    done = client.post(form.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302

    assert signed_in(attempt(client, member.email, NEW_PASSWORD))
    kinds = list(SecurityEvent.objects.filter(user=member).order_by("id").values_list("kind", flat=True))
    reset_at = kinds.index(SecurityEvent.Kind.PASSWORD_RESET)
    assert THROTTLED in kinds[:reset_at] and SecurityEvent.Kind.LOGIN in kinds[reset_at:]


# --- credential stuffing ----------------------------------------------------------------------------


ATTACKER_IP = "198.51.100.66"


def test_many_accounts_failing_from_one_source_raise_the_bar_for_it(settings, browser, member, other):
    settings.ACCOUNTS_STUFFING_DISTINCT_ACCOUNTS = 5
    # The member has signed in from their laptop before: it holds a device cookie.
    laptop = browser(FIREFOX_LINUX, "203.0.113.30")
    login(laptop, member)
    laptop.post("/accounts/logout/")

    attacker = browser(CHROME_WINDOWS, ATTACKER_IP)
    for i in range(4):
        attempt(attacker, f"victim{i}@example.com", "Summer2024!")
    assert not SecurityEvent.objects.filter(kind=THROTTLED).exists()
    attempt(attacker, "victim4@example.com", "Summer2024!")  # the fifth different account

    mark = SecurityEvent.objects.get(kind=THROTTLED, user=None)
    assert mark.ip == ATTACKER_IP
    assert mark.data["reason"] == "credential_stuffing" and mark.data["accounts"] == 5
    assert mark.data["source"] == ATTACKER_IP

    # The stricter limit for that source: three more sign-in attempts, then refused outright,
    # even with the right password.
    for i in range(3):
        assert attempt(attacker, member.email, f"wrong-password-{i}").status_code == 200
    refused = attempt(attacker, member.email, PASSWORD)
    assert refused.status_code == 429 and not signed_in(refused)
    assert (
        SecurityEvent.objects.filter(user=member, kind=THROTTLED, data__reason="credential_stuffing").count()
        == 1
    )

    # Not held back: the member's own browser (known device cookie) at the same address, and
    # any other source.
    laptop.defaults["REMOTE_ADDR"] = ATTACKER_IP
    assert signed_in(attempt(laptop, member.email, PASSWORD))
    assert signed_in(attempt(browser(FIREFOX_LINUX, "203.0.113.31"), other.email, PASSWORD))

    # Temporary: once the mark's time is up, the source is back to the usual limits.
    key = suspect_key(ATTACKER_IP)
    cache.set(key, {**cache.get(key), "until": time.time() - 1})
    assert signed_in(attempt(attacker, other.email, PASSWORD))


def test_failures_of_one_account_do_not_mark_the_source(settings, browser, member):
    settings.ACCOUNTS_STUFFING_DISTINCT_ACCOUNTS = 3
    attacker = browser(CHROME_WINDOWS, ATTACKER_IP)
    for i in range(4):
        attempt(attacker, member.email, f"wrong-password-{i}")
    assert cache.get(suspect_key(ATTACKER_IP)) is None
    assert not SecurityEvent.objects.filter(kind=THROTTLED, user=None).exists()


def test_the_stricter_limit_is_a_sliding_window(settings, browser, member):
    settings.ACCOUNTS_STUFFING_DISTINCT_ACCOUNTS = 2
    attacker = browser(CHROME_WINDOWS, ATTACKER_IP)
    attempt(attacker, "a@example.com", "x")
    attempt(attacker, "b@example.com", "x")
    for _ in range(3):
        attempt(attacker, "c@example.com", "x")
    assert attempt(attacker, member.email, PASSWORD).status_code == 429

    config = {"login": security_settings.STUFFING_LOGIN_RATE}
    assert age_rate_limit("login", 15 * 60, ip=ATTACKER_IP, app=RATE_LIMIT_APP, config=config) == 1
    age_rate_limit("login_failed", 60, ip=ATTACKER_IP)
    assert signed_in(attempt(attacker, member.email, PASSWORD))
