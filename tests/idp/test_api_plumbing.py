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


@api_view(scopes=["profile"], member_only=True)
def member_profile(request):
    return JsonResponse({"sub": str(request.member.sub), "client": request.client.client_id})


@api_view(methods=["GET", "POST"], scopes=[])
def who(request):
    """No ``request.member`` touched: a client-credentials view."""
    return JsonResponse({"client": request.client.client_id, "member_id": request.member_id})


def _stored(raw: str):
    import hashlib

    return get_access_token_model().objects.get(token_checksum=hashlib.sha256(raw.encode()).hexdigest())


def _is_invalid_token(response, body) -> bool:
    return (
        response.status_code == 401
        and response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        and body["code"] == "invalid_token"
    )


@pytest.mark.spec("RFC 6750 §3.1")
def test_a_revoked_token_is_invalid(member):
    client, _ = make_client()
    token = _token(member, client)
    assert _call(echo, token)[0].status_code == 200
    _stored(token).revoke()  # DOT's revocation deletes the row
    assert _is_invalid_token(*_call(echo, token))


@pytest.mark.spec("RFC 6750 §3.1")
def test_a_token_expiring_now_is_invalid(member):
    client, _ = make_client()
    token = _token(member, client)
    get_access_token_model().objects.filter(pk=_stored(token).pk).update(expires=timezone.now())
    assert _is_invalid_token(*_call(echo, token))


@pytest.mark.spec("RFC 6750 §3.1")
def test_the_token_of_a_deleted_client_is_invalid(member):
    client, _ = make_client()
    token = _token(member, client)
    assert _call(member_profile, token)[0].status_code == 200  # the client is now in the process cache
    client.delete()
    assert _is_invalid_token(*_call(member_profile, token))


@pytest.mark.spec("RFC 6750 §3.1")
def test_the_token_of_a_deactivated_account_is_invalid(member):
    client, _ = make_client()
    token = _token(member, client)
    assert _call(member_profile, token)[0].status_code == 200
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert _is_invalid_token(*_call(member_profile, token))
    assert _is_invalid_token(*_call(echo, token))  # member_only or not
    assert _is_invalid_token(*_call(who, token))


@pytest.mark.spec("RFC 6750 §3.1")
def test_the_scope_check_names_every_scope_needed(member):
    client, _ = make_client()
    response, body = _call(member_profile, _token(member, client, scope="openid email"))
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="profile"'
    assert body["code"] == "insufficient_scope"
    assert _call(member_profile, _token(member, client, scope="profileX openid"))[0].status_code == 403


@pytest.mark.spec("RFC 6750 §2.1")
@pytest.mark.parametrize("header", ["Bearer", "Basic dXNlcjpwdw==", "Bearer a b", "Token abc"])
def test_a_malformed_authorization_header_is_refused(member, header):
    response, body = _call(echo, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert body["code"] in ("unauthorized", "invalid_token")


@pytest.mark.spec("RFC 6750 §2.1")
def test_the_scheme_is_case_insensitive(member):
    client, _ = make_client()
    token = _token(member, client)
    request = RequestFactory().get("/api/echo", HTTP_AUTHORIZATION=f"bearer {token}")
    assert echo(request).status_code == 200


@pytest.mark.spec("RFC 9700 §4.3.2")
def test_a_token_in_the_query_string_is_refused_even_with_a_header(member):
    client, _ = make_client()
    token = _token(member, client)
    request = RequestFactory().get(f"/api/echo?access_token={token}", HTTP_AUTHORIZATION=f"Bearer {token}")
    response = echo(request)
    assert response.status_code == 400
    assert json.loads(response.content)["code"] == "invalid_request"


@pytest.mark.spec("RFC 6750 §2.2")
def test_a_token_in_a_form_body_is_not_read(member):
    client, _ = make_client()
    token = _token(member, client)
    request = RequestFactory().post("/api/echo", data={"access_token": token})
    response = echo(request)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.spec("RFC 8707 §2")
def test_a_token_bound_to_another_resource_is_invalid_here(member):
    client, _ = make_client()
    elsewhere, here = _token(member, client), _token(member, client)
    get_access_token_model().objects.filter(pk=_stored(elsewhere).pk).update(resource=["https://other.example/api"])
    get_access_token_model().objects.filter(pk=_stored(here).pk).update(resource=["http://testserver/api/"])
    assert _is_invalid_token(*_call(echo, elsewhere))
    assert _call(echo, here)[0].status_code == 200


def test_the_token_check_is_one_statement_and_the_client_comes_from_the_cache(member, django_assert_num_queries):
    from idp.oauth.clients import client_get

    partner, _ = make_client(authorization_grant_type="client-credentials")
    rp, _ = make_client()
    partner_token, member_token = _token(None, partner, scope="openid"), _token(member, rp)
    _call(who, partner_token)  # fills the client cache
    _call(member_profile, member_token)
    with django_assert_num_queries(1):
        response, body = _call(who, partner_token)
    assert body == {"client": partner.client_id, "member_id": None}
    with django_assert_num_queries(1):  # the member is loaded with the token
        response, body = _call(member_profile, member_token)
    assert body == {"sub": str(member.sub), "client": rp.client_id}
    request = RequestFactory().get("/api/echo", HTTP_AUTHORIZATION=f"Bearer {partner_token}")
    who(request)
    assert request.client is client_get(partner.client_id)
    assert request.access_token.scope == "openid" and request.access_token.application_id == partner.pk


def test_outside_member_only_views_the_member_is_loaded_when_used(member, django_assert_num_queries):
    client, _ = make_client()
    token = _token(member, client)
    _call(who, token)
    with django_assert_num_queries(1):
        response, body = _call(who, token)
    assert body == {"client": client.client_id, "member_id": member.pk}
    with django_assert_num_queries(2):  # the token, then the member for request.member.sub
        response, body = _call(echo, token)
    assert body["member"] == str(member.sub)


@api_view(scopes=[])
def deletes_its_member_first(request):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk=request.member_id).delete()
    return JsonResponse({"sub": str(request.member.sub)})


def test_a_member_deleted_after_the_token_check_is_a_problem_not_a_500(member):
    client, _ = make_client()
    assert _is_invalid_token(*_call(deletes_its_member_first, _token(member, client)))
