"""Attributes reach relying parties as claims under their scopes, filtered per client (OIDC Core §5.1, §5.3)."""

from __future__ import annotations

import pytest

from accounts.profile import services
from tests.accounts.profile.conftest import grant
from tests.conftest import bearer, exchange, get_code, id_token_claims, login, make_client

pytestmark = pytest.mark.django_db

SCOPES = "openid email profile:preferences profile:household"


@pytest.fixture
def stored(member, attrs):
    services.profile_attributes_update(
        user=member,
        values={"diet": "vegan", "seat": "aisle", "premium_fuel": False, "pet": "cat"},
        source=services.SOURCE_MEMBER,
    )
    return member


def _tokens(client, member, app, secret, scope=SCOPES) -> dict:
    login(client, member)
    code, verifier = get_code(client, app, scope=scope)
    resp = exchange(client, app, secret, code, verifier)
    assert resp.status_code == 200, resp.content
    return resp.json()


@pytest.mark.spec("OIDC Core §5.4")
def test_released_under_their_scope_and_only_what_the_client_may_read(client, stored, attrs, rp):
    app, secret = rp
    grant(app, attrs["diet"])
    grant(app, attrs["premium_fuel"])
    grant(app, attrs["seat"], read=False, write=True)  # write-only: never released
    # no access to "pet" at all

    tokens = _tokens(client, stored, app, secret)
    claims = id_token_claims(client, tokens["id_token"])
    assert claims["preferences"] == {"diet": "vegan", "premium_fuel": False}
    assert "household" not in claims
    assert "diet" not in claims  # attributes never become top-level claims

    userinfo = client.get("/userinfo", **bearer(tokens["access_token"])).json()
    assert userinfo["preferences"] == {"diet": "vegan", "premium_fuel": False}
    assert "household" not in userinfo


@pytest.mark.spec("OIDC Core §5.4")
def test_each_client_gets_its_own_attributes(client, stored, attrs, rp):
    app, secret = rp
    grant(app, attrs["diet"])
    pet_shop, pet_secret = make_client(name="Pet shop")
    grant(pet_shop, attrs["pet"])

    shop_claims = id_token_claims(client, _tokens(client, stored, pet_shop, pet_secret)["id_token"])
    assert shop_claims["household"] == {"pet": "cat"} and "preferences" not in shop_claims
    rp_claims = id_token_claims(client, _tokens(client, stored, app, secret)["id_token"])
    assert rp_claims["preferences"] == {"diet": "vegan"} and "household" not in rp_claims


@pytest.mark.spec("OIDC Core §5.4")
def test_nothing_without_the_scope_or_when_the_attribute_is_inactive(client, stored, attrs, rp):
    app, secret = rp
    grant(app, attrs["diet"])
    grant(app, attrs["pet"])
    claims = id_token_claims(client, _tokens(client, stored, app, secret, scope="openid profile:household")["id_token"])
    assert claims["household"] == {"pet": "cat"} and "preferences" not in claims

    attrs["pet"].active = False
    services.attribute_definition_save(definition=attrs["pet"])
    claims = id_token_claims(client, _tokens(client, stored, app, secret)["id_token"])
    assert "household" not in claims and claims["preferences"] == {"diet": "vegan"}


def test_discovery_lists_the_attribute_scopes_and_claims(client):
    config = client.get("/.well-known/openid-configuration").json()
    assert {"preferences", "household"} <= set(config["claims_supported"])
    assert {"profile:preferences", "profile:household"} <= set(config["scopes_supported"])
