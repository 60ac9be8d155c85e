"""Hosted login started by a relying party, in English and Japanese, on a desktop and a phone."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import latin_words, sign_in

pytestmark = pytest.mark.e2e

LOGIN_URL = re.compile(r"/accounts/login/\?next=(/|%2F)authorize%3F")


@pytest.mark.spec("OIDC Core §3.1.2.1")
@pytest.mark.spec("RFC 7636 §4.3")
@pytest.mark.spec("RFC 9207 §2")
def test_login_in_english_returns_a_code_with_state_and_iss(page: Page, live_server, member, relying_party):
    rp = relying_party(name="Miles Shop")
    auth = rp.authorization_request(scope="openid email profile")

    page.goto(auth.url)

    expect(page).to_have_url(LOGIN_URL)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#rp-name")).to_have_text("Miles Shop")
    expect(page.locator("main h1")).to_have_text("Sign In")
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()

    with rp.expect_callback(page) as callback:
        sign_in(page, member.email, PASSWORD)

    query = callback.query
    assert "error" not in query, query
    assert query["state"] == auth.state
    assert query["iss"] == live_server.url
    assert query["code"]

    tokens = rp.exchange(query["code"], auth.verifier)
    claims = rp.id_token_claims(tokens["id_token"])
    assert claims["sub"] == str(member.sub)
    assert claims["nonce"] == auth.nonce
    assert claims["email"] == member.email
    assert claims["acr"] == "urn:ciam:acr:password"
    assert claims["amr"] == ["pwd"]


def test_wrong_password_stays_on_the_login_page_with_an_error(page: Page, member, relying_party):
    rp = relying_party()
    page.goto(rp.authorization_request().url)
    requests_to_rp: list[str] = []
    page.on("request", lambda request: rp.is_callback(request.url) and requests_to_rp.append(request.url))

    sign_in(page, member.email, "not the password at all")

    expect(page.locator("main")).to_contain_text("The email address and/or password you specified are not correct.")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    # The failed attempt keeps the pending authorization request for the next try.
    expect(page.locator("main form input[name=next]")).to_have_value(re.compile(r"^/authorize\?"))
    assert requests_to_rp == []


@pytest.mark.spec("OIDC Core §3.1.2.1")
def test_ui_locales_ja_gives_a_japanese_login_page_and_the_flow_completes(
    page: Page, live_server, member, relying_party
):
    rp = relying_party(name="Miles Shop")
    auth = rp.authorization_request(ui_locales="ja")

    page.goto(auth.url)

    expect(page).to_have_url(LOGIN_URL)
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#rp-name")).to_have_text("Miles Shop")
    expect(page.locator("main h1")).to_have_text("ログイン")
    expect(page.locator("label[for=id_login]")).to_contain_text("メールアドレス")
    expect(page.locator("label[for=id_password]")).to_contain_text("パスワード")
    expect(page.locator("main form button[type=submit]")).to_have_text("ログイン")
    expect(page.locator("#id_login")).to_have_attribute("placeholder", "メールアドレス")
    assert latin_words(page.locator("main").inner_text()) == []
    assert page.title().startswith("ログイン")

    with rp.expect_callback(page) as callback:
        sign_in(page, member.email, PASSWORD)

    assert callback.query["state"] == auth.state
    assert callback.query["iss"] == live_server.url
    claims = rp.id_token_claims(rp.exchange(callback.query["code"], auth.verifier)["id_token"])
    assert claims["sub"] == str(member.sub)


def test_wrong_password_error_is_japanese(page: Page, member, relying_party):
    page.goto(relying_party().authorization_request(ui_locales="ja").url)

    sign_in(page, member.email, "not the password at all")

    expect(page.locator("main")).to_contain_text("入力されたメールアドレスもしくはパスワードが正しくありません。")


def test_japanese_browser_gets_japanese_without_ui_locales(new_context, relying_party):
    page = new_context(locale="ja-JP").new_page()

    page.goto(relying_party().authorization_request().url)

    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("main h1")).to_have_text("ログイン")


def test_ui_locales_wins_over_the_browser_language(new_context, relying_party):
    page = new_context(locale="ja-JP").new_page()

    page.goto(relying_party().authorization_request(ui_locales="en").url)

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Sign In")


def test_language_buttons_switch_the_login_page(page: Page, member, relying_party):
    rp = relying_party()
    page.goto(rp.authorization_request().url)
    english = page.locator("header form.lang button[value=en]")
    japanese = page.locator("header form.lang button[value=ja]")
    # Each language is offered in its own name, whatever the page language.
    expect(english).to_have_text("English")
    expect(japanese).to_have_text("日本語")
    expect(english).to_have_attribute("aria-current", "true")

    japanese.click()

    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("main h1")).to_have_text("ログイン")
    expect(page).to_have_url(LOGIN_URL)  # still the same sign-in, for the same client
    expect(english).to_have_text("English")
    expect(japanese).to_have_attribute("aria-current", "true")

    english.click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Sign In")

    # The choice survives the rest of the flow: still a sign-in for this client.
    with rp.expect_callback(page) as callback:
        sign_in(page, member.email, PASSWORD)
    assert callback.query["code"]


def test_language_buttons_override_ui_locales(page: Page, relying_party):
    page.goto(relying_party().authorization_request(ui_locales="ja").url)
    expect(page.locator("html")).to_have_attribute("lang", "ja")

    page.locator("header form.lang button[value=en]").click()

    expect(page.locator("main h1")).to_have_text("Sign In", timeout=3_000)
    expect(page.locator("html")).to_have_attribute("lang", "en", timeout=1_000)


@pytest.mark.parametrize(
    ("language", "heading"),
    [("ja", "ログイン"), ("en", "Sign In")],
)
def test_login_page_fits_a_phone(new_context, relying_party, language, heading):
    """A 390x844 phone: no sideways scrolling, fields and button fit; screenshots for a human look."""
    context = new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="ja-JP" if language == "ja" else "en-US",
    )
    page = context.new_page()
    page.goto(relying_party(name="Miles Shop").authorization_request(ui_locales=language).url)
    expect(page.locator("main h1")).to_have_text(heading)

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ("#id_login", "#id_password", "main form button[type=submit]", "#rp-name"):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (selector, box)
    button = page.locator("main form button[type=submit]").bounding_box()
    assert button["height"] >= 44  # a comfortable touch target

    directory = Path(os.environ.get("E2E_SCREENSHOT_DIR", "/tmp"))
    page.screenshot(path=str(directory / f"e2e-login-{language}.png"), full_page=True)
