"""Known devices: a long-lived random cookie (only its hash stored), the ``new_device`` event and
the "new sign-in" email sent through a Celery task, and ``is_known_device`` for step-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import RequestFactory
from django.utils import timezone

from accounts.app_settings import app_settings
from accounts.models import KnownDevice, SecurityEvent
from accounts.security.selectors import device_hash, is_known_device
from tests.accounts.security.conftest import FIREFOX_LINUX, SAFARI_IPHONE
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db

NEW_DEVICE = SecurityEvent.Kind.NEW_DEVICE
COOKIE = app_settings.DEVICE_COOKIE_NAME


@pytest.fixture
def sign_in(eager_tasks, django_capture_on_commit_callbacks):
    """Sign in and run what the sign-in queued (the email task), as a committed request would."""

    def run(client, user, password=PASSWORD):
        with django_capture_on_commit_callbacks(execute=True):
            return login(client, user, password)

    return run


def test_first_device_is_remembered_quietly_with_a_hashed_cookie(browser, member, sign_in):
    laptop = browser(FIREFOX_LINUX)
    resp = sign_in(laptop, member)

    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and int(cookie["max-age"]) >= 365 * 24 * 3600
    device = KnownDevice.objects.get(user=member)
    assert device.device_hash == device_hash(cookie.value) != cookie.value
    assert device.user_agent == FIREFOX_LINUX
    assert not SecurityEvent.objects.filter(kind=NEW_DEVICE).exists() and not mail.outbox


def test_sign_in_from_a_new_device_is_recorded_and_emailed(browser, member, sign_in):
    sign_in(browser(FIREFOX_LINUX), member)
    phone = browser(SAFARI_IPHONE, "203.0.113.40")
    phone.defaults.update(HTTP_CF_IPCOUNTRY="JP", HTTP_CF_IPCITY="Osaka")
    sign_in(phone, member)

    event = SecurityEvent.objects.get(user=member, kind=NEW_DEVICE)
    assert event.ip == "203.0.113.40" and event.data["location"] == "Osaka, JP"
    [message] = mail.outbox
    assert message.to == [member.email]
    assert message.subject == "New sign-in to your Member ID account"
    assert "Safari on iOS" in message.body and "Osaka, JP" in message.body and "203.0.113.40" in message.body
    assert "http://127.0.0.1:8000/account/security/sessions" in message.body
    html = message.alternatives[0][0]
    assert "Safari on iOS" in html
    assert KnownDevice.objects.filter(user=member).count() == 2


def test_the_same_browser_again_is_not_new(browser, member, sign_in):
    laptop = browser(FIREFOX_LINUX)
    sign_in(laptop, member)
    phone = browser(SAFARI_IPHONE)
    sign_in(phone, member)
    phone.post("/accounts/logout/")
    sign_in(phone, member)
    assert SecurityEvent.objects.filter(kind=NEW_DEVICE).count() == 1 and len(mail.outbox) == 1


def test_a_forged_or_foreign_cookie_is_a_new_device(browser, member, django_user_model, sign_in):
    other = django_user_model.objects.create_user(email="other@example.com", password=PASSWORD)
    sign_in(browser(FIREFOX_LINUX), member)
    shared = browser(SAFARI_IPHONE)
    sign_in(shared, other)  # this browser is known to the other account only
    sign_in(shared, member)
    forged = browser(SAFARI_IPHONE)
    forged.cookies[COOKIE] = "A" * 43
    sign_in(forged, member)
    assert SecurityEvent.objects.filter(user=member, kind=NEW_DEVICE).count() == 2


def test_a_device_not_seen_for_a_year_counts_as_new_again(browser, member, sign_in):
    sign_in(browser(SAFARI_IPHONE), member)
    laptop = browser(FIREFOX_LINUX)
    sign_in(laptop, member)
    laptop.post("/accounts/logout/")
    sign_in(laptop, member)
    assert SecurityEvent.objects.filter(user=member, kind=NEW_DEVICE).count() == 1  # known now

    KnownDevice.objects.filter(user=member, user_agent=FIREFOX_LINUX).update(
        last_seen=timezone.now() - timedelta(days=366)
    )
    laptop.post("/accounts/logout/")
    sign_in(laptop, member)
    assert SecurityEvent.objects.filter(user=member, kind=NEW_DEVICE).count() == 2


def test_sign_up_is_not_a_new_sign_in(
    client, django_user_model, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/signup/", {"email": "fresh@example.com", "password1": "a-Good-passphrase-91"})
    user = django_user_model.objects.get(email="fresh@example.com")
    assert KnownDevice.objects.filter(user=user).count() == 1
    assert not SecurityEvent.objects.filter(kind=NEW_DEVICE).exists()
    assert [m.subject for m in mail.outbox if "sign-in" in m.subject] == []


def test_new_sign_in_language_follows_the_page(browser, member, sign_in):
    sign_in(browser(FIREFOX_LINUX), member)
    phone = browser(SAFARI_IPHONE)
    phone.cookies["django_language"] = "ja"
    sign_in(phone, member)
    assert SecurityEvent.objects.get(kind=NEW_DEVICE).data["language"] == "ja"
    assert len(mail.outbox) == 1


def test_is_known_device_for_step_up(browser, member, django_user_model, sign_in):
    other = django_user_model.objects.create_user(email="other@example.com", password=PASSWORD)
    laptop = browser(FIREFOX_LINUX)
    token = sign_in(laptop, member).cookies[COOKIE].value

    def request(cookie=None):
        req = RequestFactory().get("/accounts/login/")
        if cookie is not None:
            req.COOKIES[COOKIE] = cookie
        return req

    assert is_known_device(request(token), member)
    assert not is_known_device(request(token), other)
    assert not is_known_device(request(), member)
    assert not is_known_device(request("x" * 43), member)
    KnownDevice.objects.filter(user=member).update(last_seen=timezone.now() - timedelta(days=366))
    assert not is_known_device(request(token), member)
