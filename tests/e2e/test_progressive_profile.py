"""In Chromium: the sign-in question from a relying party, answered; then skipped at the next sign-in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import MemberAttributes
from tests.accounts.profile.conftest import define, grant
from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_question_answered_then_skipped_and_never_blocking(page: Page, live_server, member, relying_party):
    rp = relying_party(name="Green Kitchen")
    diet = define(
        "diet",
        "choice",
        label_en="Do you eat meat?",
        label_ja="お肉を食べますか？",
        choices=[("vegetarian", "Vegetarian", "ベジタリアン"), ("any", "Anything", "何でも")],
    )
    fuel = define("premium_fuel", "boolean", label_en="Premium fuel?")
    grant(rp.client, diet, ask=1)
    grant(rp.client, fuel, ask=2)
    scope = "openid email profile:preferences"

    # 1. Login started by the RP: after the password, one short question, branded for the RP.
    first = rp.authorization_request(scope=scope)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(first.url)
    sign_in(page, member.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/account/profile/question\?"))
    expect(page.locator("#rp-name")).to_have_text("Green Kitchen")
    expect(page.locator("legend")).to_have_text("Do you eat meat?")
    expect(page.locator("#profile-question-skip")).to_be_visible()
    page.get_by_label("Vegetarian").check()
    with rp.expect_callback(page) as callback:
        page.locator("#profile-question-save").click()
    assert callback.query["state"] == first.state and "code" in callback.query
    claims = rp.id_token_claims(rp.exchange(callback.query["code"], first.verifier)["id_token"])
    assert claims["preferences"] == {"diet": "vegetarian"}

    # 2. Same browser session (SSO): no second question.
    assert "code" in rp.goto_expecting_callback(page, rp.authorization_request(scope=scope).url)

    # 3. Next sign-in: the next missing attribute; skipping goes straight back to the RP.
    page.context.clear_cookies()
    page = page.context.new_page()  # the last tab may still be settling on Chromium's error page
    second = rp.authorization_request(scope=scope)
    page.goto(second.url)
    sign_in(page, member.email, PASSWORD)
    expect(page.locator("legend")).to_have_text("Premium fuel?")
    with rp.expect_callback(page) as callback:
        page.locator("#profile-question-skip").click()
    assert callback.query["state"] == second.state and "code" in callback.query
    row = MemberAttributes.objects.get(user=member)
    assert row.data == {"diet": "vegetarian"} and "premium_fuel" in row.skipped
