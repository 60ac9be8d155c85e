"""The preference center on a phone-sized screen: every section, followed to its page, in English and Japanese.

The member signs in from an RP's "My account" link (``/account/?client_id=…``), sees one card per
section, and follows each card's link or action: the target page must show the member's own data.
The phone number is changed with the code the fake SMS gateway (loopback) received; an app's grant
is revoked; a data export is requested; the delete-account confirmation is reached, not submitted.
At a 375 px wide viewport no page may scroll sideways.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from accounts.models import PhoneVerification
from consent.models import ExportRequest
from idp.models import ClientAuthorization
from tests.accounts.phone.fake_gateway import FakeSMSGateway
from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in
from tests.preference_data import populate

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SECTIONS = [
    "profile",
    "contact",
    "password",
    "sign-in-methods",
    "linked-accounts",
    "devices",
    "apps",
    "consents",
    "loyalty",
    "your-data",
]


@pytest.fixture
def sms_gateway(settings):
    with FakeSMSGateway() as gateway:
        settings.SMS_URL = gateway.url
        settings.SMS_TOKEN = ""
        settings.SMS_BACKEND = ""
        yield gateway


@pytest.fixture
def eager_tasks():
    """The SMS and export jobs run in the live server's thread (no worker in this test)."""
    from idp.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def assert_fits(page: Page, language: str) -> None:
    """Nothing scrolls sideways at the phone's width, and the page is in the chosen language."""
    expect(page.locator("html")).to_have_attribute("lang", language)
    overflow = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert overflow["scroll"] <= overflow["client"], (page.url, overflow)


def back_home(page: Page, language: str) -> None:
    page.goto("/account/")
    expect(page.locator("#preferences-heading")).to_be_visible()
    assert_fits(page, language)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_section_on_a_phone(new_context, live_server, member, relying_party, sms_gateway, eager_tasks, language):
    data = populate(member, second_factors=False)
    rp = relying_party(name="Miles Shop", redirect_uris="http://127.0.0.1:9/callback")
    page = new_context(**PHONE).new_page()

    # From the RP's "My account" link: sign in, then the account page with a way back to the RP.
    page.goto("/account/?" + urlencode({"client_id": rp.client.client_id}))
    if language == "ja":
        page.locator("form.lang button[value=ja]").click()
        expect(page.locator("html")).to_have_attribute("lang", "ja")
    sign_in(page, member.email, PASSWORD)
    expect(page.locator("#preferences-heading")).to_be_visible()
    assert_fits(page, language)
    expect(page.locator("#back-to-client")).to_have_attribute("href", "http://127.0.0.1:9/")
    expect(page.locator("#back-to-client")).to_contain_text("Miles Shop")
    expect(page.locator("#signed-in-as")).to_contain_text(member.email)

    # Every section is there, in order, each with a heading and a link to its page.
    expect(page.locator("section.pc-card")).to_have_count(len(SECTIONS))
    ids = page.locator("section.pc-card").evaluate_all("(cards) => cards.map((c) => c.id)")
    assert ids == [f"section-{key}" for key in SECTIONS]
    for key in SECTIONS:
        expect(page.locator(f"#section-{key} h2")).to_be_visible()
        expect(page.locator(f"#{key}-link")).to_be_visible()

    # Profile and custom attributes.
    expect(page.locator("#profile-name")).to_have_text("Hanako Yamada")
    page.locator("#profile-link").click()
    expect(page.locator("#profile-attributes-form")).to_be_visible()
    expect(page.locator("#profile-attributes-form input[value=Aisle]")).to_have_count(1)
    assert_fits(page, language)
    back_home(page, language)
    page.locator("#edit-name").click()
    expect(page.locator("#id_given_name")).to_have_value("Hanako")
    assert_fits(page, language)
    page.locator("#id_given_name").fill("Aiko")
    page.locator("#profile-name-save").click()
    expect(page.locator("#profile-name")).to_have_text("Aiko Yamada")

    # Email: the page lists the address and the change that waits for its confirmation.
    back_home(page, language)
    expect(page.locator("#contact-email")).to_contain_text(member.email)
    page.locator("#change-email").click()
    expect(page.locator("main")).to_contain_text("pending-new@example.com")
    expect(page.locator("main")).to_contain_text(member.email)
    assert_fits(page, language)

    # Phone: a code by SMS, entered on the next page; only then the number changes.
    back_home(page, language)
    page.locator("#change-phone").click()
    page.locator("#id_phone_number").fill("090-1234-5678")
    assert_fits(page, language)
    page.locator("#phone-send").click()
    expect(page.locator("#pending-phone")).to_have_text("+819012345678")
    assert_fits(page, language)
    member.refresh_from_db()
    assert member.phone_number == ""
    page.locator("#id_code").fill(sms_gateway.last_code("+819012345678"))
    page.locator("#phone-verify").click()
    expect(page.locator("#contact-phone")).to_contain_text("+819012345678")
    member.refresh_from_db()
    assert member.phone_number_verified and PhoneVerification.objects.filter(user=member).count() == 1

    # Password.
    page.locator("#change-password").click()
    expect(page.locator("input[name=oldpassword]")).to_be_visible()
    assert_fits(page, language)

    # Sign-in methods (MFA and passkeys).
    back_home(page, language)
    expect(page.locator("#factor-summary li[data-factor=passkeys]")).to_be_visible()
    page.locator("#sign-in-methods-link").click()
    expect(page.locator("#passkeys")).to_be_visible()
    expect(page.locator("#totp")).to_be_visible()
    assert_fits(page, language)

    # Linked social accounts.
    back_home(page, language)
    expect(page.locator("#linked-summary")).to_contain_text("g0@x.jp")
    page.locator("#linked-accounts-link").click()
    expect(page.locator("#linked-accounts li[data-provider=google]")).to_contain_text("g0@x.jp")
    assert_fits(page, language)

    # Sessions and devices: this browser is listed; then its security activity.
    back_home(page, language)
    expect(page.locator("#devices-summary .this-device")).to_be_visible()
    page.locator("#devices-link").click()
    expect(page.locator("#this-device")).to_be_visible()
    assert_fits(page, language)
    back_home(page, language)
    page.locator("#security-events-link").click()
    expect(page.locator("main")).to_be_visible()
    assert_fits(page, language)

    # Apps with access: revoke one client's grant from the card.
    back_home(page, language)
    revoke = page.locator(f"[data-revoke='{data.third_party.client_id}']")
    expect(revoke).to_be_visible()
    revoke.click()
    expect(page.locator("#preferences-heading")).to_be_visible()
    expect(page.locator(f"[data-revoke='{data.third_party.client_id}']")).to_have_count(0)
    assert ClientAuthorization.objects.get(user=member, client=data.third_party).revoked_at is not None
    page.locator("#apps-link").click()
    expect(page.locator("main")).to_contain_text("Other App 1")
    expect(page.locator("main")).not_to_contain_text("Partner Shop")
    assert_fits(page, language)

    # Consents and their history.
    back_home(page, language)
    expect(page.locator("#consents-summary")).to_contain_text("Offers by email")
    page.locator("#consent-history-link").click()
    expect(page.locator("#consent-history li")).to_have_count(4)
    expect(page.locator("#consent-history")).to_contain_text("Offers by email")
    assert_fits(page, language)
    back_home(page, language)
    page.locator("#legal-link").click()
    expect(page.locator("main h1")).to_be_visible()
    assert_fits(page, language)

    # Loyalty: balance on the card, the statement on its page.
    back_home(page, language)
    expect(page.locator("#loyalty-balances")).to_contain_text("Sky Miles")
    expect(page.locator("#loyalty-latest li")).to_have_count(3)
    page.locator("#loyalty-statement-link").click()
    expect(page.locator("#member-number")).to_have_text(data.member_number)
    expect(page.locator("#statement tbody tr")).to_have_count(3)
    expect(page.locator("#statement")).to_contain_text("Purchase 2")
    assert_fits(page, language)
    back_home(page, language)
    page.locator("#loyalty-link").click()
    expect(page.locator("#memberships")).to_contain_text("Sky Miles")
    assert_fits(page, language)

    # Your data: ask for a copy, then reach the delete-account confirmation (not submitted).
    back_home(page, language)
    page.locator("#export-action button").click()
    expect(page.locator("#export-form")).to_be_visible()
    expect(page.locator("#export-state")).to_be_visible()
    assert ExportRequest.objects.filter(user=member).count() == 1
    assert_fits(page, language)
    back_home(page, language)
    expect(page.locator("#export-summary")).to_be_visible()
    page.locator("#delete-account-link").click()
    expect(page.locator("#delete-form")).to_be_visible()
    assert_fits(page, language)
    member.refresh_from_db()
    assert member.is_active

    # The way back to the RP is still offered.
    back_home(page, language)
    expect(page.locator("#back-to-client")).to_have_attribute("href", "http://127.0.0.1:9/")
