"""The JSON API plumbing every app uses: bearer tokens with scopes (RFC 6750), RFC 9457 problems."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from django.http import JsonResponse
from django.test import RequestFactory
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from idp.api import DomainError, api_view
from tests.conftest import make_client

pytestmark = pytest.mark.django_db


@api_view(methods=["GET", "POST"], scopes=["profile"])
def echo(request):
    if request.json and request.json.get("fail"):
        raise DomainError(code="refused", title="Refused", status=409, field="fail")
    return JsonResponse({"member": str(request.member.sub) if request.member else None, "body": request.json})


@api_view(scopes=[], member_only=True)
def members_only(request):
    return JsonResponse({"ok": True})


def _token(user, client, scope="openid profile", expires_in=300) -> str:
    raw = secrets.token_urlsafe(32)
    get_access_token_model().objects.create(
        user=user, application=client, token=raw, scope=scope, expires=timezone.now() + timedelta(seconds=expires_in)
    )
    return raw


def _call(view, token=None, method="get", body=None, content_type="application/json", **extra):
    factory = RequestFactory()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    headers.update(extra)
    if method == "post":
        request = factory.post("/api/echo", data=body if body is not None else "", content_type=content_type, **headers)
    else:
        request = factory.get("/api/echo", **headers)
    response = view(request)
    return response, json.loads(response.content)


@pytest.mark.spec("RFC 6750 §3.1")
def test_missing_token_is_401_with_a_bearer_challenge():
    response, body = _call(echo)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response["Content-Type"] == "application/problem+json"
    assert body["type"] == "urn:ciam:problem:unauthorized"
    assert body["status"] == 401


@pytest.mark.spec("RFC 6750 §3.1")
def test_unknown_and_expired_tokens_are_invalid_token(member):
    client, _ = make_client()
    expired = _token(member, client, expires_in=-5)
    for token in ("not-a-token", expired):
        response, body = _call(echo, token)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
        assert body["code"] == "invalid_token"


@pytest.mark.spec("RFC 6750 §3.1")
def test_missing_scope_is_403_insufficient_scope(member):
    client, _ = make_client()
    response, body = _call(echo, _token(member, client, scope="openid"))
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="profile"'
    assert body["code"] == "insufficient_scope"


@pytest.mark.spec("RFC 9700 §4.3.2")
def test_token_in_query_string_is_refused(member):
    client, _ = make_client()
    token = _token(member, client)
    request = RequestFactory().get(f"/api/echo?access_token={token}")
    response = echo(request)
    assert response.status_code == 400


def test_valid_token_reaches_the_view_with_member_and_json(member):
    client, _ = make_client()
    response, body = _call(echo, _token(member, client), method="post", body={"a": 1})
    assert response.status_code == 200
    assert body == {"member": str(member.sub), "body": {"a": 1}}


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("[1, 2]", "application/json", 400, "malformed_json"),
        ("a=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_bad_bodies_are_problems(member, raw, content_type, status, code):
    client, _ = make_client()
    response, body = _call(echo, _token(member, client), method="post", body=raw, content_type=content_type)
    assert response.status_code == status
    assert body["code"] == code


def test_domain_errors_become_problems_with_their_extra_members(member):
    client, _ = make_client()
    response, body = _call(echo, _token(member, client), method="post", body={"fail": True})
    assert response.status_code == 409
    assert body == {
        "type": "urn:ciam:problem:refused",
        "code": "refused",
        "title": "Refused",
        "status": 409,
        "instance": "/api/echo",
        "field": "fail",
    }


def test_wrong_method_is_405_with_allow():
    response, body = _call(members_only, method="post", body={})
    assert response.status_code == 405
    assert response["Allow"] == "GET"


def test_member_only_refuses_client_credentials_tokens(member):
    client, _ = make_client(authorization_grant_type="client-credentials")
    response, body = _call(members_only, _token(None, client, scope="openid"))
    assert response.status_code == 403
    response, body = _call(members_only, _token(member, client, scope="openid"))
    assert response.status_code == 200
