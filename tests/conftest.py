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

    cache.clear()
    yield


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
