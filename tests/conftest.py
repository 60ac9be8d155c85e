from __future__ import annotations

import base64
import hashlib
import os
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress

from idp.models import Client

PASSWORD = "correct horse battery staple 42"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and cached sessions live in the cache; every test starts clean."""
    from django.core.cache import cache

    from idp.oauth.clients import client_cache_clear

    cache.clear()
    client_cache_clear()
    yield
    client_cache_clear()


@pytest.fixture
def member(db, django_user_model):
    user = django_user_model.objects.create_user(
        email="member@example.com", password=PASSWORD, given_name="Hanako", family_name="Yamada"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def make_client(**overrides) -> tuple[Client, str]:
    secret = secrets.token_urlsafe(48)
    fields = {
        "client_id": "rp-" + secrets.token_hex(4),
        "name": "Test RP",
        "client_type": Client.CLIENT_CONFIDENTIAL,
        "authorization_grant_type": Client.GRANT_AUTHORIZATION_CODE,
        "redirect_uris": "https://rp.example/callback",
        "post_logout_redirect_uris": "https://rp.example/",
        "algorithm": Client.RS256_ALGORITHM,
        "first_party": True,
        "client_secret": secret,
    }
    fields.update(overrides)
    client = Client.objects.create(**fields)
    return client, secret


@pytest.fixture
def rp(db):
    return make_client()


@pytest.fixture
def third_party_rp(db):
    return make_client(first_party=False, name="Partner Shop", redirect_uris="https://shop.example/cb")


@pytest.fixture
def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


REDIRECT = "https://rp.example/callback"


def login(client, user, password: str = PASSWORD):
    resp = client.post("/accounts/login/", {"login": user.email, "password": password})
    assert resp.status_code == 302, resp.content[:300]
    return resp


def authorize_params(app, *, challenge: str | None = None, **extra) -> dict:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris.split()[0],
        "scope": "openid email profile",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "nc-" + secrets.token_hex(4),
    }
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def get_code(client, app, **extra) -> tuple[str, str]:
    """Authorize as the signed-in user; return (code, verifier)."""
    verifier, challenge = pkce_pair()
    resp = client.get("/authorize", authorize_params(app, challenge=challenge, **extra))
    assert resp.status_code == 302, resp.content[:500]
    q = query_of(resp["Location"])
    assert "code" in q, q
    return q["code"], verifier


def exchange(client, app, secret, code, verifier, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app.redirect_uris.split()[0],
        "client_id": app.client_id,
        "client_secret": secret,
        "code_verifier": verifier,
    }
    data.update(extra)
    return client.post("/token", {k: v for k, v in data.items() if v is not None})


def id_token_claims(client, token: str) -> dict:
    import json

    from jwcrypto import jwk, jwt

    keyset = jwk.JWKSet.from_json(json.dumps(client.get("/.well-known/jwks.json").json()))
    return json.loads(jwt.JWT(jwt=token, key=keyset, check_claims=False).claims)


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def basic(app, secret) -> dict:
    raw = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {raw}"}
