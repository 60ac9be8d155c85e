"""The staff dashboard (issue 6): figures from real sign-ups, sign-ins, consents and erasures,
rolled up per day and read back from the page's data tables."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SecurityEvent, WebAuthnCredential
from consent.models import ConsentState, ErasureRequest
from consent.privacy import services as privacy_services
from consent.purposes import services as consent_services
from idp.dashboard import metrics, services
from idp.models import DailyMetric
from tests.accounts.mfa import conftest as mfa
from tests.accounts.mfa.conftest import force_login_with_mfa, options
from tests.accounts.social import conftest as social
from tests.accounts.social.conftest import social_login
from tests.conftest import PASSWORD, login
from tests.consent.purposes.conftest import purpose_make

# Fixtures of the MFA and social-login tests: a soft authenticator and the fake upstream.
authenticator = mfa.authenticator
upstream = social.upstream
partner_app = social.partner_app

User = get_user_model()
URL = "/admin/dashboard/"


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.accounts.social.urls"  # social login mounted, as in tests/accounts/social


class Tables(HTMLParser):
    """Every <table id=...> of a page as {id: [[cell text, ...], ...]} (header row first)."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":  # the admin's sidebar has tables without an id: skipped
            tid = dict(attrs).get("id")
            self._table = self.tables.setdefault(tid, []) if tid else None
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def by_row(table: list[list[str]]) -> dict[str, dict[str, str]]:
    header, *rows = table
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


def signup_with_password(email: str) -> Client:
    browser = Client()
    resp = browser.post("/accounts/signup/", {"email": email, "password1": PASSWORD})
    assert resp.status_code == 302, resp.content[:400]
    return browser


def signup_with_passkey(email: str, authenticator) -> Client:
    browser = Client()
    opts = options(browser, "/account/mfa/passkeys/signup/options", {"email": email})
    credential = authenticator.create(opts)
    resp = browser.post("/account/mfa/passkeys/signup", {"email": email, "credential": json.dumps(credential)})
    assert resp.status_code == 302, resp.content[:400]
    return browser


def move_to(day, *users) -> None:
    """Everything these members did happened at noon on ``day`` (the rollup counts by day)."""
    at = timezone.make_aware(datetime.combine(day, time(12)))
    ids = [u.pk for u in users]
    User.objects.filter(pk__in=ids).update(date_joined=at)
    SecurityEvent.objects.filter(user_id__in=ids).update(created=at)
    WebAuthnCredential.objects.filter(user_id__in=ids).update(created=at)
    TOTPDevice.objects.filter(user_id__in=ids).update(created_at=at)
    ConsentState.objects.filter(user_id__in=ids).update(since=at)
    ErasureRequest.objects.filter(user_ref__in=ids).update(created=at)


@pytest.fixture
def history(db, authenticator, partner_app, upstream):
    """Two days ago: sign-ups by every method, sign-ins, a second factor, consents, an erasure."""
    purpose_make("marketing_email", contact_channel="email", position=1)
    purpose_make("analytics", category="analytics", position=2)

    signup_with_password("one@example.com")
    signup_with_password("two@example.com")
    signup_with_passkey("key@example.com", authenticator)
    social_login(Client(), upstream)  # signs up new.member@example.com through the upstream
    one, two, key, social = (
        User.objects.get(email=e)
        for e in ("one@example.com", "two@example.com", "key@example.com", "new.member@example.com")
    )
    # Sign-ins: a password, a passkey (passwordless), the upstream again.
    login(Client(), one)
    browser = Client()
    opts = options(browser, "/account/mfa/passkeys/login/options")
    assert (
        browser.post("/account/mfa/passkeys/login", {"credential": json.dumps(authenticator.get(opts))}).status_code
        == 302
    )
    social_login(Client(), upstream)
    TOTPDevice.objects.create(user=one, name="Authenticator app", confirmed=True)
    TOTPDevice.objects.create(user=two, name="Not confirmed", confirmed=False)
    consent_services.consent_change(user=one, changes={"marketing_email": True, "analytics": True}, channel="web")
    consent_services.consent_change(user=key, changes={"marketing_email": True}, channel="web")
    consent_services.consent_change(user=social, changes={"marketing_email": True}, channel="web")
    consent_services.consent_change(user=social, changes={"marketing_email": False}, channel="web")
    privacy_services.erasure_request_create(user=two, reason=ErasureRequest.Reason.MEMBER)

    day = metrics.today() - timedelta(days=2)
    move_to(day, one, two, key, social)
    return day


@pytest.fixture
def staff(client, admin_user, settings):
    settings.IDP_DASHBOARD_SMALL_COUNT = 0
    force_login_with_mfa(client, admin_user)
    return client


def page_tables(client, **params) -> dict:
    resp = client.get(URL, params)
    assert resp.status_code == 200, resp.content[:300]
    return Tables(resp.content.decode()).tables


def test_the_dashboard_shows_the_rolled_up_day(history, staff):
    day = history
    services.metrics_rollup(days=3)  # three days up to yesterday
    tables = page_tables(staff)

    signups = by_row(tables["signups-per-day"])
    assert signups[day.isoformat()] == {
        "Sign-ups": "4",
        "Password": "2",
        "Passkey": "1",
        "Social: partner": "1",
        "Not recorded": "0",
    }
    assert signups[(day - timedelta(days=1)).isoformat()]["Sign-ups"] == "0"
    assert signups[(day + timedelta(days=1)).isoformat()] == {
        "Sign-ups": "0",
        "Password": "0",
        "Passkey": "0",
        "Social: partner": "0",
        "Not recorded": "0",
    }
    assert signups[(day - timedelta(days=5)).isoformat()]["Sign-ups"] == "–"  # never rolled up
    assert by_row(tables["signups-by-method"]) == {
        "Passkey": {"Sign-ups": "1"},
        "Password": {"Sign-ups": "2"},
        "Social: partner": {"Sign-ups": "1"},
        "Not recorded": {"Sign-ups": "1"},  # the staff account, created today outside the sign-up flow
    }

    logins = by_row(tables["logins-per-day"])[day.isoformat()]
    # Each sign-up signs in (password: no credential step; passkey; upstream), then the three sign-ins.
    assert logins == {
        "Sign-ins": "7",
        "With a second step": "0",
        "Password": "1",
        "Passkey": "2",
        "Right after sign-up": "2",
        "Social: partner": "2",
        "Other": "0",  # the staff member's session today (a test login without a credential step)
    }

    active = by_row(tables["active-per-day"])
    assert active[day.isoformat()] == {"Members": "4", "Active (30 days)": "4", "Signed in that day": "4"}
    # The staff member signed in today, after the rolled-up days.
    assert active[(day + timedelta(days=1)).isoformat()] == {
        "Members": "4",
        "Active (30 days)": "4",
        "Signed in that day": "0",
    }
    assert active[(day - timedelta(days=1)).isoformat()]["Members"] == "0"

    assert by_row(tables["factors-latest"]) == {
        "Authenticator app": {"Members": "1", "Share of members": "25.0%"},
        "Passkey": {"Members": "1", "Share of members": "25.0%"},
        "Either (second factor or passkey)": {"Members": "2", "Share of members": "50.0%"},
    }
    assert by_row(tables["consent-latest"]) == {
        "analytics": {"Members who agreed": "1", "Rate": "25.0%"},
        "marketing_email": {"Members who agreed": "2", "Rate": "50.0%"},
    }
    assert by_row(tables["erasures-by-state"])["Queued"] == {"Requests": "1"}
    assert by_row(tables["erasures-by-state"])["Done"] == {"Requests": "0"}
    assert by_row(tables["erasures-per-day"])[day.isoformat()] == {"Requested": "1"}

    # Today is counted live: the staff member's account and sign-in.
    today = by_row(tables["signups-per-day"])["today so far"]
    assert today["Sign-ups"] == "1" and today["Not recorded"] == "1" and today["Password"] == "0"
    assert by_row(tables["logins-per-day"])["today so far"]["Sign-ins"] == "1"


def test_recomputing_a_day_replaces_it(history, staff):
    day = history
    services.metrics_rollup(days=1, until=day)
    first = sorted(DailyMetric.objects.values_list("day", "metric", "dimension", "value"))
    services.metrics_rollup(days=1, until=day)
    assert sorted(DailyMetric.objects.values_list("day", "metric", "dimension", "value")) == first

    # A late sign-up lands on that day: the recomputed day has it, and no row twice.
    late = User.objects.create_user(email="late@example.com", password=PASSWORD)
    move_to(day, late)
    services.metrics_rollup(days=1, until=day)
    rows = {(m, d): v for _day, m, d, v in DailyMetric.objects.values_list("day", "metric", "dimension", "value")}
    assert rows[("signups", "")] == 5 and rows[("members", "")] == 5
    # Created without the sign-up flow (no sign-up event): counted, as "not recorded".
    assert rows[("signups_by_method", "unrecorded")] == 1 and rows[("signups_by_method", "password")] == 2
    assert DailyMetric.objects.count() == len(first) + 1 == len(rows)


def test_only_active_staff_with_a_second_factor_see_it(client, member, admin_user):
    anonymous = client.get(URL)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    assert client.get(anonymous["Location"])["Location"].startswith("/accounts/login/")

    force_login_with_mfa(client, member)  # a member, even with a second factor
    resp = client.get(URL, follow=True)
    assert resp.status_code == 403
    assert b"signups-per-day" not in resp.content

    staff = Client()
    staff.force_login(admin_user)  # staff without a second factor in this session: step-up first
    resp = staff.get(URL, follow=True)
    assert resp.redirect_chain[-1][0].startswith(reverse("accounts:step_up") + "?")
    assert b"signups-per-day" not in resp.content

    admin_user.is_active = False
    admin_user.save(update_fields=["is_active"])
    inactive = Client()
    force_login_with_mfa(inactive, admin_user)
    assert b"signups-per-day" not in inactive.get(URL, follow=True).content


def test_the_admin_header_links_to_it(staff):
    index = staff.get("/admin/")
    assert index.status_code == 200
    assert f'href="{URL}"' in index.content.decode()


def test_the_period_is_30_or_90_days_and_the_queries_do_not_grow_with_it(staff, django_assert_max_num_queries):
    services.metrics_rollup(days=90)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for days in (30, 90):
        with CaptureQueriesContext(connection) as queries:
            tables = page_tables(staff, days=days)
        counts[days] = len(queries)
        rows = by_row(tables["signups-per-day"])
        assert len(rows) == days + 1 and "today so far" in rows
        assert rows[(metrics.today() - timedelta(days=days)).isoformat()]["Sign-ups"] == "0"
    assert counts[30] == counts[90] <= 15, counts
    assert len(by_row(page_tables(staff, days="365")["signups-per-day"])) == 31  # unknown period: 30 days
    assert len(by_row(page_tables(staff, days="x")["signups-per-day"])) == 31


def test_small_counts_are_hidden(history, client, admin_user, settings):
    settings.IDP_DASHBOARD_SMALL_COUNT = 5
    force_login_with_mfa(client, admin_user)
    services.metrics_rollup(days=3)
    tables = page_tables(client)
    day = by_row(tables["signups-per-day"])[history.isoformat()]
    assert day["Sign-ups"] == "<5" and day["Password"] == "<5"
    assert by_row(tables["signups-per-day"])[(history + timedelta(days=1)).isoformat()]["Sign-ups"] == "0"
    # A share computed from a hidden count is hidden too.
    assert by_row(tables["consent-latest"])["marketing_email"] == {"Members who agreed": "<5", "Rate": "–"}

    settings.IDP_DASHBOARD_SMALL_COUNT = 2
    tables = page_tables(client)
    assert by_row(tables["signups-per-day"])[history.isoformat()]["Password"] == "2"
    assert by_row(tables["signups-per-day"])[history.isoformat()]["Passkey"] == "<2"


def test_charts_are_inline_svg_with_titles_and_no_inline_script_or_style(staff):
    services.metrics_rollup(days=2)
    resp = staff.get(URL)
    html = resp.content.decode()
    csp = resp["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') >= 8
    assert '<title id="chart-signups-1">Sign-ups per day</title>' in html
    assert " style=" not in html and "<script>" not in html


def test_the_command_and_the_beat_task_roll_up(db, settings):
    from io import StringIO

    from django.core.management import call_command

    from idp.dashboard import tasks

    out = StringIO()
    call_command("metrics_rollup", days=3, stdout=out)
    yesterday = metrics.today() - timedelta(days=1)
    assert f"Rolled up 3 day(s): {yesterday - timedelta(days=2)} to {yesterday}." in out.getvalue()
    assert set(DailyMetric.objects.values_list("day", flat=True)) == {yesterday - timedelta(days=i) for i in range(3)}

    entry = settings.CELERY_BEAT_SCHEDULE["dashboard-metrics-rollup"]
    assert entry["task"] == tasks.metrics_rollup.name
    assert tasks.metrics_rollup.apply().get() == [(yesterday - timedelta(days=1)).isoformat(), yesterday.isoformat()]
