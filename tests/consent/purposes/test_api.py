"""The consent API for apps and devices: member access tokens with consents / consents:write."""

from __future__ import annotations

import json

import pytest

from consent.models import ConsentRecord
from consent.purposes import selectors
from idp.models import Client
from tests.conftest import bearer, make_client
from tests.consent.purposes.conftest import token_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/consents"
RW = "openid consents consents:write"


def post(client, token, body, url=URL, method="post", **extra):
    raw = body if isinstance(body, str) else json.dumps(body)
    send = client.put if method == "put" else client.post
    return send(url, raw, content_type="application/json", **bearer(token), **extra)


@pytest.fixture
def app(db):
    return make_client(client_id="mobile-app", client_type=Client.CLIENT_PUBLIC, name="Mobile App")[0]


def test_read_current_state(client, member, purposes, app):
    resp = client.get(URL, **bearer(token_for(member, app, "openid consents")))
    assert resp.status_code == 200 and resp["Cache-Control"].startswith("max-age=0")
    body = resp.json()
    assert body["sub"] == str(member.sub) and body["consents"] == []
    first = body["purposes"][0]
    assert first == {
        "code": "marketing_email",
        "category": "marketing",
        "contact_channel": "email",
        "name": "Offers by email",
        "description": "News and offers from our brands by email.",
        "language": "en",
        "version": 1,
        "active": True,
        "granted": False,
        "since": None,
    }
    ja = client.get(URL, {"language": "ja"}, **bearer(token_for(member, app, "consents"))).json()
    assert ja["purposes"][0]["name"] == "メールでのお知らせ"
    only_de = client.get(URL, {"region": "DE"}, **bearer(token_for(member, app, "consents"))).json()
    assert "marketing_sms" not in [p["code"] for p in only_de["purposes"]]


def test_change_with_post_is_idempotent_and_recorded(client, member, purposes, app):
    token = token_for(member, app, RW)
    resp = post(client, token, {"consents": {"marketing_email": True, "analytics": False}})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["consents"] == ["marketing_email"]
    assert [r["purpose"] for r in body["recorded"]] == ["marketing_email"]  # analytics already off
    record = ConsentRecord.objects.get(user=member)
    assert record.channel == "app" and record.client_id == "mobile-app"  # a public client is an app

    again = post(client, token, {"consents": {"marketing_email": True}})
    assert again.status_code == 200 and again.json()["recorded"] == []
    assert ConsentRecord.objects.filter(user=member).count() == 1

    off = post(client, token, {"consents": {"marketing_email": False}, "channel": "kiosk", "language": "ja"})
    assert off.json()["consents"] == []
    latest = ConsentRecord.objects.filter(user=member).latest("id")
    assert latest.channel == "kiosk" and latest.language == "ja" and latest.text.language == "ja"


def test_change_one_purpose_with_put(client, member, purposes, app):
    token = token_for(member, app, RW)
    resp = post(client, token, {"granted": True}, url=URL + "/purposes/analytics", method="put")
    assert resp.status_code == 200 and resp.json()["consents"] == ["analytics"]
    resp = post(client, token, {"granted": True}, url=URL + "/purposes/analytics", method="put")
    assert resp.json()["recorded"] == []
    resp = post(client, token, {"granted": False}, url=URL + "/purposes/analytics", method="put")
    assert resp.json()["consents"] == [] and len(resp.json()["recorded"]) == 1


def test_channel_defaults_from_the_client(client, member, purposes, settings):
    kiosk, _ = make_client(client_id="kiosk-shibuya")
    settings.CONSENT_CLIENT_CHANNELS = {"kiosk-shibuya": "kiosk"}
    post(client, token_for(member, kiosk, RW), {"consents": {"analytics": True}})
    device, _ = make_client(authorization_grant_type=Client.GRANT_DEVICE_CODE, client_type=Client.CLIENT_PUBLIC)
    post(client, token_for(member, device, RW), {"consents": {"analytics": False}})
    backend, _ = make_client()
    post(client, token_for(member, backend, RW), {"consents": {"analytics": True}})
    assert list(ConsentRecord.objects.filter(user=member).order_by("id").values_list("channel", flat=True)) == [
        "kiosk",
        "device",
        "api",
    ]


def test_history_pages_by_cursor(client, member, purposes, app, settings):
    settings.CONSENT_HISTORY_PAGE_SIZE = 2
    token = token_for(member, app, RW)
    for granted in (True, False, True):
        post(client, token, {"consents": {"analytics": granted}})
    read = token_for(member, app, "consents")
    first = client.get(URL + "/history", **bearer(read)).json()
    assert [r["granted"] for r in first["records"]] == [True, False]
    assert first["records"][0]["channel"] == "app" and first["records"][0]["client_id"] == "mobile-app"
    second = client.get(URL + "/history", {"cursor": first["next_cursor"]}, **bearer(read)).json()
    assert [r["granted"] for r in second["records"]] == [True] and second["next_cursor"] is None
    ids = [r["id"] for r in first["records"] + second["records"]]
    assert ids == [
        str(u) for u in ConsentRecord.objects.filter(user=member).order_by("-id").values_list("uuid", flat=True)
    ]


def test_history_cursor_of_another_member_is_refused(client, member, purposes, app, django_user_model, settings):
    settings.CONSENT_HISTORY_PAGE_SIZE = 1
    other = django_user_model.objects.create_user(email="other@example.com", password="x")
    for user in (member, other):
        for granted in (True, False):
            post(client, token_for(user, app, RW), {"consents": {"analytics": granted}})
    cursor = client.get(URL + "/history", **bearer(token_for(other, app, "consents"))).json()["next_cursor"]
    resp = client.get(URL + "/history", {"cursor": cursor}, **bearer(token_for(member, app, "consents")))
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_cursor"
    resp = client.get(URL + "/history", {"cursor": "garbage"}, **bearer(token_for(member, app, "consents")))
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ('{"consents": ', 400, "malformed_json"),
        ("[]", 400, "malformed_json"),
        ({}, 400, "invalid_request"),
        ({"consents": []}, 400, "invalid_request"),
        ({"consents": {}}, 400, "invalid_request"),
        ({"consents": {"no_such_purpose": True}}, 400, "unknown_purpose"),
        ({"consents": {"analytics": "yes"}}, 400, "invalid_value"),
        ({"consents": {"analytics": None}}, 400, "invalid_value"),
        ({"consents": {"analytics": True}, "channel": "staff"}, 400, "invalid_channel"),
        ({"consents": {"analytics": True}, "channel": 7}, 400, "invalid_channel"),
        ({"consents": {"analytics": True}, "language": "xx"}, 400, "invalid_language"),
        ({"consents": {f"p{i}": True for i in range(101)}}, 400, "too_many_changes"),
    ],
)
def test_bad_bodies_are_problems_and_change_nothing(client, member, purposes, app, body, status, code):
    resp = post(client, token_for(member, app, RW), body)
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    assert resp.json()["code"] == code and resp.json()["type"] == f"urn:ciam:problem:{code}"
    assert ConsentRecord.objects.count() == 0


def test_put_bad_input(client, member, purposes, app):
    token = token_for(member, app, RW)
    resp = post(client, token, {"granted": True}, url=URL + "/purposes/nope", method="put")
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_purpose"
    resp = post(client, token, {"granted": "true"}, url=URL + "/purposes/analytics", method="put")
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_value"
    resp = client.put(URL + "/purposes/analytics", "granted=1", content_type="text/plain", **bearer(token))
    assert resp.status_code == 415
    assert ConsentRecord.objects.count() == 0


def test_retired_purpose_is_a_conflict(client, member, purposes, app):
    from consent.purposes import services

    sharing = purposes["sharing"]
    sharing.is_active = False
    services.purpose_save(purpose=sharing)
    resp = post(client, token_for(member, app, RW), {"consents": {"sharing": True}})
    assert resp.status_code == 409 and resp.json()["code"] == "purpose_retired"


@pytest.mark.spec("RFC 6750 §3.1")
def test_scopes_are_enforced(client, member, purposes, app):
    read_only = token_for(member, app, "openid consents")
    resp = post(client, read_only, {"consents": {"analytics": True}})
    assert resp.status_code == 403 and resp.json()["code"] == "insufficient_scope"
    assert 'scope="consents:write"' in resp["WWW-Authenticate"]
    write_only = token_for(member, app, "openid consents:write")
    assert client.get(URL, **bearer(write_only)).status_code == 403
    assert client.get(URL + "/history", **bearer(write_only)).status_code == 403
    assert client.get(URL, **bearer(token_for(member, app, "openid profile"))).status_code == 403
    assert client.get(URL).status_code == 401
    assert client.get(URL, **bearer("not-a-token")).status_code == 401
    assert ConsentRecord.objects.count() == 0


def test_client_credentials_tokens_are_refused(client, purposes):
    service, _ = make_client(authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="")
    token = token_for(None, service, RW)
    assert client.get(URL, **bearer(token)).status_code == 403
    resp = post(client, token, {"consents": {"analytics": True}})
    assert resp.status_code == 403 and resp.json()["code"] == "insufficient_scope"
    assert ConsentRecord.objects.count() == 0


def test_other_methods_are_405(client, member, purposes, app):
    resp = client.delete(URL, **bearer(token_for(member, app, RW)))
    assert resp.status_code == 405 and resp["Allow"] == "GET, POST"
    resp = client.get(URL + "/purposes/analytics", **bearer(token_for(member, app, RW)))
    assert resp.status_code == 405 and resp["Allow"] == "PUT"


def test_no_csrf_needed_for_bearer_calls(member, purposes, app):
    from django.test import Client as Browser

    resp = post(Browser(enforce_csrf_checks=True), token_for(member, app, RW), {"consents": {"analytics": True}})
    assert resp.status_code == 200
    assert selectors.granted_codes(user=member) == ["analytics"]
