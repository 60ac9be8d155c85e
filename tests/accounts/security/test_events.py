"""Security events: written for sign-ins, failures, sign-outs and account changes; shown to their
owner on the account page and to staff (read-only) in the admin."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

import idp.settings
from accounts.models import SecurityEvent, UserSession
from tests.accounts.mfa.conftest import force_login_with_mfa
from tests.accounts.security.conftest import FIREFOX_LINUX, MIDDLEWARE
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db

Kind = SecurityEvent.Kind
NEW_PASSWORD = "Another-good-phrase-77"


def kinds(user) -> list[str]:
    return list(SecurityEvent.objects.filter(user=user).order_by("id").values_list("kind", flat=True))


def test_the_settings_install_the_protection_middleware():
    """idp/settings.py must list the middleware (last-seen times, stuffing bar, stale email links)."""
    assert MIDDLEWARE in idp.settings.MIDDLEWARE
    assert idp.settings.MIDDLEWARE.index(MIDDLEWARE) > idp.settings.MIDDLEWARE.index(
        "allauth.account.middleware.AccountMiddleware"
    )


def test_login_records_the_method_the_session_and_the_device(browser, member):
    client = browser(FIREFOX_LINUX, "203.0.113.7")
    login(client, member)

    event = SecurityEvent.objects.get(user=member, kind=Kind.LOGIN)
    assert event.data["method"] == "password"
    assert event.data["amr"] == ["pwd"]
    assert event.ip == "203.0.113.7"
    assert event.user_agent == FIREFOX_LINUX
    session = UserSession.objects.get(user=member)
    assert session.session_key == client.session.session_key
    assert event.data["session"] == session.pk
    assert session.ended_at is None and session.ip == "203.0.113.7"


def test_logout_ends_the_session_and_is_recorded(client, member):
    login(client, member)
    client.post("/accounts/logout/")
    assert kinds(member)[-1] == Kind.LOGOUT
    assert UserSession.objects.get(user=member).ended_at is not None


def test_failed_login_recorded_for_the_account_and_not_for_unknown_names(client, member):
    client.post("/accounts/login/", {"login": member.email, "password": "wrong-password-1"})
    client.post("/accounts/login/", {"login": "nobody@example.com", "password": "wrong-password-1"})

    assert kinds(member) == [Kind.LOGIN_FAILED]
    anonymous = SecurityEvent.objects.get(user=None, kind=Kind.LOGIN_FAILED)
    assert "nobody" not in str(anonymous.data)  # a pseudonym, not the address someone typed
    assert len(anonymous.data["login_id"]) == 32


def test_signup_recorded(client, django_user_model):
    client.post("/accounts/signup/", {"email": "fresh@example.com", "password1": "a-Good-passphrase-91"})
    user = django_user_model.objects.get(email="fresh@example.com")
    assert kinds(user)[:2] == [Kind.SIGNUP, Kind.LOGIN]


def test_password_change_recorded(client, member):
    login(client, member)
    resp = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert resp.status_code == 302
    assert kinds(member)[-1] == Kind.PASSWORD_CHANGED


def test_password_reset_recorded(client, member):
    client.post("/accounts/password/reset/", {"email": member.email})
    link = mail.outbox[0].body.split("http://testserver", 1)[1].split()[0]
    form = client.get(link, follow=True)
    client.post(form.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert kinds(member) == [Kind.PASSWORD_RESET]


def test_email_change_recorded(client, member):
    EmailAddress.objects.create(user=member, email="new@example.com", verified=True, primary=False)
    login(client, member)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})  # email changes need it
    resp = client.post("/accounts/email/", {"email": "new@example.com", "action_primary": ""})
    assert resp.status_code == 302
    event = SecurityEvent.objects.get(user=member, kind=Kind.EMAIL_CHANGED)
    assert event.data == {"from": "member@example.com", "to": "new@example.com"}


def test_events_page_shows_only_the_members_own_events(client, browser, member, django_user_model):
    other = django_user_model.objects.create_user(email="other@example.com", password=PASSWORD)
    other_browser = browser()
    login(other_browser, other)
    other_browser.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": member.email, "password": "wrong-password-1"})
    login(client, member)

    page = client.get("/account/security/events")
    assert page.status_code == 200
    shown = [event.pk for event, _device, _detail in page.context["rows"]]
    assert shown == list(
        SecurityEvent.objects.filter(user=member).order_by("-created", "-id").values_list("pk", flat=True)
    )
    assert set(SecurityEvent.objects.filter(pk__in=shown).values_list("user", flat=True)) == {member.pk}
    html = page.content.decode()
    assert "Failed sign-in" in html and "with your password" in html and "Firefox on Linux" not in html
    assert 'data-kind="logout"' not in html  # the other member's sign-out

    assert client.get("/account/security/events").context["page"].paginator.count == 2


def test_pages_need_a_signed_in_member(client):
    for path in ("/account/security/events", "/account/security/sessions"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_events_page_in_japanese(client, member):
    login(client, member)
    client.cookies["django_language"] = "ja"
    html = client.get("/account/security/events").content.decode()
    assert '<html lang="ja">' in html


@pytest.fixture
def staff(db, django_user_model):
    return django_user_model.objects.create_superuser(email="staff@example.com", password=PASSWORD)


def test_admin_lists_and_searches_events_read_only(client, staff, member, browser):
    login(browser(), member)
    force_login_with_mfa(client, staff)
    SecurityEvent.objects.filter(user=staff).delete()  # keep the search to the member's row

    listing = client.get("/admin/accounts/securityevent/", {"q": member.email})
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == list(SecurityEvent.objects.filter(user=member))
    event = SecurityEvent.objects.get(user=member)
    detail = client.get(f"/admin/accounts/securityevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert not detail.context["has_change_permission"] and not detail.context["has_delete_permission"]
    assert client.get("/admin/accounts/securityevent/add/").status_code == 403
    assert (
        client.post(f"/admin/accounts/securityevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert SecurityEvent.objects.filter(pk=event.pk).exists()


def test_admin_signs_out_a_session_and_shows_active_sessions_on_the_user(client, staff, member, browser):
    member_browser = browser()
    login(member_browser, member)
    force_login_with_mfa(client, staff)
    session = UserSession.objects.get(user=member)

    user_page = client.get(f"/admin/accounts/user/{member.pk}/change/")
    assert user_page.status_code == 200
    assert FIREFOX_LINUX[:40] in user_page.content.decode()

    resp = client.post(
        "/admin/accounts/usersession/", {"action": "end_sessions", "_selected_action": [session.pk]}
    )
    assert resp.status_code == 302
    session.refresh_from_db()
    assert session.ended_at is not None
    assert member_browser.get("/").status_code == 302  # signed out
