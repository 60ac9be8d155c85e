"""The consent page a third-party client gets, and the grant it leaves behind."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from idp.models import ClientAuthorization
from tests.conftest import PASSWORD
from tests.e2e.conftest import latin_words, sign_in

pytestmark = pytest.mark.e2e

SCOPE_TEXT = {
    "en": [
        "Sign you in with your account",
        "Your email address",
        "Your name and profile (name, nickname, language, time zone)",
    ],
    "ja": [
        "このアカウントでのログイン",
        "メールアドレス",
        "氏名とプロフィール（氏名、ニックネーム、言語、タイムゾーン）",
    ],
}
HEADING = {
    "en": "Allow Partner Shop to use your account?",
    "ja": "Partner Shop にアカウントの利用を許可しますか？",
}
BUTTONS = {"en": ("Cancel", "Allow"), "ja": ("キャンセル", "許可する")}


@pytest.mark.parametrize("language", ["en", "ja"])
def test_consent_page_lists_the_requested_scopes_in_the_page_language(page: Page, member, relying_party, language):
    rp = relying_party(name="Partner Shop", first_party=False)
    page.goto(rp.authorization_request(scope="openid email profile", ui_locales=language).url)
    sign_in(page, member.email, PASSWORD)

    expect(page.locator("#consent-form")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("#rp-name")).to_have_text("Partner Shop")
    expect(page.locator("main h1")).to_have_text(HEADING[language])
    expect(page.locator("ul.scopes li")).to_have_text(SCOPE_TEXT[language], use_inner_text=True)
    cancel, allow = BUTTONS[language]
    expect(page.locator("#deny")).to_have_text(cancel)
    expect(page.locator("#allow")).to_have_text(allow)
    if language == "ja":  # nothing left in English but the client's name and the member's email
        text = page.locator("main").inner_text().replace("Partner Shop", "").replace(member.email, "")
        assert latin_words(text) == []


@pytest.mark.spec("RFC 6749 §4.1.2.1")
@pytest.mark.spec("RFC 9207 §2")
@pytest.mark.spec("OIDC Core §3.1.2.4")
def test_cancel_denies_allow_grants_and_the_grant_is_remembered(page: Page, live_server, member, relying_party):
    rp = relying_party(name="Partner Shop", first_party=False)

    # 1. Sign in, then refuse: the RP hears access_denied, with its state and our issuer.
    denied = rp.authorization_request()
    page.goto(denied.url)
    sign_in(page, member.email, PASSWORD)
    expect(page.locator("#consent-form")).to_be_visible()
    with rp.expect_callback(page) as callback:
        page.locator("#deny").click()
    assert callback.query["error"] == "access_denied"
    assert callback.query["state"] == denied.state
    assert callback.query["iss"] == live_server.url
    assert "code" not in callback.query
    assert not ClientAuthorization.objects.filter(user=member, client=rp.client).exists()

    # 2. Ask again (already signed in): the consent page again; allow it this time.
    allowed = rp.authorization_request()
    page.goto(allowed.url)
    expect(page.locator("#consent-form")).to_be_visible()
    with rp.expect_callback(page) as callback:
        page.locator("#allow").click()
    assert "error" not in callback.query, callback.query
    assert callback.query["state"] == allowed.state
    assert callback.query["iss"] == live_server.url
    claims = rp.id_token_claims(rp.exchange(callback.query["code"], allowed.verifier)["id_token"])
    assert claims["sub"] == str(member.sub)
    assert claims["nonce"] == allowed.nonce
    grant = ClientAuthorization.objects.get(user=member, client=rp.client, revoked_at__isnull=True)
    assert set(grant.scope.split()) == {"openid", "email", "profile"}

    # 3. The same scopes once more: straight back to the RP, no consent page in between.
    again = rp.authorization_request()
    seen_consent: list[str] = []
    page.on(
        "response",
        lambda r: r.url.startswith(live_server.url + "/authorize") and r.status == 200 and seen_consent.append(r.url),
    )
    query = rp.goto_expecting_callback(page, again.url)
    assert seen_consent == []
    assert query["state"] == again.state
    assert query["code"]
    claims = rp.id_token_claims(rp.exchange(query["code"], again.verifier)["id_token"])
    assert claims["nonce"] == again.nonce


def test_a_wider_scope_asks_again(page: Page, member, relying_party):
    """A grant covers the scopes it was given for; a request for more shows the consent page."""
    rp = relying_party(name="Partner Shop", first_party=False)
    page.goto(rp.authorization_request(scope="openid email").url)
    sign_in(page, member.email, PASSWORD)
    with rp.expect_callback(page):
        page.locator("#allow").click()

    page.goto(rp.authorization_request(scope="openid email phone").url)

    expect(page.locator("#consent-form")).to_be_visible()
    expect(page.locator("ul.scopes")).to_contain_text("Your phone number")
    expect(page).to_have_url(re.compile(r"/authorize\?"))
