"""The ``consents`` claim: the codes of the purposes the member currently grants.

Released to relying parties granted the ``consents`` scope, in the ID token and at userinfo::

    "consents": ["analytics", "marketing_email"]

A sorted list of active purpose codes; an empty list means the member agreed to nothing (every
purpose is off by default). Purposes not in the list must be treated as refused.
"""

from __future__ import annotations

from consent.purposes import selectors
from idp.claims import register_claims


@register_claims("consents", claims=["consents"])
def consents_claims(user, *, client) -> dict:
    return {"consents": selectors.granted_codes(user=user)}
