"""The legal documents' privacy plan: which versions a member accepted, with the evidence.

On erasure the acceptances are deleted: the account they prove consent for is gone, and keeping
when and from which address a person accepted would keep the person. A legal hold
(``consent_evidence``) keeps them while a dispute about that consent is open. The staff members
who wrote or published a version lose their link to it when their own accounts are erased.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.privacy import registry as privacy

CONSENT_EVIDENCE = "consent_evidence"

privacy.hold_category_register(CONSENT_EVIDENCE, _("Evidence of consent (accepted terms and consents given)"))
privacy.not_personal(
    "consent.LegalDocumentText",
    "the text of a published document; its author is recorded on the version (covered by the legal plan)",
)


def export(user) -> dict:
    from consent.models import LegalAcceptance

    acceptances = (
        LegalAcceptance.objects.filter(user=user).select_related("version__document").order_by("accepted_at", "pk")
    )
    return {
        "accepted_documents": [
            {
                "document": a.version.document.slug,
                "version": a.version.version,
                "accepted_at": a.accepted_at.isoformat(),
                "language_shown": a.language,
                "channel": a.channel,
                "client": a.client_label,
                "ip": a.ip,
                "user_agent": a.user_agent,
            }
            for a in acceptances
        ]
    }


privacy.plan_register(
    privacy.Plan(
        name="legal",
        title=_("Terms you accepted"),
        page_order=800,
        order=400,
        models=("consent.LegalAcceptance", "consent.LegalDocumentVersion"),
        export=export,
        steps=(
            privacy.Step(
                "acceptances", privacy.delete("consent.LegalAcceptance"), privacy.DELETE, hold_category=CONSENT_EVIDENCE
            ),
            privacy.Step(
                "versions_written",
                privacy.pseudonymise(
                    "consent.LegalDocumentVersion", set_fields={"created_by": None}, user_field="created_by"
                ),
                privacy.PSEUDONYMISE,
            ),
            privacy.Step(
                "versions_published",
                privacy.pseudonymise(
                    "consent.LegalDocumentVersion", set_fields={"published_by": None}, user_field="published_by"
                ),
                privacy.PSEUDONYMISE,
            ),
        ),
    )
)
