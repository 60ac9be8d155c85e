"""Sessions and devices: the member's signed-in browsers, last seen, and signing any of them out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import SecurityEvent, UserSession
from accounts.security.services import seen_cache_key
from tests.accounts.security.conftest import CHROME_WINDOWS, FIREFOX_LINUX, SAFARI_IPHONE
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Another-good-phrase-77"


def signed_in(browser, member, user_agent, ip="127.0.0.1", **headers):
    client = browser(user_agent, ip)
    client.defaults.update(headers)
    login(client, member)
    return client


def row_of(client) -> UserSession:
    return UserSession.objects.get(pk=client.session["idp_security_session"])


def is_signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_sessions_page_lists_devices_places_and_this_device(browser, member):
    laptop = signed_in(browser, member, FIREFOX_LINUX, "192.168.1.20")
    phone = signed_in(
        browser, member, SAFARI_IPHONE, "203.0.113.9", HTTP_CF_IPCOUNTRY="JP", HTTP_CF_IPCITY="Osaka"
    )

    page = laptop.get("/account/security/sessions")
    assert page.status_code == 200
    sessions = page.context["sessions"]
    assert [(s.device, s.location, s.is_current) for s in sessions] == [
        ("Firefox on Linux", "Local network", True),
        ("Safari on iOS", "Osaka, JP", False),
    ]
    html = page.content.decode()
    assert 'id="this-device"' in html and html.count('/sign-out"') == 1  # only the other one
    assert sessions[1].id == row_of(phone).pk


def test_revoking_a_session_signs_that_browser_out(browser, member):
    laptop = signed_in(browser, member, FIREFOX_LINUX)
    phone = signed_in(browser, member, SAFARI_IPHONE)
    assert is_signed_in(phone)
    phone_row = row_of(phone)

    resp = laptop.post(f"/account/security/sessions/{phone_row.pk}/sign-out")
    assert resp.status_code == 302 and resp["Location"] == "/account/security/sessions"

    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    phone_row.refresh_from_db()
    assert phone_row.ended_at is not None
    event = SecurityEvent.objects.get(user=member, kind=SecurityEvent.Kind.SESSION_REVOKED)
    assert event.data["session"] == phone_row.pk and event.data["session_device"] == "Safari on iOS"
    assert [s.device for s in laptop.get("/account/security/sessions").context["sessions"]] == [
        "Firefox on Linux"
    ]


def test_this_browser_cannot_be_revoked_from_the_list(browser, member):
    laptop = signed_in(browser, member, FIREFOX_LINUX)
    laptop.post(f"/account/security/sessions/{row_of(laptop).pk}/sign-out")
    assert is_signed_in(laptop)
    assert row_of(laptop).ended_at is None


def test_another_members_session_cannot_be_revoked(browser, member, django_user_model):
    other = django_user_model.objects.create_user(email="other@example.com", password=PASSWORD)
    theirs = signed_in(browser, other, CHROME_WINDOWS)
    mine = signed_in(browser, member, FIREFOX_LINUX)

    mine.post(f"/account/security/sessions/{row_of(theirs).pk}/sign-out")
    assert is_signed_in(theirs)
    assert row_of(theirs).ended_at is None


def test_revoking_needs_post(browser, member):
    laptop = signed_in(browser, member, FIREFOX_LINUX)
    phone = signed_in(browser, member, SAFARI_IPHONE)
    assert laptop.get(f"/account/security/sessions/{row_of(phone).pk}/sign-out").status_code == 405
    assert is_signed_in(phone)


def test_sign_out_all_other_devices(browser, member):
    laptop = signed_in(browser, member, FIREFOX_LINUX)
    phone = signed_in(browser, member, SAFARI_IPHONE)
    desktop = signed_in(browser, member, CHROME_WINDOWS)

    laptop.post("/account/security/sessions/sign-out-others")

    assert is_signed_in(laptop)
    assert not is_signed_in(phone) and not is_signed_in(desktop)
    assert SecurityEvent.objects.filter(user=member, kind=SecurityEvent.Kind.SESSION_REVOKED).count() == 2


def test_last_seen_written_at_most_once_a_minute(browser, member):
    laptop = signed_in(browser, member, FIREFOX_LINUX)
    row = row_of(laptop)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    UserSession.objects.filter(pk=row.pk).update(last_seen=an_hour_ago)

    laptop.get("/")  # within the minute of the sign-in: no write
    row.refresh_from_db()
    assert row.last_seen == an_hour_ago

    key = laptop.session.session_key
    cache.set(seen_cache_key(key), cache.get(seen_cache_key(key)) - 61)  # the minute has passed
    laptop.get("/")
    row.refresh_from_db()
    assert timezone.now() - row.last_seen < timedelta(seconds=30)


def test_a_session_ended_elsewhere_is_signed_out_on_its_next_visit(browser, member):
    """Even if its Django session survived (a race with the deletion), the row's end wins."""
    laptop = signed_in(browser, member, FIREFOX_LINUX)
    UserSession.objects.filter(pk=row_of(laptop).pk).update(ended_at=timezone.now())
    cache.delete(seen_cache_key(laptop.session.session_key))
    assert not is_signed_in(laptop)


def test_sessions_that_expired_are_not_listed(browser, member, settings):
    laptop = signed_in(browser, member, FIREFOX_LINUX)
    phone = signed_in(browser, member, SAFARI_IPHONE)
    old = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)
    UserSession.objects.filter(pk=row_of(phone).pk).update(last_seen=old)
    assert [s.device for s in laptop.get("/account/security/sessions").context["sessions"]] == [
        "Firefox on Linux"
    ]


def test_password_change_ends_the_other_sessions_and_keeps_this_one(browser, member):
    laptop = signed_in(browser, member, FIREFOX_LINUX)
    phone = signed_in(browser, member, SAFARI_IPHONE)
    laptop_row, phone_row = row_of(laptop), row_of(phone)

    resp = laptop.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert resp.status_code == 302

    assert is_signed_in(laptop) and not is_signed_in(phone)
    laptop_row.refresh_from_db()
    assert laptop_row.ended_at is None
    assert laptop_row.session_key == laptop.session.session_key  # Django changed the key; the row followed
    phone_row.refresh_from_db()
    assert phone_row.ended_at is not None
    assert [s.is_current for s in laptop.get("/account/security/sessions").context["sessions"]] == [True]
