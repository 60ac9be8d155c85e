"""Hosted-page hardening, sessions, secrets and signing keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from jwcrypto import jwk, jwt

from idp import bootstrap
from tests.conftest import PASSWORD, authorize_params, exchange, get_code, login, pkce_pair

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/authorize?client_id=nope"])
def test_hosted_pages_cannot_be_framed_and_send_no_referrer(client, path):
    resp = client.get(path)
    assert "frame-ancestors 'none'" in resp["Content-Security-Policy"]
    assert "default-src 'self'" in resp["Content-Security-Policy"]
    assert resp["Referrer-Policy"] == "no-referrer"
    assert resp["X-Frame-Options"] == "DENY"


def test_consent_page_headers(client, member, third_party_rp):
    app, _ = third_party_rp
    login(client, member)
    resp = client.get("/authorize", authorize_params(app, challenge=pkce_pair()[1]))
    assert resp.status_code == 200
    assert "frame-ancestors 'none'" in resp["Content-Security-Policy"]
    assert resp["Referrer-Policy"] == "no-referrer"
    assert "no-store" in resp["Cache-Control"]


@pytest.mark.spec("OWASP ASVS 3.2.1")
def test_session_key_changes_at_login(client, member):
    session = client.session
    session["before"] = "x"
    session.save()
    before = session.session_key
    login(client, member)
    assert client.session.session_key != before


def test_session_cookie_flags(client, member):
    resp = login(client, member)
    cookie = resp.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def _settings_in_subprocess(env: dict, expr: str) -> subprocess.CompletedProcess:
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'idp.settings'); django.setup(); "
        f"from django.conf import settings as s; print({expr})"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, cwd=ROOT, capture_output=True, text=True
    )


def test_cookies_secure_outside_embedded_default(tmp_path):
    prod = _settings_in_subprocess(
        {
            "DATABASE_URL": "postgres://u@127.0.0.1/x",
            "SECRET_KEY": "k" * 50,
            "IDP_VAR_DIR": str(tmp_path),
            "OIDC_RSA_PRIVATE_KEY": bootstrap.generate_rsa_pem(),
        },
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_NAME",
    )
    assert prod.stdout.strip() == "True True __Host-sid", prod.stderr
    embedded = _settings_in_subprocess({"IDP_VAR_DIR": str(tmp_path)}, "s.SESSION_COOKIE_SECURE")
    assert embedded.stdout.strip() == "False", embedded.stderr


def test_missing_secret_outside_embedded_default_is_a_startup_error(tmp_path):
    result = _settings_in_subprocess(
        {"DATABASE_URL": "postgres://u@127.0.0.1/x", "IDP_VAR_DIR": str(tmp_path)}, "s.SECRET_KEY"
    )
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


def test_passwords_hashed_with_argon2id_at_owasp_parameters(member):
    algorithm, variant, version, params, *_ = member.password.split("$")
    assert algorithm == "argon2" and variant == "argon2id"
    assert params == "m=19456,t=2,p=1"


@pytest.mark.parametrize("password", ["password123", "aaaaaaaaaaaa", "1234567890", "qwertyuiop", "short"])
def test_weak_passwords_refused_at_signup(client, password):
    resp = client.post("/accounts/signup/", {"email": "new@example.com", "password1": password})
    assert resp.status_code == 200 and resp.context["form"].errors.get("password1")


def test_signup_needs_only_email_and_password(client, django_user_model):
    resp = client.post("/accounts/signup/", {"email": "new@example.com", "password1": "a-Good-passphrase-91"})
    assert resp.status_code == 302
    assert django_user_model.objects.filter(email="new@example.com").exists()


def test_failed_logins_are_throttled_per_account(client, member):
    for i in range(5):
        client.post("/accounts/login/", {"login": member.email, "password": f"wrong-{i}"})
    resp = client.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
    assert resp.status_code == 200
    assert "Too many failed login attempts" in resp.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_is_rate_limited_per_ip(client, django_user_model):
    statuses = {
        client.post("/accounts/login/", {"login": f"u{i}@example.com", "password": "x"}).status_code
        for i in range(35)
    }
    assert 429 in statuses


@pytest.mark.spec("OIDC Core §10.1.1")
def test_signing_key_rotation(client, member, rp, tmp_path, monkeypatch, settings):
    monkeypatch.setattr(bootstrap, "KEYS_DIR", tmp_path)
    monkeypatch.setattr(bootstrap, "KEYRING_FILE", tmp_path / "signing.json")
    bootstrap.ensure_signing_key()

    def use_ring():
        active, inactive = bootstrap.load_signing_keys()
        settings.OAUTH2_PROVIDER = {
            **settings.OAUTH2_PROVIDER,
            "OIDC_RSA_PRIVATE_KEY": active,
            "OIDC_RSA_PRIVATE_KEYS_INACTIVE": inactive,
        }

    use_ring()
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    old_token = exchange(client, app, secret, code, verifier).json()["id_token"]

    call_command("signing_keys", "rotate")
    use_ring()
    jwks = client.get("/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 2
    keyset = jwk.JWKSet.from_json(json.dumps(jwks))
    jwt.JWT(jwt=old_token, key=keyset, check_claims=False)  # still verifiable

    code, verifier = get_code(client, app)
    new_token = exchange(client, app, secret, code, verifier).json()["id_token"]
    old_kid = json.loads(jwt.JWT(jwt=old_token, key=keyset, check_claims=False).header)["kid"]
    new_kid = json.loads(jwt.JWT(jwt=new_token, key=keyset, check_claims=False).header)["kid"]
    assert old_kid != new_kid

    # Not yet expired: retire keeps it. Move the clock past the retirement date: gone.
    call_command("signing_keys", "retire")
    use_ring()
    assert len(client.get("/.well-known/jwks.json").json()["keys"]) == 2
    ring = bootstrap.read_keyring()
    ring["inactive"][0]["retire_after"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    bootstrap.write_keyring(ring)
    call_command("signing_keys", "retire")
    use_ring()
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert [k["kid"] for k in keys] == [new_kid]


@pytest.mark.parametrize(
    ("origin", "fetch_site", "ok"),
    [
        ("null", "same-origin", True),
        ("null", "cross-site", False),
        ("null", None, False),
        ("https://evil.example", "cross-site", False),
    ],
)
def test_csrf_with_no_referrer_policy(member, origin, fetch_site, ok):
    """Browsers send Origin: null under Referrer-Policy: no-referrer; Fetch Metadata decides."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/")
    token = page.cookies[settings.CSRF_COOKIE_NAME].value
    headers = {"HTTP_ORIGIN": origin}
    if fetch_site:
        headers["HTTP_SEC_FETCH_SITE"] = fetch_site
    resp = browser.post(
        "/accounts/login/",
        {"login": member.email, "password": PASSWORD, "csrfmiddlewaretoken": token},
        **headers,
    )
    assert (resp.status_code == 302) is ok
    assert (resp.status_code == 403) is not ok
