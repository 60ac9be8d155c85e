"""Privacy plan of the imports app.

An :class:`~imports.models.ImportedMember` links a legacy id to an account. Erasure unlinks it
and keeps the legacy id, so that running the same legacy file again does not create the erased
member anew; the row then names no one of ours. Export shows the legacy id and when it came.
:class:`~imports.models.ImportRun` holds no personal data: its errors list line numbers, codes
and field names, never values.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.privacy import registry as privacy


def export(user) -> dict:
    from imports.models import ImportedMember

    return {
        "imported_from": privacy.rows(
            ImportedMember.objects.filter(user=user).order_by("id"), ["source", "legacy_id", "imported_at"]
        )
    }


privacy.plan_register(
    privacy.Plan(
        name="imports",
        title=_("Import from an earlier system"),
        page_order=900,
        order=250,
        models=("imports.ImportedMember",),
        export=export,
        steps=(
            privacy.Step(
                "imported_member_links",
                privacy.pseudonymise("imports.ImportedMember", set_fields={"user": None}),
                privacy.PSEUDONYMISE,
                description="the legacy id stays, unlinked, so a re-run does not bring the member back",
            ),
        ),
    )
)
