"""The purposes' privacy plan: what the member agreed to, and the full history of it.

Erasure drops the current state and keeps the records as anonymous evidence (no member link, IP
or device): proof of what was agreed when, naming no one. A legal hold on ``consent_evidence``
keeps them linked while a dispute about that consent is open.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.legal.privacy import CONSENT_EVIDENCE
from consent.privacy import registry as privacy


def export(user) -> dict:
    from consent.purposes import selectors

    return {
        "consents_now": selectors.granted_codes(user=user),
        "consent_history": [
            {
                "purpose": r.purpose.code,
                "granted": r.granted,
                "at": r.created.isoformat(),
                "channel": r.channel,
                "client_id": r.client_id,
                "language": r.language,
                "ip": r.ip,
                "user_agent": r.user_agent,
            }
            for r in selectors.consent_history(user=user).select_related("purpose")
        ],
    }


def erase_consents(ctx: privacy.StepContext) -> dict:
    from consent.purposes.services import consent_records_erase

    if ctx.user is None:  # the account row is gone: deleting it pseudonymised the records already
        return {"pseudonymised": 0}
    return {"pseudonymised": consent_records_erase(user=ctx.user, keep_evidence=True)}


privacy.plan_register(
    privacy.Plan(
        name="consents",
        title=_("Your privacy choices"),
        page_order=700,
        order=420,
        models=("consent.ConsentRecord", "consent.ConsentState"),
        export=export,
        labels={"consents_now": _("What you agree to now"), "consent_history": _("Every change you made")},
        steps=(privacy.Step("consents", erase_consents, privacy.PSEUDONYMISE, hold_category=CONSENT_EVIDENCE),),
    )
)
