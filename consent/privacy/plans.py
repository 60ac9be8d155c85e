"""The consent app's own privacy plan: export and erasure requests, legal holds, inactivity
notices. Requests and holds are kept as pseudonymous records (``user_ref``) of what was done."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.privacy import registry as privacy


def export(user) -> dict:
    from consent.models import ErasureRequest, ExportRequest, InactivityNotice, LegalHold

    return {
        "data_exports": privacy.rows(
            ExportRequest.objects.filter(user=user).order_by("pk"), ["created", "state", "finished_at", "downloaded_at"]
        ),
        "erasure_requests": privacy.rows(
            ErasureRequest.objects.filter(user=user).order_by("pk"), ["created", "reason", "state"]
        ),
        "legal_holds": privacy.rows(
            LegalHold.objects.filter(user=user).order_by("pk"), ["category", "reason", "ends_at", "lifted_at"]
        ),
        "inactivity_notices": privacy.rows(
            InactivityNotice.objects.filter(user=user).order_by("pk"), ["sent_at", "state", "erasure_due_at"]
        ),
    }


def erase_staff_references(ctx: privacy.StepContext) -> dict:
    """A staff member's name on holds they placed or lifted and requests they filed."""
    from consent.models import ErasureRequest, LegalHold

    changed = LegalHold.objects.filter(placed_by_id=ctx.user_ref).update(placed_by=None)
    changed += LegalHold.objects.filter(lifted_by_id=ctx.user_ref).update(lifted_by=None)
    changed += ErasureRequest.objects.filter(requested_by_id=ctx.user_ref).update(requested_by=None)
    return {"pseudonymised": changed}


def erase_request_links(ctx: privacy.StepContext) -> dict:
    """Earlier requests of the member (the running one keeps its contact until the last email)."""
    from consent.models import ErasureRequest

    changed = (
        ErasureRequest.objects.filter(user_ref=ctx.user_ref)
        .exclude(pk=ctx.request.pk)
        .update(user=None, notify_email="", notify_language="")
    )
    return {"pseudonymised": changed}


D, P = privacy.DELETE, privacy.PSEUDONYMISE
privacy.plan_register(
    privacy.Plan(
        name="privacy",
        title=_("Your privacy requests"),
        page_order=900,
        order=500,
        models=(
            "consent.ExportRequest",
            "consent.ErasureRequest",
            "consent.ErasureStep",
            "consent.LegalHold",
            "consent.InactivityNotice",
        ),
        export=export,
        steps=(
            privacy.Step("data_exports", privacy.delete("consent.ExportRequest"), D),
            privacy.Step("inactivity_notices", privacy.delete("consent.InactivityNotice"), D),
            privacy.Step("staff_references", erase_staff_references, P),
            privacy.Step("erasure_requests", erase_request_links, P),
            privacy.Step(
                "legal_holds",
                privacy.pseudonymise("consent.LegalHold", set_fields={"user": None}),
                P,
                final=True,
                description="holds stay as a record, without the link to the person",
            ),
        ),
        labels={
            "data_exports": _("Data exports"),
            "erasure_requests": _("Deletion requests"),
            "legal_holds": _("Legal holds"),
            "inactivity_notices": _("Inactivity notices"),
        },
    )
)
