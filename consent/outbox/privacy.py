"""The outbox's privacy plan: events about a member sent (or waiting to be sent) to subscribers.

Erasure first tells every subscribed system (``member.erased``, with the member's ``sub``) so
that marketing and CRM systems forget the member too; then it drops the events' link to the
account. The events themselves carry only the pseudonymous ``sub`` and the consent states, and
stay until delivered and purged after ``CONSENT_WEBHOOKS_RETENTION_DAYS``: deleting an undelivered
withdrawal would leave a subscriber believing the member still agrees.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.privacy import registry as privacy

ERASED_KIND = "member.erased"


def export(user) -> dict:
    from consent.outbox.selectors import outbox_events_for_user

    return {
        "events_sent_to_partner_systems": [
            {"kind": e.kind, "created": e.created.isoformat(), "data": e.payload} for e in outbox_events_for_user(user)
        ]
    }


def tell_subscribers(ctx: privacy.StepContext) -> dict:
    from consent.outbox.services import outbox_event_add

    if ctx.user is None:
        return {"sent": 0}
    outbox_event_add(kind=ERASED_KIND, payload={"erased_at": ctx.now.isoformat()}, user=ctx.user, now=ctx.now)
    return {"sent": 1}


privacy.plan_register(
    privacy.Plan(
        name="outbox",
        title=_("Updates sent to our partner systems"),
        page_order=850,
        order=450,
        models=("consent.OutboxEvent", "consent.WebhookDelivery", "consent.WebhookAttempt"),
        export=export,
        steps=(
            privacy.Step("tell_subscribers", tell_subscribers, privacy.PSEUDONYMISE),
            privacy.Step(
                "events",
                privacy.pseudonymise("consent.OutboxEvent", set_fields={"user": None}),
                privacy.PSEUDONYMISE,
                description="events keep the pseudonymous sub until delivered and purged",
            ),
        ),
    )
)
