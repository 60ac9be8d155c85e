"""Passkeys end to end in headless Chromium with its virtual authenticator (Chrome DevTools Protocol).

The virtual authenticator is a CTAP2 platform authenticator with resident keys and user
verification, so the pages, static/js/passkeys.js, the browser's WebAuthn implementation and
py_webauthn on the server all take part. WebAuthn needs a secure context and an RP ID that
is a domain: the live server is at http://localhost, which qualifies.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError

from accounts.models import SecurityEvent, WebAuthnCredential
from tests.conftest import PASSWORD, query_of
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def add_virtual_authenticator(context: BrowserContext, page: Page):
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    created = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, created["authenticatorId"]


def user_presence(cdp, authenticator_id: str, *, automatic: bool) -> None:
    """Automatic (the default): every request is answered at once, autofill included.
    Off: requests wait, as for a member who has not touched the sensor yet."""
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": authenticator_id, "enabled": automatic})


def callback_after(page: Page, rp, action) -> dict[str, str]:
    """Run ``action`` and return the query of the redirect to the RP that it leads to.

    The redirect is made by a script-submitted form, after the page has loaded; Chromium
    refuses the RP's discard port, and only that failure of the navigation is expected.
    """
    with page.expect_request(lambda request: rp.is_callback(request.url)) as request:
        action()
    try:
        page.wait_for_url(lambda url: url.startswith("chrome-error://") or rp.is_callback(url))
    except PlaywrightError as error:
        if "ERR_UNSAFE_PORT" not in str(error):
            raise
    return query_of(request.value.url)


def sign_out(page: Page, cdp, authenticator_id: str) -> None:
    """Sign out through the page. Sign-out lands on the login page, whose autofill request the
    virtual authenticator would answer by itself: keep it waiting, then leave the page."""
    user_presence(cdp, authenticator_id, automatic=False)
    page.goto("/accounts/logout/")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.goto("about:blank")
    user_presence(cdp, authenticator_id, automatic=True)


@pytest.mark.spec("WebAuthn L2 §7.1")
@pytest.mark.spec("WebAuthn L2 §7.2")
def test_register_sign_out_sign_in_with_the_passkey_and_remove_it(new_context, live_server, member, relying_party):
    assert live_server.url.startswith("http://localhost:")
    context = new_context()
    page = context.new_page()
    cdp, authenticator_id = add_virtual_authenticator(context, page)

    # Signed in with the password, the member adds a passkey from the account page.
    page.goto("/accounts/login/?next=/account/mfa/")
    sign_in(page, member.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/account/mfa/$"))
    page.locator("#add-passkey").click()
    page.locator("#id_name").fill("Virtual laptop")
    page.locator("#passkey-create").click()

    # First factor of the account: recovery codes are shown once.
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    stored = WebAuthnCredential.objects.get(user=member)
    assert stored.name == "Virtual laptop" and stored.discoverable
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert credential["isResidentCredential"] and credential["rpId"] == "localhost"
    page.locator("#continue").click()
    expect(page.locator("#passkey-list .passkey-name")).to_have_text(["Virtual laptop"])

    # Signed out, the member comes back from a relying party: the browser offers the passkey in
    # the email field's autofill (conditional mediation), and choosing it signs in, no password.
    sign_out(page, cdp, authenticator_id)
    rp = relying_party(name="Miles Shop")
    auth = rp.authorization_request()
    query = callback_after(page, rp, lambda: page.goto(auth.url))

    assert query["state"] == auth.state and "error" not in query
    claims = rp.id_token_claims(rp.exchange(query["code"], auth.verifier)["id_token"])
    assert claims["sub"] == str(member.sub)
    assert claims["acr"] == "urn:ciam:acr:phishing-resistant"
    assert set(claims["amr"]) == {"hwk", "user", "mfa"}
    stored.refresh_from_db()
    assert stored.last_used_at is not None

    # Then removes it from the account page.
    page.goto("/account/mfa/")
    page.locator("#passkey-list [data-remove-passkey]").click()
    expect(page.locator(".messages")).to_contain_text("removed")
    expect(page.locator("#passkey-list")).to_have_count(0)
    assert not WebAuthnCredential.objects.filter(user=member).exists()
    assert SecurityEvent.objects.filter(user=member, kind=SecurityEvent.Kind.PASSKEY_REMOVED).exists()


def test_a_passkey_is_offered_as_the_second_step_after_the_password(new_context, live_server, member, relying_party):
    context = new_context()
    page = context.new_page()
    cdp, authenticator_id = add_virtual_authenticator(context, page)
    page.goto("/accounts/login/?next=/account/mfa/")
    sign_in(page, member.email, PASSWORD)
    page.goto("/account/mfa/passkeys/add")
    page.locator("#passkey-create").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    sign_out(page, cdp, authenticator_id)

    rp = relying_party()
    auth = rp.authorization_request()
    user_presence(cdp, authenticator_id, automatic=False)  # no autofill: the member types the password
    page.goto(auth.url)
    expect(page.locator("#id_login")).to_have_attribute("autocomplete", "username webauthn")  # autofill
    expect(page.locator("#passkey-login-button")).to_be_visible()
    sign_in(page, member.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/account/mfa/authenticate"))
    expect(page.locator("main h1")).to_have_text("Two-step verification")
    user_presence(cdp, authenticator_id, automatic=True)
    query = callback_after(page, rp, lambda: page.locator("#passkey-verify").click())

    claims = rp.id_token_claims(rp.exchange(query["code"], auth.verifier)["id_token"])
    assert claims["acr"] == "urn:ciam:acr:phishing-resistant"
    assert set(claims["amr"]) == {"hwk", "pwd", "mfa"}


def test_the_sign_in_with_a_passkey_button(new_context, live_server, member, relying_party):
    context = new_context()
    page = context.new_page()
    cdp, authenticator_id = add_virtual_authenticator(context, page)
    page.goto("/accounts/login/?next=/account/mfa/")
    sign_in(page, member.email, PASSWORD)
    page.goto("/account/mfa/passkeys/add")
    page.locator("#passkey-create").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    sign_out(page, cdp, authenticator_id)

    rp = relying_party()
    auth = rp.authorization_request()
    user_presence(cdp, authenticator_id, automatic=False)
    page.goto(auth.url)
    # The autofill request is pending (and, without presence, stays so) ...
    expect(page.locator("#passkey-login")).to_have_attribute("data-autofill", "pending")
    user_presence(cdp, authenticator_id, automatic=True)
    # ... until the button replaces it with a request of its own, which the authenticator answers.
    query = callback_after(page, rp, lambda: page.locator("#passkey-login-button").click())

    claims = rp.id_token_claims(rp.exchange(query["code"], auth.verifier)["id_token"])
    assert claims["sub"] == str(member.sub)
    assert claims["acr"] == "urn:ciam:acr:phishing-resistant"
