"""Re-consent on the way to a relying party: a signed-in member (SSO) meets changed documents."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from consent.models import LegalAcceptance
from idp.models import AuditEvent
from tests.conftest import authorize_params, exchange, login, pkce_pair, query_of
from tests.consent.legal.conftest import publish

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64) LegalTest/1.0"


def _authorize(client, app, **extra):
    verifier, challenge = pkce_pair()
    params = authorize_params(app, challenge=challenge, **extra)
    return client.get("/authorize", params, HTTP_USER_AGENT=UA), params, verifier


def _next_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


def test_new_material_version_interrupts_sso_then_accept_issues_the_code(client, accepted_member, rp):
    app, secret = rp
    login(client, accepted_member)
    publish("terms", "2", material=True, summary="We now share points with partners.")

    resp, params, verifier = _authorize(client, app)

    # Stopped before the code: the interstitial, with the /authorize request to come back to.
    assert resp.status_code == 302
    assert resp["Location"].startswith("/legal/accept?")
    back_to = _next_of(resp["Location"])
    assert urlsplit(back_to).path == "/authorize" and query_of(back_to)["state"] == params["state"]
    assert "code" not in query_of(resp["Location"])

    page = client.get(resp["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-document="terms" data-version="2"' in html
    assert "We now share points with partners." in html
    assert 'data-document="privacy"' not in html  # privacy policy 1 is still accepted
    assert page.context["client"] == app

    version_ids = [str(d["version"].pk) for d in page.context["documents"]]
    done = client.post(
        resp["Location"],
        {"versions": version_ids, "language": "en", "action": "accept", "next": back_to},
        HTTP_USER_AGENT=UA,
    )
    assert done.status_code == 302
    assert done["Location"] == back_to  # the same authorization request

    final = client.get(back_to, HTTP_USER_AGENT=UA)
    q = query_of(final["Location"])
    assert final["Location"].startswith("https://rp.example/callback?")
    assert q["state"] == params["state"] and q["iss"] == "http://testserver" and q["code"]
    assert exchange(client, app, secret, q["code"], verifier).status_code == 200

    row = LegalAcceptance.objects.get(user=accepted_member, version__version="2")
    assert row.channel == LegalAcceptance.Channel.SSO
    assert row.client == app and row.client_label == app.client_id
    assert AuditEvent.objects.filter(kind="legal.accepted", user=accepted_member, client=app).exists()


def test_non_material_change_does_not_interrupt(client, accepted_member, rp):
    app, _ = rp
    login(client, accepted_member)
    publish("terms", "1.1", material=False)

    resp, params, _ = _authorize(client, app)

    q = query_of(resp["Location"])
    assert "code" in q and q["state"] == params["state"]
    assert not LegalAcceptance.objects.filter(version__version="1.1").exists()


def test_member_who_accepted_a_later_minor_version_is_not_asked_again(client, accepted_member, rp):
    """Required: the latest material version *or a later one*."""
    app, _ = rp
    publish("terms", "2", material=True)
    publish("terms", "2.1", material=False)
    from tests.consent.legal.conftest import accept_all

    accept_all(accepted_member)  # accepts 2.1, the current version
    login(client, accepted_member)
    resp, _, _ = _authorize(client, app)
    assert "code" in query_of(resp["Location"])


@pytest.mark.spec("OIDC Core §3.1.2.6")
def test_prompt_none_with_pending_documents_is_consent_required(client, accepted_member, rp):
    app, _ = rp
    login(client, accepted_member)
    publish("privacy", "2", material=True)

    resp, params, _ = _authorize(client, app, prompt="none", state="st-silent")

    assert resp.status_code == 302
    assert resp["Location"].startswith("https://rp.example/callback?")
    q = query_of(resp["Location"])
    assert q["error"] == "consent_required"
    assert q["state"] == "st-silent"
    assert q["iss"] == "http://testserver"
    assert "code" not in q


def test_decline_revokes_the_clients_tokens_and_returns_no_code(client, accepted_member, rp):
    app, secret = rp
    login(client, accepted_member)
    # The member has been using this RP: it holds an access and a refresh token.
    resp, _params, verifier = _authorize(client, app)
    tokens = exchange(client, app, secret, query_of(resp["Location"])["code"], verifier).json()
    assert get_access_token_model().objects.filter(user=accepted_member, application=app).exists()

    publish("terms", "2", material=True)
    resp, params, _ = _authorize(client, app)
    interstitial = resp["Location"]
    back_to = _next_of(interstitial)
    declined = client.post(interstitial, {"action": "decline", "next": back_to})

    assert declined.status_code == 302 and declined["Location"].startswith("/legal/declined?")
    assert not get_access_token_model().objects.filter(user=accepted_member, application=app).exists()
    refresh_tokens = get_refresh_token_model().objects.filter(user=accepted_member, application=app)
    assert refresh_tokens.exists() and not refresh_tokens.filter(revoked__isnull=True).exists()
    assert not LegalAcceptance.objects.filter(version__version="2").exists()
    assert AuditEvent.objects.filter(kind="legal.declined", user=accepted_member, client=app).exists()
    # The refresh token no longer works at /token.
    refused = client.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app.client_id,
            "client_secret": secret,
        },
    )
    assert refused.status_code == 400

    page = client.get(declined["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="declined-client"' in html and 'id="accept-later"' in html and 'id="sign-out"' in html

    # "Return to the site": the RP hears access_denied for its request, with state and iss.
    back = client.get(back_to)
    q = query_of(back["Location"])
    assert back["Location"].startswith("https://rp.example/callback?")
    assert q == {
        "error": "access_denied",
        "error_description": q["error_description"],
        "state": params["state"],
        "iss": "http://testserver",
    }

    # A new request from the RP shows the interstitial again ("accept later").
    again, _, _ = _authorize(client, app)
    assert again["Location"].startswith("/legal/accept?")


def test_consent_page_post_with_a_pending_interstitial_returns_the_error(client, accepted_member, third_party_rp):
    """Terms published while the consent page was open: no code; the RP hears consent_required."""
    app, _ = third_party_rp
    login(client, accepted_member)
    resp, params, _ = _authorize(client, app)
    assert resp.status_code == 200  # the consent page
    publish("terms", "2", material=True)

    form = resp.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["allow"] = "Authorize"
    posted = client.post("/authorize", data)

    q = query_of(posted["Location"])
    assert posted["Location"].startswith("https://shop.example/cb?")
    assert q["error"] == "consent_required" and q["state"] == params["state"] and "code" not in q


def test_third_party_rp_shows_interstitial_before_the_consent_page(client, accepted_member, third_party_rp):
    app, _ = third_party_rp
    login(client, accepted_member)
    publish("terms", "2", material=True)
    resp, _, _ = _authorize(client, app)
    assert resp["Location"].startswith("/legal/accept?")
    client.post(resp["Location"], {"versions": [str(_v("terms", "2"))], "language": "en", "action": "accept"})
    consent = client.get(_next_of(resp["Location"]))
    assert consent.status_code == 200 and b'id="consent-form"' in consent.content


def _v(slug: str, version: str) -> int:
    from consent.models import LegalDocumentVersion

    return LegalDocumentVersion.objects.get(document__slug=slug, version=version).pk


@pytest.mark.spec("OIDC Back-Channel Logout 1.0 §2.5")
def test_decline_tells_the_rp_over_back_channel_logout(
    client, accepted_member, rp_endpoint, eager_tasks, django_capture_on_commit_callbacks
):
    """Signed out of that RP: its session for this browser ends too, where it listens."""
    from tests.accounts.security.conftest import verified_logout_token
    from tests.conftest import make_client

    endpoint = rp_endpoint()
    app, secret = make_client(backchannel_logout_uri=endpoint.url)
    login(client, accepted_member)
    resp, _params, verifier = _authorize(client, app)
    assert exchange(client, app, secret, query_of(resp["Location"])["code"], verifier).status_code == 200
    sid = client.session["idp_sid"]

    publish("terms", "2", material=True)
    resp, _params, _ = _authorize(client, app)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(resp["Location"], {"action": "decline", "next": _next_of(resp["Location"])})

    [token] = endpoint.wait_for(1)
    _header, claims = verified_logout_token(client, token)
    assert claims["aud"] == app.client_id and claims["sub"] == str(accepted_member.sub) and claims["sid"] == sid
