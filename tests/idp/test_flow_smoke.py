from __future__ import annotations

import json

import pytest
from jwcrypto import jwk, jwt

from tests.conftest import PASSWORD, pkce_pair, query_of


@pytest.mark.spec("OIDC Core §3.1")
def test_code_flow_with_pkce_issues_signed_id_token(client, member, rp):
    app, secret = rp
    verifier, challenge = pkce_pair()
    client.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
    resp = client.get(
        "/authorize",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": "https://rp.example/callback",
            "scope": "openid email profile",
            "state": "s1",
            "nonce": "n1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert resp.status_code == 302, resp.content[:500]
    q = query_of(resp["Location"])
    assert q["state"] == "s1" and q["iss"] == "http://testserver"
    token = client.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": q["code"],
            "redirect_uri": "https://rp.example/callback",
            "client_id": app.client_id,
            "client_secret": secret,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.content
    body = token.json()
    jwks = client.get("/.well-known/jwks.json").json()
    keyset = jwk.JWKSet.from_json(json.dumps(jwks))
    claims = json.loads(jwt.JWT(jwt=body["id_token"], key=keyset).claims)
    assert claims["sub"] == str(member.sub)
    assert claims["nonce"] == "n1"
    assert claims["email"] == member.email
    assert claims["acr"] == "urn:ciam:acr:password"
    assert claims["amr"] == ["pwd"]
