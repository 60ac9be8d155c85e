"""Celery tasks of the outbox: load by id, call a service; retries are scheduled here.

Retries are not Celery's ``self.retry``: the delivery row holds the attempt count and the next
attempt time, so a retry whose message is lost (broker down, worker gone) is still found by the
sweeper. In-process (the embedded set-up, ``task_always_eager``) a failed attempt is not retried
inline, which would hold the request for the whole backoff; the sweeper or staff's "deliver again"
retries it.
"""

from __future__ import annotations

import logging

from celery import shared_task

from consent.outbox import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="consent.outbox.deliver", ignore_result=True)
def deliver(self, delivery_id: int) -> str:
    """One attempt of one delivery (an event to one subscription)."""
    delivery = services.webhook_delivery_claim(delivery_id=delivery_id)
    if delivery is None:
        return "skipped"
    try:
        outcome = services.webhook_delivery_send(delivery=delivery)
    except Exception as error:  # a bug or an unreadable secret must not leave it in flight
        logger.exception("webhook delivery %s: attempt %s broke", delivery_id, delivery.attempts)
        outcome = services.Outcome(error=f"internal error: {type(error).__name__}")
    retry_in = services.webhook_delivery_record(delivery=delivery, outcome=outcome)
    if outcome.succeeded:
        return "delivered"
    if retry_in is None:
        logger.warning(
            "webhook delivery %s: attempt %s failed (%s), no retry scheduled",
            delivery_id,
            delivery.attempts,
            outcome.error or outcome.status_code,
        )
        return "failed"
    logger.info(
        "webhook delivery %s attempt %s failed (%s); retry in %.1fs",
        delivery_id,
        delivery.attempts,
        outcome.error or outcome.status_code,
        retry_in,
    )
    if not self.request.is_eager:
        services.delivery_publish(delivery_id, countdown=retry_in)
    return "retry"


@shared_task(name="consent.outbox.sweep", ignore_result=True)
def sweep() -> int:
    """Beat: publish again what the broker never got, or lost; drop finished events past retention."""
    published = services.outbox_sweep()
    services.outbox_purge()
    return published
