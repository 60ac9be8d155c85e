"""The loyalty app's part of a data export and an erasure (called by the consent app's plan).

Erasure pseudonymises: each membership loses its link to the person and its remaining balance is
forfeited with an ``adjust`` entry; ledger entries keep their amounts (the books still add up)
and name no one.
"""

from __future__ import annotations

from loyalty import services
from loyalty.models import LedgerEntry, Membership, TierChange


def _iso(value):
    return value.isoformat() if value else None


def export(user) -> dict:
    """Everything the loyalty app holds about ``user``, as JSON-ready data."""
    memberships = []
    for m in Membership.objects.filter(user=user).select_related("program", "tier").order_by("joined_at"):
        memberships.append(
            {
                "program": m.program.slug,
                "program_name": m.program.name,
                "member_number": m.member_number,
                "joined_at": _iso(m.joined_at),
                "tier": m.tier.code if m.tier_id else None,
                "balance": m.balance,
                "owed": m.debt,
                "entries": [
                    {
                        "id": str(e.uuid),
                        "created": _iso(e.created),
                        "kind": e.kind,
                        "points": e.points,
                        "balance_after": e.balance_after,
                        "description": e.description,
                        "reference": e.reference,
                        "partner": e.client.name if e.client_id else None,
                    }
                    for e in LedgerEntry.objects.filter(membership=m).select_related("client").order_by("id")
                ],
                "tier_changes": [
                    {
                        "created": _iso(c.created),
                        "from": c.from_tier.code if c.from_tier_id else None,
                        "to": c.to_tier.code if c.to_tier_id else None,
                        "reason": c.reason,
                    }
                    for c in TierChange.objects.filter(membership=m).select_related("from_tier", "to_tier")
                ],
            }
        )
    return {"memberships": memberships}


def erase(user) -> None:
    """Unlink ``user`` from their memberships (idempotent: a second call does nothing)."""
    services.memberships_erase(user=user)


# --- the plan (consent.privacy.registry) ------------------------------------------------------------


def _erase_step(ctx) -> dict:
    if ctx.user is not None:
        erase(ctx.user)
    return {"pseudonymised": True}


def _register() -> None:
    from django.utils.translation import gettext_lazy as _

    from consent.privacy import registry as privacy

    privacy.plan_register(
        privacy.Plan(
            name="loyalty",
            title=_("Loyalty points"),
            page_order=600,
            order=300,
            models=(
                "loyalty.Membership",
                "loyalty.LedgerEntry",
                "loyalty.EarnLot",
                "loyalty.TierChange",
                "loyalty.IdempotencyRecord",
            ),
            export=export,
            steps=(
                privacy.Step(
                    "idempotency_records",
                    privacy.delete("loyalty.IdempotencyRecord", user_field="entry__membership__user"),
                    privacy.DELETE,
                    description="stored answers to partners' retries (they name the member number)",
                ),
                privacy.Step(
                    "memberships",
                    _erase_step,
                    privacy.PSEUDONYMISE,
                    description="accounting records keep their amounts and lose their link to the person",
                ),
                privacy.Step(
                    "entries_made_by_staff",
                    privacy.pseudonymise("loyalty.LedgerEntry", set_fields={"actor": None}, user_field="actor"),
                    privacy.PSEUDONYMISE,
                ),
            ),
        )
    )


_register()
