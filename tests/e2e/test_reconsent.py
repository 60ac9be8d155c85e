"""In Chromium: the re-consent interstitial on a login from a relying party, then again on SSO."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from consent.models import LegalAcceptance
from tests.conftest import PASSWORD
from tests.consent.legal.conftest import accept_all, publish
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


@pytest.mark.spec("OIDC Core §3.1.2.6")
def test_interstitial_from_an_rp_login_and_on_sso(page: Page, live_server, member, relying_party):
    rp = relying_party(name="Miles Shop")
    publish("terms", "1")
    publish("privacy", "1")
    accept_all(member)
    publish("terms", "2", material=True, summary="Points now expire after two years.")

    # 1. Login started by the RP: after the password, the changed terms, branded for the RP.
    first = rp.authorization_request()
    page.goto(first.url)
    sign_in(page, member.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/legal/accept\?"))
    expect(page.locator("#rp-name")).to_have_text("Miles Shop")
    expect(page.locator("#legal-heading")).to_have_text("We have updated our terms")
    expect(page.locator('section[data-document="terms"]')).to_contain_text("Points now expire after two years.")
    expect(page.locator('section[data-document="privacy"]')).to_have_count(0)
    with rp.expect_callback(page) as callback:
        page.locator("#legal-accept").click()
    assert callback.query["state"] == first.state and callback.query["iss"] == live_server.url
    claims = rp.id_token_claims(rp.exchange(callback.query["code"], first.verifier)["id_token"])
    assert claims["sub"] == str(member.sub) and claims["nonce"] == first.nonce
    row = LegalAcceptance.objects.get(user=member, version__version="2")
    assert (row.channel, row.client_id, row.language) == ("login", rp.client.pk, "en")
    assert row.ip == "127.0.0.1" and "Chrome" in row.user_agent

    # 2. Already signed in (SSO), the privacy policy changes: the interstitial, then the code.
    publish("privacy", "2", material=True)
    second = rp.authorization_request()
    page.goto(second.url)
    expect(page).to_have_url(re.compile(r"/legal/accept\?"))
    expect(page.locator('section[data-document="privacy"]')).to_be_visible()
    with rp.expect_callback(page) as callback:
        page.locator("#legal-accept").click()
    assert "error" not in callback.query and callback.query["state"] == second.state
    assert rp.exchange(callback.query["code"], second.verifier)["id_token"]
    assert LegalAcceptance.objects.get(
        user=member, version__document__slug="privacy", version__version="2"
    ).channel == ("sso")

    # 3. Once more, nothing changed: straight back to the RP.
    third = rp.authorization_request()
    assert rp.goto_expecting_callback(page, third.url)["code"]
