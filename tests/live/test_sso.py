"""Single sign-on across two relying parties, and single logout through either of them."""

from __future__ import annotations

import pytest
from authlib.common.security import generate_token

from tests.conftest import make_client, query_of
from tests.live.conftest import Login, log_in, validated_claims

A_REDIRECT, A_LOGOUT = "https://miles.example/callback", "https://miles.example/"
B_REDIRECT, B_LOGOUT = "https://grocery.example/callback", "https://grocery.example/"


@pytest.mark.spec("OIDC Core §3.1.2.1")
@pytest.mark.spec("OIDC Core §3.1.2.6")
@pytest.mark.spec("OIDC RP-Initiated Logout §2")
def test_second_site_signs_in_silently_until_the_member_signs_out_at_the_first(
    browser, oidc_session, discovery, member
):
    client_a, secret_a = make_client(
        name="Miles", redirect_uris=A_REDIRECT, post_logout_redirect_uris=A_LOGOUT
    )
    client_b, secret_b = make_client(
        name="Grocery", redirect_uris=B_REDIRECT, post_logout_redirect_uris=B_LOGOUT
    )
    at_a = log_in(browser, oidc_session, discovery, member, client_a, secret_a, redirect_uri=A_REDIRECT)
    claims_a = validated_claims(at_a, nonce=at_a.nonce)

    # B asks without showing anything (prompt=none): the provider's session answers with a code.
    oidc_b = oidc_session(client_b, secret_b, B_REDIRECT)
    verifier, nonce = generate_token(64), generate_token(24)
    url, state = oidc_b.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce, prompt="none"
    )
    resp = browser.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:1000]
    location = resp.headers["Location"]
    assert location.startswith(B_REDIRECT + "?")
    params = query_of(location)
    assert params["state"] == state and params["iss"] == discovery["issuer"] and "error" not in params

    token_b = oidc_b.fetch_token(authorization_response=location, state=state, code_verifier=verifier)
    at_b = Login(oidc=oidc_b, client=client_b, token=dict(token_b), nonce=nonce, started=at_a.started)
    claims_b = validated_claims(at_b, nonce=nonce)
    # The same person and the same authentication event, seen by another audience.
    assert claims_b["sub"] == claims_a["sub"] == str(member.sub)
    assert claims_b["auth_time"] == claims_a["auth_time"]
    assert claims_b["aud"] in (client_b.client_id, [client_b.client_id])

    # Sign out at A (RP-initiated logout) ends the provider's session...
    logout = at_a.oidc.create_logout_url(post_logout_redirect_uri=A_LOGOUT, id_token_hint=at_a.id_token)
    out = browser.get(logout["url"], allow_redirects=False, timeout=10)
    assert out.status_code == 302 and out.headers["Location"] == f"{A_LOGOUT}?state={logout['state']}"

    # ...so B's silent request now comes back with login_required instead of a code.
    url, state = oidc_b.create_authorization_url(
        discovery["authorization_endpoint"],
        code_verifier=generate_token(64),
        nonce=generate_token(24),
        prompt="none",
    )
    resp = browser.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:1000]
    assert resp.headers["Location"].startswith(B_REDIRECT + "?")
    assert query_of(resp.headers["Location"]) == {
        "error": "login_required",
        "state": state,
        "iss": discovery["issuer"],
    }
