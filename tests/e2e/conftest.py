"""End-to-end fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

The relying party is not a real server. Its redirect URI points at the discard port of the
loopback address, which Chromium refuses to load (``ERR_UNSAFE_PORT``): the browser stops
there, and the test reads ``code``, ``state`` and ``iss`` from the request it saw, then
redeems the code at ``/token`` with ``requests`` as the RP's back end would.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
import requests
from jwcrypto import jwk, jwt
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from idp.models import Client
from tests.conftest import make_client, pkce_pair, query_of

# Playwright's sync API keeps an event loop in the test thread; Django's ORM would refuse
# to run next to it (the variable is read at each ORM call, so setting it here is enough).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CALLBACK = "http://127.0.0.1:9/callback"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 15_000
# How a navigation to CALLBACK ends: Chromium bars the port; another browser would find it closed.
_CALLBACK_FAILURES = ("net::ERR_UNSAFE_PORT", "net::ERR_CONNECTION_REFUSED", "net::ERR_ABORTED")


def chromium_executable() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium. Missing: skipped locally, a failure when CI sets IDP_REQUIRE_BROWSER=1."""
    path = chromium_executable()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        message = f"Chromium not found at {path} (set CHROMIUM_PATH)"
        if os.environ.get("IDP_REQUIRE_BROWSER") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=BROWSER_ARGS, headless=True)
        yield chromium
        chromium.close()


def _is_rp_callback(url: str) -> bool:
    return url == CALLBACK or url.startswith(CALLBACK + "?")


def _rp_callback_page(route) -> None:
    route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Relying party</title>")


@pytest.fixture
def new_context(browser: Browser, live_server) -> Iterator[Callable[..., BrowserContext]]:
    """Open fresh browser profiles (own cookies); English unless ``locale`` says otherwise."""
    contexts: list[BrowserContext] = []

    def _new(**options) -> BrowserContext:
        options.setdefault("locale", "en-US")
        context = browser.new_context(base_url=live_server.url, **options)
        # The relying parties' redirect URIs are answered here, as the RP's own page would be: a
        # refused connection would end on Chromium's error page, a navigation that arrives a moment
        # later and can interrupt the test's next page.goto().
        context.route(_is_rp_callback, _rp_callback_page)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context) -> Page:
    return new_context().new_page()


@dataclass
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    verifier: str
    params: dict = field(default_factory=dict)


@dataclass
class RelyingParty:
    """A registered client, seen from its back end: builds requests, redeems codes, checks ID tokens."""

    client: Client
    secret: str
    issuer: str
    redirect_uri: str = CALLBACK

    def authorization_request(self, *, scope: str = "openid email profile", **extra: str) -> AuthorizationRequest:
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": "st-" + secrets.token_urlsafe(8),
            "nonce": "nc-" + secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return AuthorizationRequest(
            url=f"{self.issuer}/authorize?{urlencode(params)}",
            state=params["state"],
            nonce=params["nonce"],
            verifier=verifier,
            params=params,
        )

    def is_callback(self, url: str) -> bool:
        return url == self.redirect_uri or url.startswith(self.redirect_uri + "?")

    @contextlib.contextmanager
    def expect_callback(self, page: Page) -> Iterator[CallbackCapture]:
        """Capture the browser's request to the redirect URI made inside the ``with`` block."""
        capture = CallbackCapture()
        with page.expect_request(lambda request: self.is_callback(request.url)) as info:
            yield capture
        capture.url = info.value.url
        capture.query = query_of(capture.url)
        # Let the refused navigation end (on Chromium's error page) before the test goes on:
        # left running, it would interrupt the test's next page.goto().
        page.wait_for_url(lambda url: url.startswith("chrome-error://") or self.is_callback(url))

    def goto_expecting_callback(self, page: Page, url: str) -> dict[str, str]:
        """Open ``url`` and return the query of the redirect to the RP it must end with.

        Chromium refuses the discard port, so the navigation itself fails; that failure is
        the expected end of the journey and only that one is swallowed.
        """
        with self.expect_callback(page) as callback:
            try:
                page.goto(url)
            except PlaywrightError as error:
                if not any(code in str(error) for code in _CALLBACK_FAILURES):
                    raise
        return callback.query

    def exchange(self, code: str, verifier: str) -> dict:
        response = requests.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(self.client.client_id, self.secret),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def id_token_claims(self, id_token: str) -> dict:
        """Verify the ID token's signature against the published JWKS and its iss, aud and exp."""
        jwks = requests.get(f"{self.issuer}/.well-known/jwks.json", timeout=10)
        assert jwks.status_code == 200, jwks.text
        keyset = jwk.JWKSet.from_json(jwks.text)
        token = jwt.JWT(
            jwt=id_token,
            key=keyset,
            algs=["RS256"],
            check_claims={"iss": self.issuer, "aud": self.client.client_id, "exp": None},
        )
        return json.loads(token.claims)


@dataclass
class CallbackCapture:
    url: str = ""
    query: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def relying_party(transactional_db, live_server) -> Callable[..., RelyingParty]:
    """Register a client whose redirect URI is :data:`CALLBACK`; first party unless told otherwise."""

    def _register(**overrides) -> RelyingParty:
        fields = {"name": "Miles Shop", "redirect_uris": CALLBACK, "post_logout_redirect_uris": ""}
        fields.update(overrides)
        client, secret = make_client(**fields)
        return RelyingParty(client=client, secret=secret, issuer=live_server.url)

    return _register


def latin_words(text: str) -> list[str]:
    """Words in Latin script: none should be left on a page shown in Japanese."""
    return re.findall(r"[A-Za-z]{2,}", text)


def sign_in(page: Page, email: str, password: str) -> None:
    """Fill in and submit the hosted login form (by field ids: labels depend on the language)."""
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
