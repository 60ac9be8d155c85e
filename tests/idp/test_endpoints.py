"""Device flow, revocation, introspection, logout, discovery, JWKS."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from oauth2_provider.models import get_access_token_model

from idp.models import Client
from tests.conftest import basic, bearer, exchange, get_code, id_token_claims, login, make_client, query_of

pytestmark = pytest.mark.django_db

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.mark.spec("OIDC Discovery §3, RFC 8414")
def test_discovery_document(client):
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == "http://testserver"
    for key, path in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
        ("end_session_endpoint", "/logout"),
        ("device_authorization_endpoint", "/device_authorization"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ]:
        assert doc[key] == "http://testserver" + path
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert set(doc["prompt_values_supported"]) == {"none", "login", "consent"}
    assert "implicit" not in doc["grant_types_supported"] and "password" not in doc["grant_types_supported"]


@pytest.mark.spec("RFC 7517 §4.5")
def test_jwks_has_kid_and_no_private_parts(client):
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert keys and all(k["kid"] and k["alg"] == "RS256" and k["kty"] == "RSA" for k in keys)
    assert all("d" not in k and "p" not in k for k in keys)


def _device_start(client, kiosk, scope):
    return client.post(
        "/device_authorization",
        urlencode({"client_id": kiosk.client_id, "scope": scope}),
        content_type="application/x-www-form-urlencoded",
    )


@pytest.mark.spec("RFC 8628 §3.1-3.5")
def test_device_authorization_grant(client, member):
    kiosk, _ = make_client(
        client_type="public",
        authorization_grant_type="urn:ietf:params:oauth:grant-type:device_code",
        redirect_uris="",
    )
    start = _device_start(client, kiosk, "openid email")
    assert start.status_code == 200, start.content
    body = start.json()
    assert body["verification_uri"].endswith("/device") and body["user_code"] and body["interval"] >= 5

    poll = {"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": kiosk.client_id}
    pending = client.post("/token", poll)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"

    login(client, member)
    entered = client.post("/device", {"user_code": body["user_code"]})
    assert entered.status_code == 302
    confirmed = client.post(entered["Location"], {"action": "accept"})
    assert confirmed.status_code == 302

    tokens = client.post("/token", poll)
    assert tokens.status_code == 200, tokens.content
    info = client.get("/userinfo", **bearer(tokens.json()["access_token"])).json()
    assert info["email"] == member.email


@pytest.mark.spec("RFC 8628 §3.5")
def test_device_grant_denied(client, member):
    kiosk, _ = make_client(client_type="public", authorization_grant_type=DEVICE_GRANT, redirect_uris="")
    body = _device_start(client, kiosk, "openid").json()
    login(client, member)
    entered = client.post("/device", {"user_code": body["user_code"]})
    client.post(entered["Location"], {"action": "deny"})
    resp = client.post(
        "/token",
        {"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": kiosk.client_id},
    )
    assert resp.status_code == 400 and resp.json()["error"] == "access_denied"


@pytest.mark.spec("RFC 8628 §3.3")
def test_device_wrong_user_code(client, member):
    login(client, member)
    resp = client.post("/device", {"user_code": "NOPE-NOPE"})
    assert resp.status_code == 200 and resp.context["form"].errors


@pytest.mark.spec("RFC 7009 §2, RFC 7662 §2")
def test_revocation_and_introspection(client, member, rp):
    app, secret = rp
    resource_server, rs_secret = make_client(authorization_grant_type="client-credentials", redirect_uris="")
    login(client, member)
    code, verifier = get_code(client, app)
    tokens = exchange(client, app, secret, code, verifier).json()

    info = client.post(
        "/introspect", {"token": tokens["access_token"]}, **basic(resource_server, rs_secret)
    ).json()
    assert info["active"] is True and info["client_id"] == app.client_id
    assert set(info["scope"].split()) == {"openid", "email", "profile"}

    anonymous = client.post("/introspect", {"token": tokens["access_token"]})
    assert anonymous.status_code in (401, 403)

    assert client.post("/revoke", {"token": tokens["access_token"]}, **basic(app, secret)).status_code == 200
    info = client.post(
        "/introspect", {"token": tokens["access_token"]}, **basic(resource_server, rs_secret)
    ).json()
    assert info == {"active": False}
    assert client.get("/userinfo", **bearer(tokens["access_token"])).status_code == 401

    # Revoking the refresh token ends the session's refresh chain.
    client.post(
        "/revoke",
        {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        **basic(app, secret),
    )
    resp = client.post(
        "/token",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        **basic(app, secret),
    )
    assert resp.status_code == 400


@pytest.mark.spec("RFC 7009 §2.1")
def test_client_cannot_revoke_another_clients_token(client, member, rp):
    app, secret = rp
    other, other_secret = make_client()
    login(client, member)
    code, verifier = get_code(client, app)
    access = exchange(client, app, secret, code, verifier).json()["access_token"]
    client.post("/revoke", {"token": access}, **basic(other, other_secret))
    assert client.get("/userinfo", **bearer(access)).status_code == 200


@pytest.mark.spec("OIDC RP-Initiated Logout 1.0 §2-3")
def test_rp_initiated_logout(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    tokens = exchange(client, app, secret, code, verifier).json()

    evil = client.get(
        "/logout",
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://evil.example/",
            "state": "q",
        },
    )
    assert evil.status_code == 400 and "evil.example" not in evil.get("Location", "")
    assert "_auth_user_id" in client.session

    ok = client.get(
        "/logout",
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://rp.example/",
            "state": "q",
        },
    )
    assert ok.status_code == 302
    assert ok["Location"].startswith("https://rp.example/") and query_of(ok["Location"])["state"] == "q"
    assert "_auth_user_id" not in client.session
    assert not get_access_token_model().objects.filter(user=member, application=app).exists()


@pytest.mark.spec("OIDC RP-Initiated Logout 1.0 §2")
def test_logout_without_hint_asks_for_confirmation(client, member):
    login(client, member)
    page = client.get("/logout")
    assert page.status_code == 200 and b"logout-form" in page.content
    assert "_auth_user_id" in client.session


def test_createapplication_command_works_with_our_client_model(db):
    from django.core.management import call_command

    call_command(
        "createapplication",
        "confidential",
        "authorization-code",
        "--name",
        "CLI client",
        "--redirect-uris",
        "https://cli.example/cb",
        "--algorithm",
        "RS256",
        "--client-id",
        "cli-client",
    )
    created = Client.objects.get(client_id="cli-client")
    assert created.redirect_uri_allowed("https://cli.example/cb")
    assert created.client_secret.startswith("idp_client_secret$")


def test_client_secret_is_stored_hashed(db):
    app, secret = make_client()
    app.refresh_from_db()
    assert secret not in app.client_secret and app.client_secret.startswith("idp_client_secret$")


@pytest.mark.spec("OIDC Core §2 (sub)")
def test_sub_is_stable_and_not_the_primary_key(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    claims = id_token_claims(client, exchange(client, app, secret, code, verifier).json()["id_token"])
    assert claims["sub"] == str(member.sub) != str(member.pk)


@pytest.mark.spec("RFC 8628 §5.1")
def test_device_user_code_guessing_is_limited(client, member):
    login(client, member)
    statuses = [client.post("/device", {"user_code": f"GUESS{i:04d}"}).status_code for i in range(12)]
    assert statuses[:10] == [200] * 10 and statuses[-1] == 429


def test_connected_apps_lists_scope_descriptions(client, member, third_party_rp):
    from idp import services

    app, _ = third_party_rp
    services.client_authorization_grant(user=member, client=app, scopes={"openid", "email"})
    login(client, member)
    html = client.get("/apps/").content.decode()
    assert app.name in html and "Your email address" in html and ">openid<" not in html


@pytest.mark.spec("RFC 8628 §3.5, RFC 6749 §5.2")
def test_unknown_device_code_is_invalid_grant(client):
    kiosk, _ = make_client(client_type="public", authorization_grant_type=DEVICE_GRANT, redirect_uris="")
    resp = client.post("/token", {"grant_type": DEVICE_GRANT, "device_code": "nope", "client_id": kiosk.client_id})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
