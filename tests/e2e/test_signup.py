"""Sign-up on the hosted page, started by a relying party, with nothing but email and password."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.e2e.conftest import latin_words

pytestmark = pytest.mark.e2e

SIGNUP_URL = re.compile(r"/accounts/signup/")
NEW_PASSWORD = "violet kettle 93 harbour"
TOO_COMMON = {"en": "This password is too common.", "ja": "このパスワードは一般的すぎます。"}
SIGN_UP_LINK = {"en": "sign up", "ja": "こちらからユーザー登録"}


def fill_signup(page: Page, email: str, password: str) -> None:
    page.locator("#id_email").fill(email)
    page.locator("#id_password1").fill(password)
    page.locator("main form button[type=submit]").click()


@pytest.mark.spec("OIDC Core §3.1.2.1")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_sign_up_from_the_login_page_returns_to_the_rp(
    page: Page, live_server, transactional_db, relying_party, language
):
    rp = relying_party(name="Miles Shop")
    auth = rp.authorization_request(ui_locales=language)
    email = f"new-{language}@example.com"
    page.goto(auth.url)

    page.get_by_role("link", name=SIGN_UP_LINK[language]).click()

    expect(page).to_have_url(SIGNUP_URL)
    expect(page.locator("#rp-name")).to_have_text("Miles Shop")  # still branded for the client
    expect(page.locator("html")).to_have_attribute("lang", language)
    # Only email and password are asked for.
    visible_inputs = page.locator("main form input:not([type=hidden])")
    expect(visible_inputs).to_have_count(2)
    if language == "ja":  # labels, help texts (our password rules included) and button
        assert latin_words(page.locator("main").inner_text()) == []

    # A common password is refused, visibly, and nothing is created.
    fill_signup(page, email, "password123")
    expect(page.locator("main .errorlist")).to_contain_text(TOO_COMMON[language])
    expect(page).to_have_url(SIGNUP_URL)
    assert not User.objects.filter(email=email).exists()

    # A good one creates the account, signs in and goes back to the RP.
    with rp.expect_callback(page) as callback:
        fill_signup(page, email, NEW_PASSWORD)

    query = callback.query
    assert "error" not in query, query
    assert query["state"] == auth.state
    assert query["iss"] == live_server.url
    user = User.objects.get(email=email)
    assert user.check_password(NEW_PASSWORD)
    claims = rp.id_token_claims(rp.exchange(query["code"], auth.verifier)["id_token"])
    assert claims["sub"] == str(user.sub)
    assert claims["email"] == email
    assert claims["nonce"] == auth.nonce


def test_sign_up_with_a_taken_email_is_refused(page: Page, member, relying_party):
    page.goto(relying_party().authorization_request().url)
    page.get_by_role("link", name="sign up").click()

    fill_signup(page, member.email, NEW_PASSWORD)

    expect(page.locator("main .errorlist")).to_contain_text("already registered")
    expect(page).to_have_url(SIGNUP_URL)
