"""Opt-ins at sign-up: unticked boxes for the purposes staff offer there, recorded if ticked."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from consent.models import ConsentRecord
from consent.purposes import selectors, services
from tests.conftest import authorize_params, make_client, pkce_pair

pytestmark = pytest.mark.django_db
PASSWORD = "a-Good-passphrase-91"


def test_signup_page_shows_unticked_boxes_for_offered_purposes(client, purposes):
    html = client.get("/accounts/signup/").content.decode()
    assert 'name="consent_marketing_email"' in html and 'name="consent_analytics"' in html
    assert 'name="consent_sharing"' not in html  # not offered at sign-up
    assert "Offers by email" in html and "News and offers from our brands by email." in html
    field = html[
        html.index('name="consent_marketing_email"') - 200 : html.index('name="consent_marketing_email"') + 200
    ]
    assert "checked" not in field and "required" not in field


def test_signup_page_is_translated(client, purposes):
    html = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "メールでのお知らせ" in html


def test_signup_with_email_and_password_only_records_nothing(client, purposes):
    resp = client.post("/accounts/signup/", {"email": "fresh@example.com", "password1": PASSWORD})
    assert resp.status_code == 302
    user = get_user_model().objects.get(email="fresh@example.com")
    assert ConsentRecord.objects.filter(user=user).count() == 0
    assert selectors.granted_codes(user=user) == []


def test_signup_without_any_purposes_defined_still_works(client, db):
    resp = client.post("/accounts/signup/", {"email": "fresh@example.com", "password1": PASSWORD})
    assert resp.status_code == 302
    assert get_user_model().objects.filter(email="fresh@example.com").exists()


def test_ticked_boxes_are_recorded_with_the_signup_channel_and_client(client, purposes):
    app, _ = make_client(client_id="shop-web")
    nxt = "/authorize?" + "&".join(f"{k}={v}" for k, v in authorize_params(app, challenge=pkce_pair()[1]).items())
    resp = client.post(
        "/accounts/signup/",
        {
            "email": "fresh@example.com",
            "password1": PASSWORD,
            "consent_marketing_email": "on",
            "next": nxt,
        },
        HTTP_USER_AGENT="Browser/1",
    )
    assert resp.status_code == 302
    user = get_user_model().objects.get(email="fresh@example.com")
    [record] = ConsentRecord.objects.filter(user=user)
    assert record.purpose.code == "marketing_email" and record.granted is True
    assert record.channel == "signup" and record.client_id == "shop-web" and record.user_agent == "Browser/1"
    assert record.text.name == "Offers by email"
    assert selectors.granted_codes(user=user) == ["marketing_email"]


def test_a_box_for_a_purpose_retired_meanwhile_is_ignored(client, purposes):
    sharing = purposes["sharing"]
    sharing.offer_at_signup = True
    services.purpose_save(purpose=sharing)
    client.get("/accounts/signup/")
    sharing.is_active = False
    services.purpose_save(purpose=sharing)
    resp = client.post(
        "/accounts/signup/",
        {"email": "fresh@example.com", "password1": PASSWORD, "consent_sharing": "on", "consent_analytics": "on"},
    )
    assert resp.status_code == 302
    user = get_user_model().objects.get(email="fresh@example.com")
    assert selectors.granted_codes(user=user) == ["analytics"]
