from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from allauth.socialaccount.models import SocialApp

from tests.accounts.social.fake_upstream import FakeUpstream

PROVIDER_ID = "partner"
LOGIN_URL = f"/accounts/oidc/{PROVIDER_ID}/login/"


@pytest.fixture(autouse=True)
def _social_urls(settings):
    settings.ROOT_URLCONF = "tests.accounts.social.urls"


@pytest.fixture
def upstream(monkeypatch):
    """The fake OpenID Connect provider, on loopback for the duration of one test."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def partner_app(db, upstream):
    """A generic OpenID Connect upstream configured in the admin (allauth SocialApp)."""
    return SocialApp.objects.create(
        provider="openid_connect",
        provider_id=PROVIDER_ID,
        name="Partner ID",
        client_id=upstream.client_id,
        secret=upstream.client_secret,
        settings={"server_url": upstream.issuer},
    )


def start(client, *, process: str = "login", next_url: str | None = None, provider_login: str = LOGIN_URL):
    """Press the provider's button: POST to its login URL; returns the upstream authorize URL."""
    data = {"process": process}
    if next_url:
        data["next"] = next_url
    response = client.post(provider_login, data)
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def come_back(client, callback_url: str):
    """The browser arrives back at our callback (GET) with what the upstream put in the URL."""
    parts = urlsplit(callback_url)
    assert parts.netloc == "testserver", callback_url
    return client.get(f"{parts.path}?{parts.query}")


def social_login(client, upstream: FakeUpstream, **kwargs):
    """The whole round trip through the upstream; returns our callback's response."""
    return come_back(client, upstream.consent(start(client, **kwargs)))


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")
