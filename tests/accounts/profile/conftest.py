"""Fixtures for profile attributes: definitions made the way staff make them (through the service),
client access, and members' access tokens obtained through a real code flow."""

from __future__ import annotations

import pytest

from accounts.models import AttributeAccess, AttributeChoice, AttributeDefinition
from accounts.profile import services
from tests.accounts.mfa.conftest import force_login_with_mfa  # noqa: F401 - re-exported for the admin tests
from tests.conftest import exchange, get_code, login

PREFS = "profile:preferences"
HOUSEHOLD = "profile:household"


def define(key: str, data_type: str, *, scope: str = PREFS, choices=(), **fields) -> AttributeDefinition:
    """A definition with ``choices`` as ``(value, label_en, label_ja)`` tuples."""
    fields.setdefault("label_en", key.replace("_", " ").capitalize())
    definition = services.attribute_definition_save(
        definition=AttributeDefinition(key=key, data_type=data_type, scope=scope, **fields)
    )
    for position, (value, label_en, label_ja) in enumerate(choices):
        AttributeChoice.objects.create(
            definition=definition, value=value, label_en=label_en, label_ja=label_ja, position=position
        )
    return definition


def grant(client, definition, *, read: bool = True, write: bool = False, ask: int | None = None):
    return AttributeAccess.objects.create(
        client=client, definition=definition, can_read=read, can_write=write, ask_position=ask
    )


@pytest.fixture
def attrs(db) -> dict[str, AttributeDefinition]:
    """The brands' examples: diet, seat, fuel (preferences), pet (household), and one of each other type."""
    return {
        "diet": define(
            "diet",
            "choice",
            label_en="Your diet",
            label_ja="食事の好み",
            choices=[
                ("vegetarian", "Vegetarian", "ベジタリアン"),
                ("vegan", "Vegan", "ヴィーガン"),
                ("any", "Anything", "何でも"),
            ],
        ),
        "seat": define(
            "seat",
            "choice",
            label_en="Seat",
            label_ja="座席",
            choices=[("window", "Window", "窓側"), ("aisle", "Aisle", "通路側")],
        ),
        "premium_fuel": define("premium_fuel", "boolean", label_en="Premium fuel?", label_ja="ハイオク？"),
        "pet": define(
            "pet",
            "choice",
            scope=HOUSEHOLD,
            label_en="Cat or dog?",
            label_ja="猫派？犬派？",
            choices=[("cat", "Cat", "猫"), ("dog", "Dog", "犬")],
        ),
        "nickname": define("nickname", "text", label_en="What we call you", label_ja="呼び名", max_length=20),
        "shoe_size": define("shoe_size", "number", label_en="Shoe size", min_value=15, max_value=35),
        "anniversary": define("anniversary", "date", label_en="Anniversary", label_ja="記念日"),
    }


def member_token(http, member, app, secret, scope: str) -> dict:
    """Sign in, get a code for ``scope`` and redeem it: the RP's token response."""
    login(http, member)
    code, verifier = get_code(http, app, scope=scope)
    resp = exchange(http, app, secret, code, verifier)
    assert resp.status_code == 200, resp.content
    return resp.json()
