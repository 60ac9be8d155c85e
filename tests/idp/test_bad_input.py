"""Malformed requests get the error the spec names, never a 500 or an open redirect.

RFC 6749 §4.1.2.1 and §5.2.
"""

from __future__ import annotations

import pytest

from tests.conftest import authorize_params, basic, bearer, exchange, get_code, login, pkce_pair, query_of

pytestmark = pytest.mark.django_db


def _params(app, **extra):
    return authorize_params(app, challenge=pkce_pair()[1], **extra)


@pytest.mark.spec("RFC 6749 §4.1.2.1")
def test_unknown_client_gets_error_page_not_redirect(client, member):
    login(client, member)
    resp = client.get(
        "/authorize",
        {
            "response_type": "code",
            "client_id": "nope",
            "redirect_uri": "https://evil.example/cb",
            "scope": "openid",
        },
    )
    assert resp.status_code == 400
    assert b"evil.example" not in resp.content or b"Location" not in resp.content
    assert "Location" not in resp


@pytest.mark.spec("RFC 6749 §4.1.2.1")
def test_unknown_client_anonymous_gets_error_page(client):
    resp = client.get(
        "/authorize",
        {
            "response_type": "code",
            "client_id": "nope",
            "redirect_uri": "https://evil.example/cb",
            "scope": "openid",
        },
    )
    assert resp.status_code == 400 and "Location" not in resp


@pytest.mark.spec("RFC 9700 §4.1.3")
@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        "https://rp.example/callback?extra=1",
        "https://rp.example/callback/",
        "https://rp.example/Callback",
        "http://rp.example/callback",
        "https://rp.example.evil.example/callback",
        "https://rp.example/callback#frag",
        "https://user@rp.example/callback",
        "",
    ],
)
def test_altered_redirect_uri_is_an_error_page(client, member, rp, redirect_uri):
    app, _ = rp
    login(client, member)
    resp = client.get("/authorize", _params(app, redirect_uri=redirect_uri))
    assert resp.status_code == 400, resp.get("Location")
    assert "Location" not in resp


@pytest.mark.spec("RFC 9700 §4.1.3")
def test_redirect_uri_with_query_matches_exactly(client, member):
    from tests.conftest import make_client

    app, _ = make_client(redirect_uris="https://rp.example/cb?tenant=a")
    login(client, member)
    ok = client.get("/authorize", _params(app, redirect_uri="https://rp.example/cb?tenant=a"))
    assert ok.status_code == 302
    assert ok["Location"].startswith("https://rp.example/cb?tenant=a&")
    bad = client.get("/authorize", _params(app, redirect_uri="https://rp.example/cb?tenant=b"))
    assert bad.status_code == 400


@pytest.mark.spec("RFC 6749 §4.1.2.1")
@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": None}, "invalid_request"),
        # The implicit and hybrid flows are off (RFC 9700 §2.1.2): no client may use them.
        ({"response_type": "token"}, "unauthorized_client"),
        ({"response_type": "id_token"}, "unauthorized_client"),
        ({"response_type": "code token"}, "unauthorized_client"),
        ({"response_type": "garbage"}, "unsupported_response_type"),
        ({"scope": "openid not-a-scope"}, "invalid_scope"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "S512"}, "invalid_request"),
    ],
)
def test_bad_authorization_requests_redirect_with_error(client, member, rp, change, error):
    app, _ = rp
    login(client, member)
    params = _params(app, state="keep-me")
    for key, value in change.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    resp = client.get("/authorize", params)
    assert resp.status_code == 302, resp.content[:300]
    assert resp["Location"].startswith("https://rp.example/callback?")
    q = query_of(resp["Location"])
    assert q["error"] == error
    assert q["state"] == "keep-me"
    assert q["iss"] == "http://testserver"


@pytest.mark.spec("RFC 6749 §3.1")
def test_duplicate_parameters_are_refused(client, member, rp):
    app, _ = rp
    login(client, member)
    params = _params(app)
    query = "&".join(f"{k}={v}" for k, v in params.items()) + "&scope=openid"
    resp = client.get("/authorize?" + query.replace(" ", "+"))
    assert resp.status_code in (302, 400)
    if resp.status_code == 302:
        assert query_of(resp["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "x" * 5000},
        {"client_id": "abc\x00def", "response_type": "code"},
        {"state": "s" * 20000},
        {"redirect_uri": "javascript:alert(1)"},
        {"scope": "openid " * 2000},
    ],
)
def test_oversized_and_garbage_authorize_parameters(client, member, rp, params):
    app, _ = rp
    login(client, member)
    full = _params(app)
    full.update(params)
    resp = client.get("/authorize", full)
    assert resp.status_code in (302, 400)
    if resp.status_code == 302:
        assert resp["Location"].startswith("https://rp.example/callback?")


@pytest.mark.parametrize(
    "query",
    [
        "client_id=%FF%FE&response_type=code",
        "redirect_uri=%00&client_id=%ED%B3%BF",
        "%%%=&&&==",
        "scope=%C0%AF",
    ],
)
def test_undecodable_authorize_query(client, member, query):
    login(client, member)
    assert client.get("/authorize?" + query).status_code == 400


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"grant_type": "authorization_code"},
        {"grant_type": "authorization_code", "code": "x" * 10000},
        {"grant_type": "authorization_code", "code": "abc\x00"},
        {"grant_type": "password", "username": "a", "password": "b"},
        {"grant_type": "implicit"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"},
        {"grant_type": "refresh_token", "refresh_token": "garbage"},
        {"grant_type": "refresh_token"},
    ],
)
def test_bad_token_requests(client, rp, data):
    app, secret = rp
    resp = client.post("/token", data, **basic(app, secret))
    assert 400 <= resp.status_code < 500
    assert resp.json()["error"] in (
        "invalid_request",
        "invalid_grant",
        "unsupported_grant_type",
        "unauthorized_client",
        "invalid_client",
    )


def test_token_endpoint_rejects_get_and_unknown_client(client, rp):
    app, secret = rp
    assert client.get("/token").status_code in (400, 405)
    resp = client.post(
        "/token", {"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"}
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    garbage_auth = client.post("/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION="Basic %%%")
    assert garbage_auth.status_code in (400, 401)


@pytest.mark.spec("RFC 6750 §3.1")
@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "Basic abc", "garbage", "Bearer " + "x" * 5000])
def test_userinfo_with_bad_tokens(client, header):
    resp = client.get("/userinfo", HTTP_AUTHORIZATION=header)
    assert resp.status_code in (401, 403)


@pytest.mark.spec("RFC 9700 §4.3.2")
def test_access_token_in_query_string_refused(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    token = exchange(client, app, secret, code, verifier).json()["access_token"]
    assert client.get("/userinfo", {"access_token": token}).status_code in (400, 401)
    assert client.get("/userinfo", **bearer(token)).status_code == 200


@pytest.mark.parametrize("data", [{}, {"token": ""}, {"token": "x" * 10000}, {"token": "abc\x00"}])
def test_bad_revocation_and_introspection(client, rp, data):
    app, secret = rp
    assert client.post("/revoke", data, **basic(app, secret)).status_code in (200, 400)
    resp = client.post("/introspect", data, **basic(app, secret))
    assert resp.status_code in (200, 400)
    if resp.status_code == 200:
        assert resp.json() == {"active": False}
