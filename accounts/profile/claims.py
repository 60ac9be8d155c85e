"""Attribute claims: one JSON object claim per attribute scope, holding what the client may read.

``scope=openid profile:preferences`` releases ``"preferences": {"diet": "vegetarian", ...}`` in the
ID token and at userinfo, with only the attributes this client has read access to. Registered
once at start-up (:func:`register`) from ``ACCOUNTS_PROFILE_ATTRIBUTE_SCOPES``, so discovery's
``claims_supported`` lists the claim names.
"""

from __future__ import annotations

from accounts.profile import selectors
from idp.claims import register_claims
from idp.oauth.scopes import register_scope

_registered: set[str] = set()


def _provider(scope: str, claim: str):
    def attribute_claims(user, *, client) -> dict:
        if client is None:
            return {}
        values = selectors.readable_values(user=user, client=client, scopes=[scope])
        return {claim: values} if values else {}

    attribute_claims.__name__ = f"attribute_claims_{claim}"
    return attribute_claims


def register() -> None:
    """Register every attribute scope and its claim (idempotent; called from AccountsConfig.ready)."""
    for scope, conf in selectors.attribute_scopes().items():
        if scope in _registered:
            continue
        register_scope(scope, conf["description"])
        register_claims(scope, claims=[conf["claim"]])(_provider(scope, conf["claim"]))
        _registered.add(scope)
