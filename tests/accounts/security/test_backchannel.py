"""Signing out everywhere: refresh and access tokens revoked, and relying parties told by OpenID
Connect Back-Channel Logout 1.0 (a signed logout token POSTed to their endpoint on loopback)."""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from accounts.models import SecurityEvent, UserSession
from accounts.security.backchannel import BACKCHANNEL_LOGOUT_EVENT
from idp import bootstrap
from tests.accounts.security.conftest import SAFARI_IPHONE, verified_logout_token
from tests.conftest import basic, bearer, exchange, get_code, id_token_claims, login, make_client

pytestmark = pytest.mark.django_db

SPEC = "OIDC Back-Channel Logout 1.0"


def rp_with_endpoint(endpoint, **extra):
    return make_client(backchannel_logout_uri=endpoint.url, **extra)


def tokens_for(client, app, secret, **extra) -> dict:
    code, verifier = get_code(client, app, **extra)
    resp = exchange(client, app, secret, code, verifier)
    assert resp.status_code == 200, resp.content
    return resp.json()


def refresh(client, app, secret, refresh_token):
    return client.post(
        "/token",
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        **basic(app, secret),
    )


def assert_logout_token(client, token: str, *, app, member, sid: str | None):
    header, claims = verified_logout_token(client, token)
    kids = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
    assert header["alg"] == "RS256" and header["kid"] in kids and header["typ"] == "logout+jwt"
    assert claims["iss"] == "http://testserver"
    assert claims["aud"] == app.client_id
    assert claims["sub"] == str(member.sub)
    assert claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert "nonce" not in claims
    assert abs(claims["iat"] - time.time()) < 60 and 0 < claims["exp"] - claims["iat"] <= 300
    assert len(claims["jti"]) >= 16
    if sid is None:
        assert "sid" not in claims
    else:
        assert claims["sid"] == sid
    return claims


@pytest.mark.spec(f"{SPEC} §2.4, §2.5")
def test_sign_out_everywhere_revokes_tokens_and_tells_the_rp(
    client, member, rp_endpoint, eager_tasks, django_capture_on_commit_callbacks
):
    endpoint = rp_endpoint()
    app, secret = rp_with_endpoint(endpoint)
    quiet, quiet_secret = make_client()  # no back-channel URI: nothing is sent to it
    login(client, member)
    tokens = tokens_for(client, app, secret)
    other_tokens = tokens_for(client, quiet, quiet_secret)
    assert get_refresh_token_model().objects.filter(user=member, revoked__isnull=True).count() == 2
    assert client.get("/userinfo", **bearer(tokens["access_token"])).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post("/account/security/sessions/sign-out-everywhere")
    assert resp.status_code == 302 and resp["Location"] == "/accounts/login/"

    assert client.get("/").status_code == 302  # this browser is signed out too
    for application, secret_, issued in ((app, secret, tokens), (quiet, quiet_secret, other_tokens)):
        failed = refresh(client, application, secret_, issued["refresh_token"])
        assert failed.status_code == 400 and failed.json()["error"] == "invalid_grant"
        assert client.get("/userinfo", **bearer(issued["access_token"])).status_code == 401
    assert not get_refresh_token_model().objects.filter(user=member, revoked__isnull=True).exists()
    assert not get_access_token_model().objects.filter(user=member).exists()

    [token] = endpoint.wait_for(1)
    assert endpoint.received[0]["content_type"] == "application/x-www-form-urlencoded"
    assert_logout_token(client, token, app=app, member=member, sid=None)
    event = SecurityEvent.objects.get(user=member, kind=SecurityEvent.Kind.SIGNED_OUT_EVERYWHERE)
    assert event.data["clients_notified"] == 1 and event.data["sessions"] == 1
    assert not UserSession.objects.filter(user=member, ended_at__isnull=True).exists()


@pytest.mark.spec(f"{SPEC} §2.4")
def test_signing_one_session_out_tells_the_rp_that_sessions_sid(
    client, browser, member, rp_endpoint, eager_tasks, django_capture_on_commit_callbacks
):
    endpoint = rp_endpoint()
    app, secret = rp_with_endpoint(endpoint)
    phone = browser(SAFARI_IPHONE)
    login(phone, member)
    phone_tokens = tokens_for(phone, app, secret)
    phone_sid = id_token_claims(phone, phone_tokens["id_token"])["sid"]
    phone_row = UserSession.objects.get(pk=phone.session["idp_security_session"])
    login(client, member)
    tokens_for(client, app, secret)  # this browser is signed in at the RP too, with another sid

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/account/security/sessions/{phone_row.pk}/sign-out")

    [token] = endpoint.wait_for(1)
    assert_logout_token(client, token, app=app, member=member, sid=phone_sid)


@pytest.mark.spec(f"{SPEC} §2.5")
def test_signing_out_here_tells_the_rps_of_this_session(
    client, member, rp_endpoint, eager_tasks, django_capture_on_commit_callbacks
):
    endpoint = rp_endpoint()
    app, secret = rp_with_endpoint(endpoint)
    login(client, member)
    sid = id_token_claims(client, tokens_for(client, app, secret)["id_token"])["sid"]

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/logout/")

    [token] = endpoint.wait_for(1)
    assert_logout_token(client, token, app=app, member=member, sid=sid)


@pytest.mark.spec(f"{SPEC} §2.8")
def test_delivery_retried_when_the_rp_fails_first(
    client, member, rp_endpoint, eager_tasks, django_capture_on_commit_callbacks
):
    """Eager here (retries run at once); through Redis and a worker in the next test."""
    endpoint = rp_endpoint([503, 502])
    app, secret = rp_with_endpoint(endpoint)
    login(client, member)
    tokens_for(client, app, secret)

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/account/security/sessions/sign-out-everywhere")

    tokens = endpoint.wait_for(3)
    assert endpoint.answered == [503, 502, 200]
    jtis = {assert_logout_token(client, t, app=app, member=member, sid=None)["jti"] for t in tokens}
    assert len(jtis) == 3  # each attempt is a fresh token


def test_a_refusing_rp_is_not_retried(
    client, member, rp_endpoint, eager_tasks, django_capture_on_commit_callbacks
):
    """§2.8: 400 means the RP refused the token; sending it again would not help."""
    endpoint = rp_endpoint([400])
    app, secret = rp_with_endpoint(endpoint)
    login(client, member)
    tokens_for(client, app, secret)

    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post("/account/security/sessions/sign-out-everywhere")
    assert resp.status_code == 302

    endpoint.wait_for(1)
    assert endpoint.answered == [400]


def test_an_rp_that_never_answers_does_not_break_signing_out(
    client, member, rp_endpoint, eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.ACCOUNTS_BACKCHANNEL_MAX_RETRIES = 2
    endpoint = rp_endpoint([500, 500, 500, 500])
    app, secret = rp_with_endpoint(endpoint)
    login(client, member)
    tokens_for(client, app, secret)

    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post("/account/security/sessions/sign-out-everywhere")
    assert resp.status_code == 302
    assert endpoint.answered == [500, 500, 500]  # the first attempt and two retries, then given up


@pytest.mark.spec(f"{SPEC} §2.1")
def test_discovery_advertises_back_channel_logout(client):
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True


needs_services = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")),
    reason="needs DATABASE_URL and REDIS_URL: a Celery worker with a Redis broker",
)


@needs_services
@pytest.mark.spec(f"{SPEC} §2.5")
def test_worker_delivers_through_redis_and_retries_with_backoff(
    transactional_db, tmp_path, member, rp_endpoint
):
    from tests.live.test_processes import Processes

    endpoint = rp_endpoint([503])
    app, secret = rp_with_endpoint(endpoint)  # committed: the worker reads it
    processes = Processes(tmp_path)
    # The worker signs with this process's key ring, so the JWKS here verifies its tokens.
    processes.env["IDP_VAR_DIR"] = str(bootstrap.VAR_DIR)
    for name in ("SECRET_KEY", "OIDC_RSA_PRIVATE_KEY", "IDP_ISSUER"):
        if name in os.environ:
            processes.env[name] = os.environ[name]
    assert connection.vendor == "postgresql"
    try:
        proc, log = processes.start(
            "worker",
            [
                "celery",
                "-A",
                "idp",
                "worker",
                "-P",
                "solo",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "INFO",
            ],
        )
        processes.wait_for(proc, log, r"celery@\S+ ready\.")
        from django.test import Client

        client = Client()
        login(client, member)
        tokens_for(client, app, secret)

        resp = client.post("/account/security/sessions/sign-out-everywhere")  # commits: the task is sent
        assert resp.status_code == 302

        tokens = endpoint.wait_for(2, timeout=60)
        assert endpoint.answered == [503, 200]
        for token in tokens:
            assert_logout_token(client, token, app=app, member=member, sid=None)
        output = log.read_text()
        assert "accounts.security.deliver_logout_token" in output and "Retry in" in output, output
    finally:
        processes.stop_all()
