"""The preference center at /account/privacy/consents."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from consent.models import ConsentRecord
from consent.purposes import selectors, services
from tests.conftest import login, make_client

pytestmark = pytest.mark.django_db
URL = "/account/privacy/consents"


def test_login_required(client, purposes):
    resp = client.get(URL)
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")
    resp = client.post(URL, {"purpose": "analytics", "granted": "1"})
    assert resp.status_code == 302 and ConsentRecord.objects.count() == 0


def test_page_lists_purposes_off_by_default(client, member, purposes):
    login(client, member)
    resp = client.get(URL)
    assert resp.status_code == 200 and resp["Cache-Control"].startswith("max-age=0")
    html = resp.content.decode()
    for code in ("marketing_email", "marketing_sms", "analytics", "sharing"):
        assert f'data-purpose="{code}" data-granted="false"' in html
    assert "Offers by email" in html and 'id="no-history"' in html
    assert html.count('value="1"') == 4  # a "turn on" button each


def test_turn_on_and_off_and_see_the_history(client, member, purposes):
    login(client, member)
    resp = client.post(URL, {"purpose": "analytics", "granted": "1"}, HTTP_USER_AGENT="Phone/2")
    assert resp.status_code == 302 and resp["Location"] == URL
    assert selectors.granted_codes(user=member) == ["analytics"]
    record = ConsentRecord.objects.get(user=member)
    assert record.channel == "web" and record.user_agent == "Phone/2" and record.ip == "127.0.0.1"

    html = client.get(URL).content.decode()
    assert 'data-purpose="analytics" data-granted="true"' in html
    assert "Turn off" in html

    client.post(URL, {"purpose": "analytics", "granted": "0"})
    assert selectors.granted_codes(user=member) == []
    html = client.get(URL).content.decode()
    history = html[html.index('id="consent-history"') :]
    assert history.count('data-purpose="analytics"') == 2
    assert "Turned off: Analytics" in history and "Turned on: Analytics" in history
    assert "Privacy settings" in history


def test_history_shows_changes_from_apps_with_their_name(client, member, purposes):
    app, _ = make_client(client_id="vending-42", name="Vending Machine")
    services.consent_change(user=member, changes={"marketing_email": True}, channel="device", client=app)
    login(client, member)
    html = client.get(URL).content.decode()
    assert "Vending Machine" in html and "Device" in html


def test_page_is_translated(client, member, purposes):
    login(client, member)
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "メールでのお知らせ" in html


def test_bad_input_is_a_form_error_not_a_change(client, member, purposes):
    login(client, member)
    for data in ({"purpose": "nope", "granted": "1"}, {"purpose": "analytics", "granted": "maybe"}, {}):
        resp = client.post(URL, data)
        assert resp.status_code == 400
        assert 'id="consent-errors"' in resp.content.decode()
    assert ConsentRecord.objects.count() == 0


def test_retired_purpose_cannot_be_turned_on_from_a_stale_page(client, member, purposes):
    login(client, member)
    sharing = purposes["sharing"]
    sharing.is_active = False
    services.purpose_save(purpose=sharing)
    resp = client.post(URL, {"purpose": "sharing", "granted": "1"})
    assert resp.status_code == 400
    assert ConsentRecord.objects.count() == 0


def test_a_granted_retired_purpose_stays_withdrawable(client, member, purposes):
    services.consent_change(user=member, changes={"sharing": True}, channel="web")
    sharing = purposes["sharing"]
    sharing.is_active = False
    services.purpose_save(purpose=sharing)
    login(client, member)
    html = client.get(URL).content.decode()
    assert 'data-purpose="sharing" data-granted="true"' in html and "No longer offered" in html
    assert client.post(URL, {"purpose": "sharing", "granted": "0"}).status_code == 302
    assert not member.consent_states.get().granted


def test_csrf_is_required(member, purposes):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    assert browser.post(URL, {"purpose": "analytics", "granted": "1"}).status_code == 403
    assert ConsentRecord.objects.count() == 0
    page = browser.get(URL)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    resp = browser.post(URL, {"purpose": "analytics", "granted": "1", "csrfmiddlewaretoken": token})
    assert resp.status_code == 302 and ConsentRecord.objects.count() == 1


def test_home_links_to_the_page(client, member):
    login(client, member)
    assert f'href="{URL}"' in client.get("/").content.decode()
