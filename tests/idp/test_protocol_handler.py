"""The WSGI application serves machine-to-machine endpoints without the browser middleware.

These tests call ``idp.wsgi.application`` itself (Django's test client would bypass it).
"""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from idp.wsgi import application
from tests.conftest import basic, make_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_test_transaction():
    """As Django's test client does: the handler must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call(
    method: str,
    path: str,
    *,
    query: str = "",
    form: dict | None = None,
    headers: dict | None = None,
    json_body: dict | None = None,
):
    body = urlencode(form).encode() if form is not None else b""
    content_type = "application/x-www-form-urlencoded"
    if json_body is not None:
        body, content_type = json.dumps(json_body).encode(), "application/json"
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver",
            "HTTP_HOST": "testserver",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
    )
    environ.update(headers or {})
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = response_headers

    chunks = application(environ, start_response)
    content = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return (
        captured["status"],
        dict(captured["headers"]),
        [v.strip() for k, v in captured["headers"] if k == "Set-Cookie"],
        content,
    )


def test_token_endpoint_is_served_by_the_protocol_handler():
    app, secret = make_client(authorization_grant_type="client-credentials", redirect_uris="")
    status, headers, cookies, content = call(
        "POST",
        "/token",
        form={"grant_type": "client_credentials", "scope": "introspection"},
        headers=basic(app, secret),
    )
    assert status == 200, content
    body = json.loads(content)
    assert body["token_type"] == "Bearer" and body["scope"] == "introspection"
    assert cookies == []  # no session, no CSRF cookie
    assert "Cookie" not in headers.get("Vary", "")
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]

    status, _, _, content = call(
        "POST", "/introspect", form={"token": body["access_token"]}, headers=basic(app, secret)
    )
    assert status == 200 and json.loads(content)["active"] is True


def test_protocol_errors_are_still_the_specs_errors():
    app, _ = make_client(authorization_grant_type="client-credentials", redirect_uris="")
    status, _, _, content = call(
        "POST", "/token", form={"grant_type": "client_credentials"}, headers=basic(app, "wrong secret")
    )
    assert status == 401 and json.loads(content)["error"] == "invalid_client"
    status, _, _, content = call("POST", "/token", form={"grant_type": "client_credentials", "x": "\x00"})
    assert status == 400 and json.loads(content)["error"] == "invalid_request"
    status, _, _, _ = call("GET", "/userinfo", headers={"HTTP_AUTHORIZATION": "Bearer nope"})
    assert status == 401


def test_pages_still_get_sessions_and_csrf():
    app, _ = make_client()
    query = urlencode(
        {
            "client_id": app.client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": "https://rp.example/callback",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "prompt": "login",
        }
    )
    status, headers, cookies, _ = call("GET", "/authorize", query=query)
    assert status == 302 and "/accounts/login/" in headers["Location"]
    # prompt=login is remembered in the session
    assert any(c.startswith(settings.SESSION_COOKIE_NAME + "=") for c in cookies)
    status, _, cookies, _ = call("GET", "/accounts/login/")
    assert status == 200 and any(c.startswith(settings.CSRF_COOKIE_NAME + "=") for c in cookies)


def _security_headers(headers: dict) -> None:
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_the_json_apis_are_served_by_the_protocol_handler(member):
    from loyalty.models import Membership
    from tests.loyalty.conftest import make_partner, make_program, new_key, token_for

    program = make_program()
    partner, partner_token = make_partner(program)
    number = Membership.objects.create(program=program, user=member, member_number="4929018374").member_number
    assert application.is_protocol("/api/v1/loyalty/programs/sky/earn")
    status, headers, cookies, content = call(
        "POST",
        "/api/v1/loyalty/programs/sky/earn",
        json_body={"member_number": number, "points": 5},
        headers={"HTTP_AUTHORIZATION": f"Bearer {partner_token}", "HTTP_IDEMPOTENCY_KEY": new_key()},
    )
    assert status == 201, content
    assert json.loads(content)["balance"] == 5
    assert cookies == [] and "Cookie" not in headers.get("Vary", "")
    assert "no-store" in headers["Cache-Control"]
    _security_headers(headers)

    rp, _ = make_client()
    from loyalty.models import ProgramClient

    ProgramClient.objects.create(program=program, client=rp)
    member_token = token_for(member, rp, scope="openid loyalty")
    status, headers, cookies, content = call(
        "GET", "/api/v1/loyalty/programs/sky/me", headers={"HTTP_AUTHORIZATION": f"Bearer {member_token}"}
    )
    assert status == 200 and json.loads(content)["balance"] == 5 and cookies == []


@pytest.mark.spec("RFC 6750 §3")
def test_api_problems_through_the_protocol_handler_keep_their_challenge(member):
    status, headers, cookies, content = call("GET", "/api/v1/profile/attributes")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer" and cookies == []
    assert headers["Content-Type"] == "application/problem+json"
    status, headers, _, content = call(
        "GET", "/api/v1/profile/attributes", headers={"HTTP_AUTHORIZATION": "Bearer not-a-token"}
    )
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    _security_headers(headers)
    status, _, cookies, _ = call("GET", "/api/v1/no-such-endpoint")
    assert status == 404 and cookies == []


def test_api_responses_follow_the_callers_language():
    status, headers, _, content = call("GET", "/api/v1/consents", headers={"HTTP_ACCEPT_LANGUAGE": "ja"})
    assert status == 401 and headers["Content-Language"] == "ja"


def test_a_session_cookie_does_not_authenticate_an_api_call(member, client):
    """The APIs take bearer tokens only: a browser session reaching them is not a credential."""
    client.force_login(member)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    status, headers, cookies, _ = call(
        "GET", "/api/v1/consents", headers={"HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={session}"}
    )
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer" and cookies == []


def test_the_api_documentation_pages_keep_sessions_and_csrf():
    assert not application.is_protocol("/api/v1/loyalty/docs")
    status, headers, cookies, content = call("GET", "/api/v1/loyalty/docs")
    assert status == 200 and b"<html" in content.lower()
    assert any(c.startswith(settings.CSRF_COOKIE_NAME + "=") for c in cookies)  # its language form
    status, headers, _, content = call("GET", "/api/v1/loyalty/openapi.json")
    assert status == 200 and json.loads(content)["openapi"].startswith("3.1")
