"""Authorization code + PKCE: RFC 6749 §4.1, RFC 7636, RFC 9700, RFC 9207, OIDC Core §3.1."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from tests.conftest import (
    authorize_params,
    basic,
    bearer,
    exchange,
    get_code,
    id_token_claims,
    login,
    make_client,
    pkce_pair,
    query_of,
)

pytestmark = pytest.mark.django_db


@pytest.mark.spec("OIDC Core §3.1.3.7, RFC 9207 §2")
def test_full_code_flow(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app, nonce="abc")
    resp = exchange(client, app, secret, code, verifier)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer"
    claims = id_token_claims(client, body["id_token"])
    assert claims["iss"] == "http://testserver"
    assert claims["aud"] == app.client_id
    assert claims["nonce"] == "abc"
    assert claims["sub"] == str(member.sub)
    assert abs(claims["auth_time"] - timezone.now().timestamp()) < 60
    assert "sid" in claims


@pytest.mark.spec("RFC 6749 §10.10, RFC 6749 §4.1.2")
def test_codes_are_high_entropy_and_short_lived(client, member, rp):
    app, _ = rp
    login(client, member)
    code, _ = get_code(client, app)
    assert len(code) >= 30
    grant = get_grant_model().objects.get(code=code)
    assert grant.expires - timezone.now() <= timedelta(seconds=60)


@pytest.mark.spec("RFC 6749 §4.1.2")
def test_replayed_code_is_refused_and_revokes_tokens(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    first = exchange(client, app, secret, code, verifier)
    assert first.status_code == 200
    access = first.json()["access_token"]
    refresh = first.json()["refresh_token"]
    assert client.get("/userinfo", **bearer(access)).status_code == 200

    replay = exchange(client, app, secret, code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert client.get("/userinfo", **bearer(access)).status_code == 401
    refreshed = client.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": app.client_id,
            "client_secret": secret,
        },
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC 6749 §4.1.2")
def test_expired_code_is_refused(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    get_grant_model().objects.filter(code=code).update(expires=timezone.now() - timedelta(seconds=1))
    resp = exchange(client, app, secret, code, verifier)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC 7636 §4.6")
def test_wrong_code_verifier_is_refused(client, member, rp):
    app, secret = rp
    login(client, member)
    code, _ = get_code(client, app)
    resp = exchange(client, app, secret, code, pkce_pair()[0])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC 7636 §4.4.1")
def test_missing_code_verifier_is_refused(client, member, rp):
    app, secret = rp
    login(client, member)
    code, _ = get_code(client, app)
    resp = exchange(client, app, secret, code, None)
    assert resp.status_code == 400 and resp.json()["error"] in ("invalid_request", "invalid_grant")


@pytest.mark.spec("RFC 9700 §2.1.1")
def test_pkce_required_for_public_clients(client, member):
    app, _ = make_client(client_type="public", require_pkce=False)
    login(client, member)
    resp = client.get("/authorize", authorize_params(app))
    assert resp.status_code == 302
    q = query_of(resp["Location"])
    assert q["error"] == "invalid_request"
    assert "iss" in q


@pytest.mark.spec("RFC 9700 §2.1.1")
def test_plain_pkce_method_refused(client, member, rp):
    app, _ = rp
    login(client, member)
    params = authorize_params(app, code_challenge="x" * 43, code_challenge_method="plain")
    resp = client.get("/authorize", params)
    assert resp.status_code == 302
    assert query_of(resp["Location"])["error"] == "invalid_request"


@pytest.mark.spec("RFC 9700 §4.8.2")
def test_code_verifier_without_challenge_is_refused(client, member):
    app, secret = make_client(require_pkce=False)
    login(client, member)
    resp = client.get("/authorize", authorize_params(app))
    code = query_of(resp["Location"])["code"]
    resp = exchange(client, app, secret, code, pkce_pair()[0])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC 9700 §2.1.1")
def test_confidential_client_without_pkce_when_relaxed(client, member):
    app, secret = make_client(require_pkce=False)
    login(client, member)
    resp = client.get("/authorize", authorize_params(app))
    code = query_of(resp["Location"])["code"]
    assert exchange(client, app, secret, code, None).status_code == 200


@pytest.mark.spec("RFC 6749 §4.1.3")
def test_public_client_exchanges_without_secret(client, member):
    app, _ = make_client(client_type="public")
    login(client, member)
    code, verifier = get_code(client, app)
    resp = exchange(client, app, None, code, verifier)
    assert resp.status_code == 200, resp.content


@pytest.mark.spec("RFC 6749 §5.2")
def test_wrong_client_secret(client, member, rp):
    app, _ = rp
    login(client, member)
    code, verifier = get_code(client, app)
    resp = exchange(client, app, "not-the-secret", code, verifier)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


@pytest.mark.spec("RFC 6749 §4.1.3")
def test_code_bound_to_client(client, member, rp):
    app, _ = rp
    other, other_secret = make_client()
    login(client, member)
    code, verifier = get_code(client, app)
    resp = exchange(client, other, other_secret, code, verifier, redirect_uri=app.redirect_uris)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC 6749 §4.1.3")
def test_redirect_uri_must_match_at_token(client, member):
    app, secret = make_client(redirect_uris="https://rp.example/callback https://rp.example/other")
    login(client, member)
    code, verifier = get_code(client, app)
    resp = exchange(client, app, secret, code, verifier, redirect_uri="https://rp.example/other")
    assert resp.status_code == 400
    assert resp.json()["error"] in ("invalid_request", "invalid_grant")


@pytest.mark.spec("OIDC Core §3.1.2.1")
def test_request_without_openid_is_plain_oauth(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app, scope="email", nonce=None)
    resp = exchange(client, app, secret, code, verifier)
    assert resp.status_code == 200
    assert "id_token" not in resp.json()
    # userinfo is an OpenID Connect resource: an access token without openid is refused.
    assert client.get("/userinfo", **bearer(resp.json()["access_token"])).status_code in (401, 403)


@pytest.mark.spec("OIDC Core §5.5")
def test_claims_parameter_with_essential_claims_is_accepted(client, member, rp):
    app, secret = rp
    login(client, member)
    claims = '{"id_token": {"email": {"essential": true}, "acr": {"essential": true}}}'
    code, verifier = get_code(client, app, claims=claims, foo="unknown-extension-param")
    body = exchange(client, app, secret, code, verifier).json()
    assert id_token_claims(client, body["id_token"])["email"] == member.email


@pytest.mark.spec("OIDC Core §5.4")
def test_claims_follow_scopes(client, member, rp):
    app, secret = rp
    member.phone_number = "+81312345678"
    member.save()
    login(client, member)
    code, verifier = get_code(client, app, scope="openid")
    body = exchange(client, app, secret, code, verifier).json()
    claims = id_token_claims(client, body["id_token"])
    assert "email" not in claims and "given_name" not in claims
    info = client.get("/userinfo", **bearer(body["access_token"])).json()
    assert info == {"sub": str(member.sub)}

    code, verifier = get_code(client, app, scope="openid email profile phone")
    body = exchange(client, app, secret, code, verifier).json()
    info = client.get("/userinfo", **bearer(body["access_token"])).json()
    assert info["email"] == member.email and info["email_verified"] is True
    assert info["given_name"] == "Hanako" and info["name"] == "Hanako Yamada"
    assert info["phone_number"] == "+81312345678"


@pytest.mark.spec("RFC 6749 §3.3")
def test_client_limited_to_its_allowed_scopes(client, member):
    app, _ = make_client(allowed_scopes="openid email")
    login(client, member)
    resp = client.get("/authorize", authorize_params(app, challenge=pkce_pair()[1], scope="openid phone"))
    assert resp.status_code == 302
    assert query_of(resp["Location"])["error"] == "invalid_scope"


@pytest.mark.spec("RFC 6749 §6, RFC 9700 §4.14.2")
def test_refresh_rotation_and_reuse_detection(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    first = exchange(client, app, secret, code, verifier).json()
    creds = {"client_id": app.client_id, "client_secret": secret}

    second = client.post("/token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **creds})
    assert second.status_code == 200
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    refreshed_claims = id_token_claims(client, second["id_token"])
    original_claims = id_token_claims(client, first["id_token"])
    assert refreshed_claims["auth_time"] == original_claims["auth_time"]
    assert refreshed_claims["acr"] == original_claims["acr"]

    # Replaying the first refresh token revokes the whole family, the newest token included.
    replay = client.post("/token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **creds})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    newest = client.post("/token", {"grant_type": "refresh_token", "refresh_token": second["refresh_token"], **creds})
    assert newest.status_code == 400
    assert client.get("/userinfo", **bearer(second["access_token"])).status_code == 401
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True, user=member).exists()


@pytest.mark.spec("RFC 6749 §6, RFC 9700 §4.14.2")
def test_rotation_retires_the_previous_pair_and_links_the_new_id_token(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    first = exchange(client, app, secret, code, verifier).json()
    creds = {"client_id": app.client_id, "client_secret": secret}
    second = client.post("/token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **creds})
    second = second.json()

    assert client.get("/userinfo", **bearer(first["access_token"])).status_code == 401
    assert client.get("/userinfo", **bearer(second["access_token"])).status_code == 200
    tokens = get_refresh_token_model().objects.filter(user=member, application=app).order_by("id")
    old, new = list(tokens)
    assert old.revoked is not None and old.access_token_id is None
    assert new.revoked is None and new.token_family == old.token_family
    at = new.access_token
    assert at.source_refresh_token_id == old.pk
    assert str(at.id_token.jti) == id_token_claims(client, second["id_token"])["jti"]


@pytest.mark.spec("RFC 9700 §4.14.2")
def test_the_loser_of_two_concurrent_rotations_gets_invalid_grant(client, member, rp):
    """Both requests validated the same live refresh token; the second to write must not fork the family."""
    from django.db import transaction
    from oauthlib.common import Request
    from oauthlib.oauth2.rfc6749 import errors

    from idp.oauth.validators import Validator

    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    first = exchange(client, app, secret, code, verifier).json()

    validator = Validator()
    request = Request("https://idp.example/token", http_method="POST")
    request.grant_type, request.client, request.scopes = "refresh_token", app, ["openid"]
    assert validator.validate_refresh_token(first["refresh_token"], app, request)
    # Meanwhile a concurrent request rotated the same token.
    winner = client.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": app.client_id,
            "client_secret": secret,
        },
    )
    assert winner.status_code == 200
    token = {"access_token": "late-access", "refresh_token": "late-refresh", "scope": "openid", "expires_in": 60}
    with pytest.raises(errors.InvalidGrantError), transaction.atomic():
        validator._save_bearer_token(token, request)
    assert get_refresh_token_model().objects.filter(user=member, revoked__isnull=True).count() == 1


def _refresh(client, app, secret, refresh_token, **extra):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": app.client_id}
    return client.post("/token", {**data, "client_secret": secret, **extra})


@pytest.mark.spec("OIDC Core §12.2")
def test_the_id_token_of_a_refresh_carries_the_login_and_fresh_claims(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    first = exchange(client, app, secret, code, verifier).json()
    original = id_token_claims(client, first["id_token"])
    member.given_name = "Hana"
    member.save()

    body = _refresh(client, app, secret, first["refresh_token"]).json()
    claims = id_token_claims(client, body["id_token"])
    for name in ("iss", "sub", "aud", "auth_time", "acr", "amr", "sid"):
        assert claims[name] == original[name], name
    assert claims["jti"] != original["jti"] and claims["exp"] >= original["exp"]
    assert claims["given_name"] == "Hana" and claims["email_verified"] is True
    assert "nonce" not in claims
    row = get_access_token_model().objects.get(id_token__jti=claims["jti"])
    assert row.user_id == member.pk and row.application_id == app.pk and row.scope == "openid email profile"
    assert row.id_token.scope == "openid email profile" and row.id_token.user_id == member.pk

    EmailAddress.objects.filter(user=member).update(verified=False)
    body = _refresh(client, app, secret, body["refresh_token"]).json()
    assert id_token_claims(client, body["id_token"])["email_verified"] is False


@pytest.mark.spec("RFC 6749 §6")
def test_a_refresh_may_narrow_the_scope_and_not_widen_it(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app, scope="openid email")
    first = exchange(client, app, secret, code, verifier).json()

    wider = _refresh(client, app, secret, first["refresh_token"], scope="openid email phone")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"

    narrow = _refresh(client, app, secret, first["refresh_token"], scope="openid")
    assert narrow.status_code == 200, narrow.content
    narrow = narrow.json()
    assert narrow["scope"] == "openid"
    claims = id_token_claims(client, narrow["id_token"])
    assert claims["sub"] == str(member.sub) and "email" not in claims
    # The new refresh token carries the narrowed scope.
    wider = _refresh(client, app, secret, narrow["refresh_token"], scope="openid email")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"

    # Without openid, no ID token: the rotation writes no ID token row and the chain goes on.
    code, verifier = get_code(client, app, scope="openid email")
    second = exchange(client, app, secret, code, verifier).json()
    plain = _refresh(client, app, secret, second["refresh_token"], scope="email").json()
    assert plain["scope"] == "email" and "id_token" not in plain
    at = get_access_token_model().objects.get(source_refresh_token__isnull=False, id_token__isnull=True)
    assert at.scope == "email"
    again = _refresh(client, app, secret, plain["refresh_token"])
    assert again.status_code == 200 and again.json()["scope"] == "email"


@pytest.mark.spec("RFC 6749 §6")
def test_a_refresh_token_of_an_expired_access_token_still_rotates(client, member, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    first = exchange(client, app, secret, code, verifier).json()
    get_access_token_model().objects.update(expires=timezone.now() - timedelta(hours=1))
    resp = _refresh(client, app, secret, first["refresh_token"])
    assert resp.status_code == 200, resp.content
    assert client.get("/userinfo", **bearer(resp.json()["access_token"])).status_code == 200
    assert client.get("/userinfo", **bearer(first["access_token"])).status_code == 401


@pytest.mark.spec("RFC 6749 §6")
def test_refresh_token_bound_to_client(client, member, rp):
    app, secret = rp
    other, other_secret = make_client()
    login(client, member)
    code, verifier = get_code(client, app)
    first = exchange(client, app, secret, code, verifier).json()
    resp = client.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": other.client_id,
            "client_secret": other_secret,
        },
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC 6749 §4.4")
def test_client_credentials(client):
    app, secret = make_client(authorization_grant_type="client-credentials", redirect_uris="")
    resp = client.post("/token", {"grant_type": "client_credentials", "scope": "introspection"}, **basic(app, secret))
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["scope"] == "introspection" and "refresh_token" not in body
    assert get_access_token_model().objects.filter(application=app, user__isnull=True).count() == 1

    wrong = client.post("/token", {"grant_type": "client_credentials"}, **basic(app, "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


@pytest.mark.spec("RFC 6749 §4.4")
def test_code_client_cannot_use_client_credentials(client, rp):
    app, secret = rp
    resp = client.post("/token", {"grant_type": "client_credentials"}, **basic(app, secret))
    assert resp.status_code in (400, 401)
    assert resp.json()["error"] == "unauthorized_client"


@pytest.mark.spec("RFC 6749 §6, RFC 9700 §4.14.2")
def test_refresh_token_past_its_lifetime_is_invalid_grant(client, member, rp, settings):
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.settings import oauth2_settings

    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app)
    first = exchange(client, app, secret, code, verifier).json()
    rt = get_refresh_token_model().objects.get(user=member, application=app, revoked__isnull=True)
    lifetime = timedelta(seconds=oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS)
    get_access_token_model().objects.filter(pk=rt.access_token_id).update(
        expires=timezone.now() - lifetime - timedelta(seconds=1)
    )
    resp = client.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": app.client_id,
            "client_secret": secret,
        },
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC 6749 §4.1.2")
def test_invalidating_a_code_deletes_its_grant_once(client, member, rp):
    from oauthlib.common import Request
    from oauthlib.oauth2.rfc6749 import errors

    from idp.oauth.validators import Validator

    app, _ = rp
    login(client, member)
    code, _ = get_code(client, app)
    request = Request("https://idp.example/token", http_method="POST")
    request.client = app
    Validator().invalidate_authorization_code(app.client_id, code, request)
    assert not get_grant_model().objects.filter(code=code).exists()
    with pytest.raises(errors.InvalidGrantError):
        Validator().invalidate_authorization_code(app.client_id, code, request)
