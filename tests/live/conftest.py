"""Fixtures for tests against a live server: a browser that keeps cookies, the hosted login
driven through its form, and Authlib OpenID Connect clients."""

from __future__ import annotations

import http.cookiejar
import re
import time
from contextlib import nullcontext
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session

from tests.conftest import PASSWORD, query_of

REDIRECT_URI = "https://rp.example/callback"

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class LoopbackIsSecure(http.cookiejar.DefaultCookiePolicy):
    """Treat http://localhost as a secure context for cookies, as browsers do.

    With ``DATABASE_URL`` set the provider's cookies are ``Secure`` (``__Host-`` names), and
    requests never sends a Secure cookie over plain HTTP: the live server's session and CSRF
    cookies would be dropped. Cookies set by a loopback host are kept without the flag instead
    (requests copies cookies into a fresh jar for every request, so the flag cannot be waived
    when sending).
    """

    def set_ok(self, cookie, request):
        if urlsplit(request.get_full_url()).hostname in LOOPBACK:
            cookie.secure = False
        return super().set_ok(cookie, request)


class OIDCSession(OpenIDMixin, OAuth2Session):
    """Authlib's requests client with its OpenID helpers (ID token validation, userinfo, logout URL)."""

    def __init__(self, metadata: dict, **kwargs):
        kwargs.setdefault("scope", "openid profile email")
        super().__init__(code_challenge_method="S256", token_endpoint=metadata["token_endpoint"], **kwargs)
        self.server_metadata = metadata

    def load_server_metadata(self) -> dict:
        return self.server_metadata

    def _get_session(self):
        return nullcontext(self)


@pytest.fixture(autouse=True)
def _committed_data(transactional_db):
    """The live server answers from another thread with its own connection: commit test data."""


@pytest.fixture
def issuer(live_server) -> str:
    return live_server.url


@pytest.fixture
def discovery(issuer) -> dict:
    resp = requests.get(issuer + "/.well-known/openid-configuration", timeout=10)
    assert resp.status_code == 200, resp.text[:500]
    return resp.json()


@pytest.fixture
def browser():
    session = requests.Session()
    session.cookies.set_policy(LoopbackIsSecure())
    yield session
    session.close()


@pytest.fixture
def oidc_session(discovery):
    """``oidc_session(client, secret, redirect_uri)``: an Authlib client registered as ``client``."""
    sessions = []

    def make(client, secret: str, redirect_uri: str, **kwargs) -> OIDCSession:
        session = OIDCSession(
            discovery,
            client_id=client.client_id,
            client_secret=secret,
            redirect_uri=redirect_uri,
            default_timeout=10,
            **kwargs,
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "no CSRF token on the page:\n" + page[:2000]
    return match.group(1)


def sign_in(browser: requests.Session, url: str, *, email: str, until: str, password: str = PASSWORD) -> str:
    """Follow an authorization request through the hosted login form like a person would.

    Redirects are followed one at a time until one leads to ``until`` (the relying party's
    redirect URI, which this browser does not fetch); a page on the way must be the login form,
    which is filled in and posted once. Returns that last redirect URL.
    """
    posted = False
    for _ in range(12):
        if url.startswith(until):
            return url
        resp = browser.get(url, allow_redirects=False, timeout=10)
        if not resp.is_redirect:
            assert not posted, "the login form came back after signing in:\n" + resp.text[:2000]
            assert resp.status_code == 200 and 'name="password"' in resp.text, (
                resp.status_code,
                resp.text[:2000],
            )
            resp = browser.post(
                resp.url,
                data={"csrfmiddlewaretoken": csrf_token(resp.text), "login": email, "password": password},
                allow_redirects=False,
                timeout=10,
            )
            assert resp.is_redirect, (resp.status_code, resp.text[:2000])
            posted = True
        url = urljoin(resp.url, resp.headers["Location"])
    raise AssertionError(f"no redirect to {until}; last URL {url}")


def now() -> int:
    return int(time.time())


@dataclass
class Login:
    """A member signed in at a client: the browser holds the provider's session cookie."""

    oidc: OIDCSession
    client: object
    token: dict
    nonce: str
    started: int

    @property
    def id_token(self) -> str:
        return self.token["id_token"]


def log_in(browser, oidc_session, discovery, member, client, secret, redirect_uri=REDIRECT_URI) -> Login:
    oidc = oidc_session(client, secret, redirect_uri)
    verifier, nonce = generate_token(64), generate_token(24)
    url, state = oidc.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    assert query_of(url)["code_challenge_method"] == "S256"
    started = now()
    callback = sign_in(browser, url, email=member.email, until=redirect_uri)
    params = query_of(callback)
    assert params["state"] == state and params["iss"] == discovery["issuer"], params
    token = oidc.fetch_token(authorization_response=callback, state=state, code_verifier=verifier)
    return Login(oidc=oidc, client=client, token=dict(token), nonce=nonce, started=started)


def validated_claims(login: Login, token: dict | None = None, nonce: str | None = None) -> dict:
    """Authlib's ID token checks: signature with the JWKS key named by ``kid``; iss, aud, exp, nonce."""
    claims = login.oidc.parse_id_token(
        token or login.token,
        nonce=nonce,
        claims_options={
            "iss": {"essential": True, "value": login.oidc.server_metadata["issuer"]},
            "aud": {"essential": True, "value": login.client.client_id},
        },
    )
    return dict(claims)
