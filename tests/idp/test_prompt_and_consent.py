"""prompt, max_age, id_token_hint, acr_values and consent: OIDC Core §3.1.2.1, §3.1.2.3, §3.1.2.6."""

from __future__ import annotations

import time

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY

from idp.models import ClientAuthorization
from tests.conftest import (
    PASSWORD,
    authorize_params,
    exchange,
    get_code,
    id_token_claims,
    login,
    pkce_pair,
    query_of,
)

pytestmark = pytest.mark.django_db


def age_session(client, seconds: int) -> None:
    """Move the session's authentication back in time (as if the login happened earlier)."""
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    for record in records:
        record["at"] -= seconds
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()


def _auth_time(client) -> float:
    return max(r["at"] for r in client.session[AUTHENTICATION_METHODS_SESSION_KEY])


def _authorize(client, app, **extra):
    return client.get("/authorize", authorize_params(app, challenge=pkce_pair()[1], **extra))


@pytest.mark.spec("OIDC Core §3.1.2.6")
def test_prompt_none_anonymous_returns_login_required(client, rp):
    app, _ = rp
    resp = _authorize(client, app, prompt="none", state="xyz")
    assert resp.status_code == 302
    q = query_of(resp["Location"])
    assert resp["Location"].startswith("https://rp.example/callback?")
    assert q == {"error": "login_required", "state": "xyz", "iss": "http://testserver"}


@pytest.mark.spec("OIDC Core §3.1.2.6")
def test_prompt_none_signed_in_first_party_gets_code(client, member, rp):
    app, _ = rp
    login(client, member)
    resp = _authorize(client, app, prompt="none")
    assert "code" in query_of(resp["Location"])


@pytest.mark.spec("OIDC Core §3.1.2.6")
def test_prompt_none_without_grant_returns_consent_required(client, member, third_party_rp):
    app, _ = third_party_rp
    login(client, member)
    resp = _authorize(client, app, prompt="none")
    assert query_of(resp["Location"])["error"] == "consent_required"


@pytest.mark.spec("OIDC Core §3.1.2.6")
def test_prompt_none_with_unmet_acr_returns_interaction_required(client, member, rp):
    app, _ = rp
    login(client, member)
    resp = _authorize(client, app, prompt="none", acr_values="urn:ciam:acr:mfa")
    assert query_of(resp["Location"])["error"] == "interaction_required"


@pytest.mark.spec("OIDC Core §3.1.2.1")
def test_prompt_none_combined_with_other_values_is_invalid(client, member, rp):
    app, _ = rp
    login(client, member)
    resp = _authorize(client, app, prompt="none login")
    assert query_of(resp["Location"])["error"] == "invalid_request"


@pytest.mark.spec("OIDC Core §3.1.2.3")
def test_consent_screen_then_remembered_then_revocable(client, member, third_party_rp):
    app, _ = third_party_rp
    login(client, member)
    params = authorize_params(app, challenge=pkce_pair()[1])
    page = client.get("/authorize", params)
    assert page.status_code == 200
    text = page.content.decode()
    assert app.name in text and "Your email address" in text

    form = page.context["form"].initial
    allowed = client.post("/authorize", {**{k: v or "" for k, v in form.items()}, "allow": "Authorize"})
    assert allowed.status_code == 302 and "code" in query_of(allowed["Location"])
    grant = ClientAuthorization.objects.get(user=member, client=app, revoked_at__isnull=True)
    assert {"openid", "email", "profile"} <= set(grant.scope.split())

    again = _authorize(client, app, prompt="none")
    assert "code" in query_of(again["Location"])

    # A wider request asks again.
    wider = _authorize(client, app, scope="openid email phone")
    assert wider.status_code == 200

    # prompt=consent always asks.
    assert _authorize(client, app, prompt="consent").status_code == 200

    client.post(f"/apps/{app.pk}/revoke")
    assert query_of(_authorize(client, app, prompt="none")["Location"])["error"] == "consent_required"


@pytest.mark.spec("RFC 6749 §4.1.2.1")
def test_consent_denied_returns_access_denied(client, member, third_party_rp):
    app, _ = third_party_rp
    login(client, member)
    page = client.get("/authorize", authorize_params(app, challenge=pkce_pair()[1], state="s9"))
    form = {k: v or "" for k, v in page.context["form"].initial.items()}
    denied = client.post("/authorize", form)
    q = query_of(denied["Location"])
    assert q["error"] == "access_denied" and q["state"] == "s9" and q["iss"] == "http://testserver"
    assert not ClientAuthorization.objects.filter(user=member).exists()


@pytest.mark.spec("OIDC Core §3.1.2.1 prompt=login")
def test_prompt_login_forces_reauthentication(client, member, rp):
    app, secret = rp
    login(client, member)
    age_session(client, 3600)
    resp = _authorize(client, app, prompt="login")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")
    next_url = query_of(resp["Location"])["next"]
    relog = client.post(resp["Location"], {"login": member.email, "password": PASSWORD})
    assert relog.status_code == 302 and relog["Location"] == next_url
    done = client.get(next_url)
    assert "code" in query_of(done["Location"])
    assert _auth_time(client) >= int(time.time()) - 5


@pytest.mark.spec("OIDC Core §3.1.2.1 max_age")
def test_max_age_exceeded_forces_login_and_auth_time_is_fresh(client, member, rp):
    app, secret = rp
    login(client, member)
    age_session(client, 600)
    verifier, challenge = pkce_pair()
    params = authorize_params(app, challenge=challenge, max_age="300")
    resp = client.get("/authorize", params)
    assert resp["Location"].startswith("/accounts/login/")
    client.post(resp["Location"], {"login": member.email, "password": PASSWORD})
    done = client.get("/authorize", params)
    code = query_of(done["Location"])["code"]
    body = exchange(client, app, secret, code, verifier).json()
    claims = id_token_claims(client, body["id_token"])
    assert claims["auth_time"] >= int(time.time()) - 5


@pytest.mark.spec("OIDC Core §3.1.2.1 max_age")
def test_max_age_within_limit_keeps_session(client, member, rp):
    app, _ = rp
    login(client, member)
    resp = _authorize(client, app, max_age="300")
    assert "code" in query_of(resp["Location"])


@pytest.mark.spec("OIDC Core §3.1.2.1 max_age")
def test_bad_max_age_is_invalid_request(client, member, rp):
    app, _ = rp
    login(client, member)
    assert query_of(_authorize(client, app, max_age="soon")["Location"])["error"] == "invalid_request"


@pytest.mark.spec("OIDC Core §3.1.2.1 id_token_hint")
def test_id_token_hint_for_other_user_with_prompt_none(client, member, rp, django_user_model):
    app, secret = rp
    other = django_user_model.objects.create_user(email="other@example.com", password=PASSWORD)
    login(client, other)
    code, verifier = get_code(client, app)
    other_token = exchange(client, app, secret, code, verifier).json()["id_token"]
    client.post("/accounts/logout/")
    login(client, member)
    resp = _authorize(client, app, prompt="none", id_token_hint=other_token)
    assert query_of(resp["Location"])["error"] == "login_required"

    code, verifier = get_code(client, app)
    own_token = exchange(client, app, secret, code, verifier).json()["id_token"]
    resp = _authorize(client, app, prompt="none", id_token_hint=own_token)
    assert "code" in query_of(resp["Location"])


@pytest.mark.spec("OIDC Core §3.1.2.1 login_hint, ui_locales")
def test_login_hint_and_ui_locales_reach_the_login_page(client, rp):
    app, _ = rp
    resp = _authorize(client, app, login_hint="hanako@example.com", ui_locales="ja en")
    assert resp["Location"].startswith("/accounts/login/")
    page = client.get(resp["Location"])
    html = page.content.decode()
    assert 'value="hanako@example.com"' in html
    assert '<html lang="ja">' in html
    assert app.name in html


@pytest.mark.spec("OIDC Core §3.1.2.1 prompt=login")
def test_prompt_login_when_anonymous_asks_only_once(client, member, rp):
    app, _ = rp
    params = authorize_params(app, challenge=pkce_pair()[1], prompt="login", max_age="0")
    first = client.get("/authorize", params)
    assert first["Location"].startswith("/accounts/login/")
    back = client.post(first["Location"], {"login": member.email, "password": PASSWORD})
    done = client.get(back["Location"])
    assert done.status_code == 302 and "code" in query_of(done["Location"])
