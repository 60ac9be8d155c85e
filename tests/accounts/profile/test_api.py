"""``/api/v1/profile/attributes``: a member's token reads and writes what its client may (RFC 6750, RFC 9457)."""

from __future__ import annotations

import json

import pytest

from accounts.profile import selectors, services
from idp.models import AuditEvent, Client
from tests.accounts.profile.conftest import grant, member_token
from tests.conftest import basic, bearer, make_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/profile/attributes"
SCOPES = "openid profile:preferences profile:household"


@pytest.fixture
def shop(rp, attrs):
    """The RP reads diet, seat and pet; writes diet and pet; reads nothing else."""
    app, secret = rp
    grant(app, attrs["diet"], write=True)
    grant(app, attrs["seat"])
    grant(app, attrs["pet"], write=True)
    grant(app, attrs["shoe_size"], write=True)
    return app, secret


@pytest.fixture
def token(client, member, shop):
    return member_token(client, member, *shop, scope=SCOPES)["access_token"]


def patch(client, token, body, content_type="application/json"):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.patch(URL, raw, content_type=content_type, **bearer(token))


def test_get_lists_readable_attributes_with_nulls_for_missing(client, member, token):
    services.profile_attributes_update(
        user=member, values={"diet": "vegan", "nickname": "Hana"}, source=services.SOURCE_MEMBER
    )
    resp = client.get(URL, **bearer(token))
    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    assert resp.json() == {
        "sub": str(member.sub),
        "attributes": {"diet": "vegan", "seat": None, "pet": None, "shoe_size": None},
        "flags": {},
    }


def test_patch_writes_removes_and_audits(client, member, token, shop):
    resp = patch(client, token, {"attributes": {"diet": "vegetarian", "pet": "dog", "shoe_size": 24}})
    assert resp.status_code == 200, resp.content
    assert resp.json()["attributes"] == {"diet": "vegetarian", "seat": None, "pet": "dog", "shoe_size": 24}
    assert selectors.member_data(member) == {"diet": "vegetarian", "pet": "dog", "shoe_size": 24}
    event = AuditEvent.objects.get(kind="profile.attributes_updated", user=member)
    assert event.client == shop[0] and event.data == {"keys": ["diet", "pet", "shoe_size"], "source": "api"}

    resp = patch(client, token, {"attributes": {"pet": None}})
    assert resp.status_code == 200 and resp.json()["attributes"]["pet"] is None
    assert selectors.member_data(member) == {"diet": "vegetarian", "shoe_size": 24}
    assert AuditEvent.objects.filter(kind="profile.attributes_updated", user=member).count() == 2


@pytest.mark.spec("RFC 9457 §3")
def test_invalid_values_are_a_422_problem_with_errors_per_attribute(client, member, token):
    resp = patch(client, token, {"attributes": {"diet": "carnivore", "shoe_size": "24", "pet": "cat"}})
    assert resp.status_code == 422
    assert resp["Content-Type"] == "application/problem+json"
    body = resp.json()
    assert body["type"] == "urn:ciam:problem:invalid_attribute_values" and body["status"] == 422
    assert set(body["errors"]) == {"diet", "shoe_size"}
    assert body["errors"]["diet"][0]["code"] == "invalid_choice"
    assert body["errors"]["shoe_size"][0]["code"] == "not_number"
    assert selectors.member_data(member) == {}  # all or nothing: "pet" was not written either
    assert not AuditEvent.objects.filter(kind="profile.attributes_updated").exists()


def test_unknown_attribute_is_a_400_problem_and_hides_attributes_of_others(client, member, token, attrs):
    for key in ("favourite_colour", "nickname"):  # nickname exists, but this client has no access to it
        resp = patch(client, token, {"attributes": {key: "x"}})
        assert resp.status_code == 400
        assert resp.json()["code"] == "unknown_attribute" and resp.json()["attributes"] == [key]


def test_read_only_attribute_is_a_403_problem(client, token):
    resp = patch(client, token, {"attributes": {"seat": "aisle"}})
    assert resp.status_code == 403
    assert resp.json()["code"] == "attribute_not_writable" and resp.json()["attributes"] == ["seat"]


@pytest.mark.spec("RFC 6750 §3.1")
def test_token_without_the_attributes_scope(client, member, shop):
    prefs_only = member_token(client, member, *shop, scope="openid profile:preferences")["access_token"]
    resp = patch(client, prefs_only, {"attributes": {"pet": "cat"}})
    assert resp.status_code == 403
    assert resp.json()["code"] == "insufficient_scope" and resp.json()["scopes"] == ["profile:household"]
    assert client.get(URL, **bearer(prefs_only)).json()["attributes"] == {"diet": None, "seat": None, "shoe_size": None}

    no_attribute_scope = member_token(client, member, *shop, scope="openid email")["access_token"]
    for resp in (
        client.get(URL, **bearer(no_attribute_scope)),
        patch(client, no_attribute_scope, {"attributes": {"diet": "vegan"}}),
    ):
        assert resp.status_code == 403 and resp.json()["code"] == "insufficient_scope"
        assert resp["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
    assert selectors.member_data(member) == {}


@pytest.mark.spec("RFC 6749 §4.4")
def test_client_credentials_token_is_refused(client, attrs):
    app, secret = make_client(authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS)
    grant(app, attrs["diet"], write=True)
    resp = client.post(
        "/token", {"grant_type": "client_credentials", "scope": "profile:preferences"}, **basic(app, secret)
    )
    assert resp.status_code == 200, resp.content
    token = resp.json()["access_token"]
    for resp in (client.get(URL, **bearer(token)), patch(client, token, {"attributes": {"diet": "vegan"}})):
        assert resp.status_code == 403
        assert resp.json()["title"] == "This needs a member's access token."


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("[1, 2]", "application/json", 400, "malformed_json"),
        ({"diet": "vegan"}, "application/json", 400, "invalid_request"),
        ({"attributes": {}}, "application/json", 400, "invalid_request"),
        ({"attributes": ["diet"]}, "application/json", 400, "invalid_request"),
        ("attributes=diet", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_malformed_requests_are_clear_problems(client, token, body, content_type, status, code):
    resp = patch(client, token, body, content_type=content_type)
    assert resp.status_code == status and resp.json()["code"] == code


@pytest.mark.spec("RFC 6750 §3.1")
def test_no_or_bad_token_and_wrong_method(client, token):
    assert client.get(URL).status_code == 401
    assert client.get(URL, **bearer("nope")).json()["code"] == "invalid_token"
    resp = client.post(URL, "{}", content_type="application/json", **bearer(token))
    assert resp.status_code == 405 and resp["Allow"] == "GET, PATCH"


def test_retired_choice_is_returned_and_flagged(client, member, token, attrs):
    services.profile_attributes_update(user=member, values={"diet": "vegan"}, source=services.SOURCE_MEMBER)
    attrs["diet"].choices.filter(value="vegan").update(retired=True)
    body = client.get(URL, **bearer(token)).json()
    assert body["attributes"]["diet"] == "vegan" and body["flags"] == {"diet": "retired_choice"}
    assert patch(client, token, {"attributes": {"diet": "vegan"}}).status_code == 200  # unchanged: kept
    assert patch(client, token, {"attributes": {"pet": "cat"}}).status_code == 200  # others still writable
