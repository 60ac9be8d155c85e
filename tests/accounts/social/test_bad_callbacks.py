"""Upstream errors, cancelled consent, bad state and tampered callbacks (issue 3, "Bad input").

Each gets a clear page, a security event, never a 500 and never a signed-in session.
"""

from __future__ import annotations

import time

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import SecurityEvent
from tests.accounts.social.conftest import LOGIN_URL, come_back, signed_in_user_id, social_login, start
from tests.accounts.social.fake_upstream import rsa_key
from tests.conftest import query_of

User = get_user_model()


def assert_refused(client, response, *, status: int = 401) -> SecurityEvent:
    assert response.status_code == status, response.content[:500]
    assert signed_in_user_id(client) is None
    assert not User.objects.exists() and not SocialAccount.objects.exists()
    events = list(SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SOCIAL_REJECTED))
    assert len(events) == 1, [e.data for e in events]
    return events[0]


def test_cancelled_consent_shows_a_clear_page(client, partner_app, upstream):
    upstream.authorize_error = "access_denied"
    response = social_login(client, upstream)
    assert response.status_code == 302 and response["Location"] == "/accounts/3rdparty/login/cancelled/"
    event = assert_refused(client, response, status=302)
    assert event.data["error"] == "cancelled" and event.data["upstream_error"] == "access_denied"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b'id="social-cancelled"' in page.content


def test_upstream_error_in_the_authorization_response(client, partner_app, upstream):
    upstream.authorize_error = "server_error"
    response = social_login(client, upstream)
    event = assert_refused(client, response)
    assert b'id="social-error"' in response.content and b"Partner ID" in response.content
    assert event.data["upstream_error"] == "server_error"


def test_token_endpoint_refuses_the_code(client, partner_app, upstream):
    upstream.token_error = "invalid_grant"
    event = assert_refused(client, social_login(client, upstream))
    assert event.data["provider"] == "partner" and "OAuth2Error" in event.data["detail"]


def test_upstream_unreachable_at_the_start(client, partner_app, upstream):
    upstream.stop()
    response = client.post(LOGIN_URL, {"process": "login"})
    event = assert_refused(client, response)
    assert b'id="social-error"' in response.content
    assert "ConnectionError" in event.data["detail"]


@pytest.mark.spec("RFC 6749 §10.12, OIDC Core §3.1.2.7")
@pytest.mark.parametrize("state", ["forged-state-value", ""], ids=["forged", "missing"])
def test_bad_state_is_refused(client, partner_app, upstream, state):
    callback = upstream.consent(start(client))
    code = query_of(callback)["code"]
    response = client.get("/accounts/oidc/partner/login/callback/", {"code": code, "state": state})
    assert_refused(client, response)
    assert b'id="social-error"' in response.content


@pytest.mark.spec("RFC 6749 §10.12")
def test_callback_in_another_browser_is_refused(client, partner_app, upstream):
    """A login CSRF: the attacker's own callback URL, opened in the victim's browser."""
    callback = upstream.consent(start(Client()))
    assert_refused(client, come_back(client, callback))


def test_replayed_callback_is_refused(client, partner_app, upstream):
    callback = upstream.consent(start(client))
    assert come_back(client, callback).status_code == 302
    user_id = signed_in_user_id(client)
    response = come_back(client, callback)  # same browser, same URL: the state is used up
    assert response.status_code == 401
    assert SocialAccount.objects.count() == 1 and signed_in_user_id(client) == user_id


@pytest.mark.spec("RFC 7636 §4.6")
def test_code_from_another_flow_fails_pkce(client, partner_app, upstream):
    """Swap in the code of another sign-in (another browser): the upstream's PKCE check fails."""
    theirs = query_of(upstream.consent(start(Client())))
    ours = query_of(upstream.consent(start(client)))
    response = client.get(
        "/accounts/oidc/partner/login/callback/", {"code": theirs["code"], "state": ours["state"]}
    )
    event = assert_refused(client, response)
    assert "OAuth2Error" in event.data["detail"]
    assert upstream.token_requests[-1]["code_verifier"]


@pytest.mark.spec("OIDC Core §3.1.3.7")
def test_code_from_another_flow_fails_the_nonce_without_pkce(client, partner_app, upstream):
    partner_app.settings["oauth_pkce_enabled"] = False
    partner_app.save(update_fields=["settings"])
    theirs = query_of(upstream.consent(start(Client())))
    ours = query_of(upstream.consent(start(client)))
    assert "code_challenge" not in upstream.authorize_requests[-1]
    response = client.get(
        "/accounts/oidc/partner/login/callback/", {"code": theirs["code"], "state": ours["state"]}
    )
    event = assert_refused(client, response)
    assert "nonce" in event.data["detail"]


def _tamper_signature(upstream):
    upstream.sign_with = rsa_key("attacker")  # same kid, another key


def _tamper_alg_hs256(upstream):
    upstream.id_token_header = {"alg": "HS256"}


TAMPERED = {
    "invalid signature": (_tamper_signature, "signature"),
    "symmetric alg": (_tamper_alg_hs256, "algorithm"),
    "wrong nonce": (lambda u: u.id_token_overrides.update(nonce="a-nonce-from-elsewhere"), "nonce"),
    "no nonce": (lambda u: u.id_token_overrides.update(nonce=None), "nonce"),
    "wrong issuer": (lambda u: u.id_token_overrides.update(iss="https://evil.example"), "issuer"),
    "wrong audience": (lambda u: u.id_token_overrides.update(aud="another-client"), "another client"),
    "extra audience without azp": (
        lambda u: u.id_token_overrides.update(aud=[u.client_id, "another-client"]),
        "another party",
    ),
    "expired": (lambda u: u.id_token_overrides.update(exp=int(time.time()) - 3600), "expired"),
    "no id token subject": (lambda u: u.id_token_overrides.update(sub=""), "subject"),
    "userinfo of someone else": (
        lambda u: u.userinfo_overrides.update(sub="someone-else"),
        "another subject",
    ),
}


@pytest.mark.spec("OIDC Core §3.1.3.7, OIDC Core §5.3.2")
@pytest.mark.parametrize("tamper", list(TAMPERED), ids=list(TAMPERED))
def test_tampered_id_token_or_userinfo_is_refused(client, partner_app, upstream, tamper):
    change, detail = TAMPERED[tamper]
    change(upstream)
    response = social_login(client, upstream)
    event = assert_refused(client, response)
    assert detail in event.data["detail"], event.data
    assert b'id="social-error"' in response.content


def test_unsigned_id_token_is_refused(client, partner_app, upstream, monkeypatch):
    import base64
    import json

    def unsigned(grant):
        def part(value):
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        claims = {"iss": upstream.issuer, "aud": upstream.client_id, "sub": "x", "nonce": grant["nonce"]}
        claims.update(exp=int(time.time()) + 60, iat=int(time.time()))
        return f"{part({'alg': 'none'})}.{part(claims)}."

    monkeypatch.setattr(upstream, "id_token", unsigned)
    event = assert_refused(client, social_login(client, upstream))
    assert "algorithm" in event.data["detail"]


@pytest.mark.spec("RFC 9207 §2.4")
def test_authorization_response_from_another_issuer_is_refused(client, partner_app, upstream):
    upstream.iss_param = "https://mixed-up.example"
    event = assert_refused(client, social_login(client, upstream))
    assert "another issuer" in event.data["detail"]
    assert not upstream.token_requests  # the code never went to the token endpoint


@pytest.mark.spec("RFC 9207 §2.4")
def test_missing_iss_when_the_upstream_announces_it(client, partner_app, upstream):
    upstream.discovery_overrides["authorization_response_iss_parameter_supported"] = True
    assert_refused(client, social_login(client, upstream))


@pytest.mark.spec("RFC 9207 §2.4")
def test_matching_iss_is_accepted(client, partner_app, upstream):
    upstream.discovery_overrides["authorization_response_iss_parameter_supported"] = True
    upstream.iss_param = upstream.issuer
    assert social_login(client, upstream).status_code == 302
    assert signed_in_user_id(client) is not None


@pytest.mark.spec("OIDC Discovery §4.3")
def test_discovery_for_another_issuer_is_refused(client, partner_app, upstream):
    upstream.discovery_overrides["issuer"] = "https://impostor.example"
    response = client.post(LOGIN_URL, {"process": "login"})
    event = assert_refused(client, response)
    assert "issuer" in event.data["detail"]
    assert not upstream.authorize_requests


def test_unknown_provider_is_not_found(client, partner_app):
    assert client.post("/accounts/oidc/nobody/login/", {"process": "login"}).status_code == 404
    assert client.get("/accounts/oidc/nobody/login/callback/", {"code": "x", "state": "y"}).status_code == 404
