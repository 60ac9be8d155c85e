"""Fixtures for account protection: a second browser, a relying party's back-channel logout
endpoint on loopback, Celery run in-process where queuing is not the point, and moving the
clock of allauth's rate limits by editing their stored timestamps."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.test import Client, RequestFactory
from jwcrypto import jwk, jwt

MIDDLEWARE = "accounts.security.middleware.AccountProtectionMiddleware"

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@pytest.fixture(autouse=True)
def _protection_middleware(settings):
    """The middleware as ``idp/settings.py`` is asked to install it (after allauth's)."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(middleware.index("allauth.account.middleware.AccountMiddleware") + 1, MIDDLEWARE)
        settings.MIDDLEWARE = middleware


@pytest.fixture
def browser():
    """``browser(user_agent, ip)``: another browser, with its own cookies."""

    def make(user_agent: str = FIREFOX_LINUX, ip: str = "127.0.0.1") -> Client:
        return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)

    return make


@pytest.fixture
def eager_tasks():
    """Run queued tasks in-process, also on PostgreSQL + Redis, where queuing is not the point."""
    from idp.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


class RPEndpoint:
    """A relying party's back-channel logout endpoint: answers with ``statuses`` in turn, then 200."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.received: list[dict] = []
        self.answered: list[int] = []
        self._changed = threading.Condition()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                with endpoint._changed:
                    status = endpoint.statuses.pop(0) if endpoint.statuses else 200
                    endpoint.received.append(
                        {
                            "content_type": self.headers.get("Content-Type"),
                            "form": {k: v[0] for k, v in parse_qs(body).items()},
                        }
                    )
                    endpoint.answered.append(status)
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()
                with endpoint._changed:
                    endpoint._changed.notify_all()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def tokens(self) -> list[str]:
        return [r["form"].get("logout_token") for r in self.received]

    def wait_for(self, count: int, timeout: float = 30) -> list[str]:
        """Block (on a condition, not a sleep) until ``count`` requests were answered."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.answered) >= count, timeout=timeout)
        assert len(self.answered) >= count, f"{len(self.answered)} of {count} deliveries within {timeout}s"
        return self.tokens

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rp_endpoint():
    """``rp_endpoint(statuses=[])``: start an endpoint; every one is stopped after the test."""
    started = []

    def start(statuses: list[int] | None = None) -> RPEndpoint:
        endpoint = RPEndpoint(statuses or [])
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.close()


def verified_logout_token(client, token: str) -> tuple[dict, dict]:
    """(header, claims) of a logout token whose signature checks out against our JWKS."""
    keyset = jwk.JWKSet.from_json(json.dumps(client.get("/.well-known/jwks.json").json()))
    parsed = jwt.JWT(jwt=token, key=keyset, check_claims=False)
    return json.loads(parsed.header), json.loads(parsed.claims)


def age_rate_limit(
    action: str,
    seconds: float,
    *,
    key: str | None = None,
    ip: str = "127.0.0.1",
    app: str = "allauth.account",
    config: dict | None = None,
) -> int:
    """Move the clock of one rate limit: its stored hit timestamps become ``seconds`` older.

    Ages the per-IP rates for ``ip`` and, given ``key``, the per-key rates. Returns how many
    stored histories were moved (so a test notices a limit it did not find).
    """
    request = RequestFactory().post("/", REMOTE_ADDR=ip)
    moved = 0
    for rate in ratelimit.get_rates(app=app, action=action, config=config):
        if rate.per == "user" or (rate.per == "key" and key is None):
            continue
        cache_key = ratelimit.get_cache_key(request, app=app, action=action, rate=rate, key=key)
        history = cache.get(cache_key)
        if history:
            cache.set(cache_key, [stamp - seconds for stamp in history], None)
            moved += 1
    return moved
