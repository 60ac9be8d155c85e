"""The ``consents`` claim, released to relying parties granted the ``consents`` scope."""

from __future__ import annotations

import pytest

from consent.purposes import services
from tests.conftest import bearer, exchange, get_code, id_token_claims, login

pytestmark = pytest.mark.django_db


@pytest.mark.spec("OIDC Core §5.4")
def test_consents_claim_through_a_code_flow(client, member, purposes, rp):
    app, secret = rp
    services.consent_change(user=member, changes={"marketing_email": True, "analytics": True}, channel="web")
    services.consent_change(user=member, changes={"analytics": False}, channel="web")
    login(client, member)
    code, verifier = get_code(client, app, scope="openid consents")
    body = exchange(client, app, secret, code, verifier).json()
    assert body["scope"].split() == ["openid", "consents"]
    assert id_token_claims(client, body["id_token"])["consents"] == ["marketing_email"]
    info = client.get("/userinfo", **bearer(body["access_token"])).json()
    assert info == {"sub": str(member.sub), "consents": ["marketing_email"]}


@pytest.mark.spec("OIDC Core §5.4")
def test_no_grants_is_an_empty_list_and_no_scope_no_claim(client, member, purposes, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app, scope="openid consents")
    body = exchange(client, app, secret, code, verifier).json()
    assert client.get("/userinfo", **bearer(body["access_token"])).json()["consents"] == []

    services.consent_change(user=member, changes={"marketing_email": True}, channel="web")
    code, verifier = get_code(client, app, scope="openid email")
    body = exchange(client, app, secret, code, verifier).json()
    assert "consents" not in id_token_claims(client, body["id_token"])
    assert "consents" not in client.get("/userinfo", **bearer(body["access_token"])).json()


def test_claim_follows_later_changes_at_userinfo(client, member, purposes, rp):
    app, secret = rp
    login(client, member)
    code, verifier = get_code(client, app, scope="openid consents")
    access = exchange(client, app, secret, code, verifier).json()["access_token"]
    services.consent_change(user=member, changes={"sharing": True}, channel="app")
    assert client.get("/userinfo", **bearer(access)).json()["consents"] == ["sharing"]


def test_discovery_lists_the_scopes_and_claim(client, db):
    config = client.get("/.well-known/openid-configuration").json()
    assert {"consents", "consents:write", "consents:audience"} <= set(config["scopes_supported"])
    assert "consents" in config["claims_supported"]


def test_third_party_consent_screen_describes_the_scope(client, member, purposes, third_party_rp):
    from tests.conftest import authorize_params, pkce_pair

    app, _ = third_party_rp
    login(client, member)
    page = client.get("/authorize", authorize_params(app, challenge=pkce_pair()[1], scope="openid consents"))
    assert page.status_code == 200
    assert "Your privacy choices" in page.content.decode()
