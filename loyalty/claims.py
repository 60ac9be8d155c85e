"""Claims released under the ``loyalty`` scope (ID token and userinfo).

An RP linked to a program (:class:`loyalty.models.ProgramClient`) sees the membership of that
program; any other RP sees the member's oldest membership.
"""

from __future__ import annotations

from idp.claims import register_claims
from loyalty import selectors

LOYALTY_CLAIMS = ["loyalty_program", "member_number", "loyalty_tier", "loyalty_balance"]


@register_claims("loyalty", claims=LOYALTY_CLAIMS)
def loyalty_claims(user, *, client) -> dict:
    membership = selectors.member_for_claims(user, client=client)
    if membership is None:
        return {}
    return {
        "loyalty_program": membership.program.slug,
        "member_number": membership.member_number,
        "loyalty_tier": membership.tier.code if membership.tier_id else None,
        "loyalty_balance": membership.balance,
    }
