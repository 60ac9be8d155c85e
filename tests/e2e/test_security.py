"""What the browser is told on the hosted pages: headers, origins, the session cookie, error pages."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore
from playwright.sync_api import BrowserContext, Page, Response, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import CALLBACK, sign_in

pytestmark = pytest.mark.e2e


def assert_hardened(response: Response | None, page_name: str) -> None:
    assert response is not None, page_name
    headers = response.headers  # lower-case names
    csp = headers.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (page_name, csp)
    assert "default-src 'self'" in csp, (page_name, csp)
    assert "'unsafe-inline'" not in directives.get("script-src", "script-src"), (page_name, csp)
    assert headers.get("referrer-policy") == "no-referrer", (page_name, headers.get("referrer-policy"))
    assert headers.get("x-frame-options") == "DENY", page_name
    assert headers.get("x-content-type-options") == "nosniff", page_name


def watch_requests(context: BrowserContext) -> list[str]:
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    return urls


def session_cookie(context: BrowserContext) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME), None)


def test_login_consent_and_error_pages_are_hardened_and_load_only_our_resources(
    new_context, live_server, member, relying_party
):
    context = new_context()
    requests_made = watch_requests(context)
    page = context.new_page()
    rp = relying_party(name="Partner Shop", first_party=False)

    login = page.goto(rp.authorization_request().url)
    expect(page.locator("#id_login")).to_be_visible()
    assert_hardened(login, "login")

    with page.expect_response(
        lambda r: r.url.startswith(f"{live_server.url}/authorize?") and r.request.method == "GET"
    ) as consent_info:
        sign_in(page, member.email, PASSWORD)
    expect(page.locator("#consent-form")).to_be_visible()
    assert consent_info.value.status == 200
    assert_hardened(consent_info.value, "consent")

    error = page.goto("/authorize?" + urlencode({"client_id": "nobody", "response_type": "code"}))
    expect(page.locator("#oauth-error")).to_be_visible()
    assert_hardened(error, "error")

    signup = page.goto("/accounts/signup/")
    assert_hardened(signup, "signup")

    # Stylesheets, the client's theme, scripts, images, favicon: all from our own origin.
    assert requests_made
    foreign = [url for url in requests_made if not url.startswith(live_server.url + "/")]
    assert foreign == []
    # And the brand stylesheet was really used, so the check above saw real page loads.
    assert any("/static/css/site.css" in url for url in requests_made)
    assert any(f"/branding/{rp.client.client_id}/theme.css" in url for url in requests_made)


@pytest.mark.spec("RFC 9700 §4.2.4")
def test_redirect_to_the_rp_carries_no_referer(page: Page, member, relying_party):
    """The authorization request (state, nonce, login_hint …) is not leaked to the RP in a Referer."""
    rp = relying_party()
    page.goto(rp.authorization_request(login_hint=member.email).url)

    with page.expect_request(lambda request: rp.is_callback(request.url)) as info:
        sign_in(page, member.email, PASSWORD)

    assert "referer" not in info.value.headers


@pytest.mark.spec("OWASP ASVS V3.2.1")
def test_session_cookie_is_httponly_lax_and_renewed_at_login(new_context, live_server, member, relying_party):
    """Session fixation: a session id planted before login must not become the signed-in session."""
    context = new_context()
    planted = SessionStore()
    planted["planted"] = True
    planted.create()
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": planted.session_key,
                # Not "url": Chromium refuses a Secure (``__Host-``) cookie for an http:// URL here,
                # though it accepts one from the server on localhost.
                "domain": urlsplit(live_server.url).hostname,
                "path": "/",
                "httpOnly": True,
                "secure": settings.SESSION_COOKIE_SECURE,
                "sameSite": "Lax",
            }
        ]
    )
    page = context.new_page()
    rp = relying_party()
    page.goto(rp.authorization_request().url)
    expect(page.locator("#id_login")).to_be_visible()
    before = session_cookie(context)
    assert before is not None and before["value"] == planted.session_key  # the planted id is in use

    with rp.expect_callback(page):
        sign_in(page, member.email, PASSWORD)

    after = session_cookie(context)
    assert after is not None, context.cookies()
    assert after["value"] != planted.session_key
    assert after["value"] != before["value"]
    assert after["httpOnly"] is True
    assert after["sameSite"] == "Lax"
    assert after["secure"] is settings.SESSION_COOKIE_SECURE
    assert not SessionStore().exists(planted.session_key)
    signed_in = SessionStore(session_key=after["value"])
    assert signed_in.get("_auth_user_id") == str(member.pk)
    # The CSRF and language cookies are not readable by scripts either.
    for cookie in context.cookies():
        if cookie["name"] in {settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME}:
            assert cookie["httpOnly"] is True, cookie


def unknown_client_request(language: str) -> str:
    return "/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": "no-such-client",
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "state": "s1",
            "ui_locales": language,
        }
    )


@pytest.mark.spec("RFC 6749 §4.1.2.1")
@pytest.mark.parametrize(
    ("language", "heading"),
    [("en", "This sign-in request cannot be completed"), ("ja", "このログインリクエストは処理できません")],
)
def test_unknown_client_gets_our_error_page_not_a_redirect(page: Page, live_server, language, heading):
    to_callback: list[str] = []
    page.on("request", lambda request: request.url.startswith(CALLBACK) and to_callback.append(request.url))

    response = page.goto(unknown_client_request(language))

    assert response is not None and response.status == 400
    assert response.request.redirected_from is None
    assert page.url.startswith(f"{live_server.url}/authorize?")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("main h1")).to_have_text(heading)
    expect(page.locator("#oauth-error")).to_be_visible()
    expect(page.locator("main")).to_contain_text("client_id")
    assert to_callback == []


def test_unknown_client_is_told_the_site_is_not_registered(page: Page):
    page.goto(unknown_client_request("en"))

    expect(page.locator("#oauth-error")).to_have_text(
        "The site that sent you here is not registered with us.", timeout=2_000
    )


@pytest.mark.spec("RFC 6749 §4.1.2.1")
def test_unregistered_redirect_uri_gets_our_error_page_not_a_redirect(page: Page, live_server, relying_party):
    rp = relying_party()
    rp.redirect_uri = "http://127.0.0.1:9/elsewhere"
    to_elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: request.url.startswith(rp.redirect_uri) and to_elsewhere.append(request.url),
    )

    response = page.goto(rp.authorization_request().url)

    assert response is not None and response.status == 400
    assert page.url.startswith(f"{live_server.url}/authorize?")
    expect(page.locator("#oauth-error")).to_be_visible()
    assert to_elsewhere == []
