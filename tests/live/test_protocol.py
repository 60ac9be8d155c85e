"""The provider as a real relying party sees it: Authlib over HTTP against the live server.

Discovery, authorization code with PKCE through the hosted login form, ID token signature and
claims, userinfo, refresh with rotation, revocation and RP-initiated logout.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError

from tests.conftest import make_client, query_of
from tests.live.conftest import REDIRECT_URI, Login, OIDCSession, log_in, now, validated_claims

POST_LOGOUT_URI = "https://rp.example/"


def silent_authorize(browser, oidc: OIDCSession, discovery) -> tuple[requests.Response, str]:
    url, state = oidc.create_authorization_url(
        discovery["authorization_endpoint"],
        code_verifier=generate_token(64),
        nonce=generate_token(24),
        prompt="none",
    )
    return browser.get(url, allow_redirects=False, timeout=10), state


def bearer_userinfo(discovery, access_token: str) -> requests.Response:
    return requests.get(
        discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )


@pytest.fixture
def rp_client():
    return make_client(redirect_uris=REDIRECT_URI, post_logout_redirect_uris=POST_LOGOUT_URI)


@pytest.fixture
def login(browser, oidc_session, discovery, member, rp_client) -> Login:
    client, secret = rp_client
    return log_in(browser, oidc_session, discovery, member, client, secret)


@pytest.mark.spec("OIDC Discovery §3")
@pytest.mark.spec("OIDC Discovery §4.3")
def test_discovery_names_the_live_origin_and_its_endpoints(issuer, discovery):
    assert discovery["issuer"] == issuer
    for name, path in {
        "authorization_endpoint": "/authorize",
        "token_endpoint": "/token",
        "userinfo_endpoint": "/userinfo",
        "jwks_uri": "/.well-known/jwks.json",
        "end_session_endpoint": "/logout",
        "revocation_endpoint": "/revoke",
        "introspection_endpoint": "/introspect",
    }.items():
        assert discovery[name] == issuer + path, name
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]
    assert discovery["authorization_response_iss_parameter_supported"] is True
    keys = requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]
    assert keys and all(key["kty"] == "RSA" and key.get("kid") and "d" not in key for key in keys)


@pytest.mark.spec("OIDC Core §3.1.3.7")
@pytest.mark.spec("RFC 7636 §4")
def test_code_flow_with_pkce_gives_a_signed_id_token_and_userinfo(login, member, discovery):
    header = json.loads(base64.urlsafe_b64decode(login.id_token.split(".")[0] + "=="))
    jwks = requests.get(discovery["jwks_uri"], timeout=10).json()
    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}

    claims = validated_claims(login, nonce=login.nonce)
    assert claims["iss"] == discovery["issuer"]
    assert claims["aud"] in (login.client.client_id, [login.client.client_id])
    assert claims["sub"] == str(member.sub)
    assert claims["nonce"] == login.nonce
    assert login.started - 1 <= claims["auth_time"] <= now() + 1
    assert claims["acr"] == "urn:ciam:acr:password"
    assert claims["amr"] == ["pwd"]
    if "at_hash" in claims:  # OIDC Core §3.1.3.6: left half of SHA-256 of the access token
        digest = hashlib.sha256(login.token["access_token"].encode()).digest()
        assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    # The signature is really checked: the same signature over other claims is refused.
    head, _payload, signature = login.id_token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "someone-else"}).encode()).rstrip(b"=")
    with pytest.raises(Exception, match="signature"):
        validated_claims(login, token={**login.token, "id_token": f"{head}.{forged.decode()}.{signature}"})

    userinfo = login.oidc.userinfo()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == member.email


@pytest.mark.spec("RFC 6749 §6")
@pytest.mark.spec("RFC 9700 §4.14.2")
@pytest.mark.spec("OIDC Core §12.2")
def test_refresh_rotates_and_the_old_refresh_token_is_refused(login, member, discovery):
    first = validated_claims(login, nonce=login.nonce)
    old = login.token
    new = dict(login.oidc.refresh_token(refresh_token=old["refresh_token"]))

    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    refreshed = validated_claims(login, token=new)
    assert refreshed["sub"] == first["sub"] == str(member.sub)
    assert refreshed["auth_time"] == first["auth_time"]
    assert bearer_userinfo(discovery, new["access_token"]).json()["sub"] == first["sub"]

    with pytest.raises(OAuthError) as replayed:
        login.oidc.refresh_token(refresh_token=old["refresh_token"])
    assert replayed.value.error == "invalid_grant"
    # Reuse protection: the replay revoked the whole family, the new refresh token included.
    with pytest.raises(OAuthError) as after_replay:
        login.oidc.refresh_token(refresh_token=new["refresh_token"])
    assert after_replay.value.error == "invalid_grant"


@pytest.mark.spec("RFC 7009 §2.1")
@pytest.mark.spec("RFC 7009 §2.2")
def test_revoked_access_token_no_longer_reaches_userinfo(login, discovery):
    access_token = login.token["access_token"]
    assert bearer_userinfo(discovery, access_token).status_code == 200

    resp = login.oidc.revoke_token(
        discovery["revocation_endpoint"], token=access_token, token_type_hint="access_token"
    )
    assert resp.status_code == 200, resp.text
    assert bearer_userinfo(discovery, access_token).status_code == 401
    # An unknown or already revoked token is not an error (RFC 7009 §2.2).
    again = login.oidc.revoke_token(discovery["revocation_endpoint"], token=access_token)
    assert again.status_code == 200


@pytest.mark.spec("OIDC RP-Initiated Logout §2")
@pytest.mark.spec("OIDC RP-Initiated Logout §3")
def test_rp_initiated_logout_returns_to_the_registered_uri_with_state(login, browser, discovery):
    logout = login.oidc.create_logout_url(
        post_logout_redirect_uri=POST_LOGOUT_URI, id_token_hint=login.id_token
    )
    resp = browser.get(logout["url"], allow_redirects=False, timeout=10)

    assert resp.status_code == 302, resp.text[:1000]
    assert resp.headers["Location"] == f"{POST_LOGOUT_URI}?state={logout['state']}"
    # The provider's session is over, and so are the tokens it issued to the member.
    silent, state = silent_authorize(browser, login.oidc, discovery)
    assert silent.status_code == 302
    assert query_of(silent.headers["Location"]) == {
        "error": "login_required",
        "state": state,
        "iss": discovery["issuer"],
    }
    assert bearer_userinfo(discovery, login.token["access_token"]).status_code == 401


@pytest.mark.spec("OIDC RP-Initiated Logout §3")
def test_logout_never_redirects_to_an_unregistered_uri(login, browser, discovery):
    other, _secret = make_client(
        redirect_uris="https://other.example/cb", post_logout_redirect_uris="https://other.example/"
    )
    for uri in ("https://evil.example/", "https://rp.example/other", "https://other.example/"):
        logout = login.oidc.create_logout_url(post_logout_redirect_uri=uri, id_token_hint=login.id_token)
        resp = browser.get(logout["url"], allow_redirects=False, timeout=10)
        assert not resp.is_redirect, (uri, resp.headers.get("Location"))
        assert resp.status_code == 400, (uri, resp.status_code)
    # None of those requests ended the member's session.
    silent, _state = silent_authorize(browser, login.oidc, discovery)
    assert silent.status_code == 302 and "code" in query_of(silent.headers["Location"])
    assert other.client_id != login.client.client_id
