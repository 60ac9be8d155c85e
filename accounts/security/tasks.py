"""Celery tasks of account protection: load by id, call a service; retries live here."""

from __future__ import annotations

import logging
import random
from smtplib import SMTPException

from celery import shared_task

from accounts.models import SecurityEvent
from accounts.security import services
from accounts.security.app_settings import security_settings
from accounts.security.backchannel import DeliveryError

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="accounts.security.deliver_logout_token", max_retries=None)
def deliver_logout_token(self, client_pk: int, sub: str, sid: str, issuer: str):
    """OIDC Back-Channel Logout 1.0 §2.5: tell one RP, retrying with exponential backoff.

    Each attempt signs a fresh token (new ``jti``, ``iat``), so a late retry is not refused as
    expired. Network errors, 5xx, 408 and 429 are retried ``ACCOUNTS_BACKCHANNEL_MAX_RETRIES``
    times; any other answer, or the last failure, is logged and dropped.
    """
    from oauth2_provider.models import get_application_model

    client = get_application_model().objects.filter(pk=client_pk).first()
    if client is None or not client.backchannel_logout_uri:
        return "skipped"
    try:
        services.backchannel_logout_deliver(client=client, sub=sub, sid=sid, issuer=issuer)
    except DeliveryError as error:
        retries = self.request.retries
        if error.retryable and retries < security_settings.BACKCHANNEL_MAX_RETRIES:
            delay = min(security_settings.BACKCHANNEL_RETRY_DELAY * 2**retries, 600)
            countdown = delay + random.uniform(0, delay / 4)  # noqa: S311 - jitter, not a secret
            logger.info("back-channel logout to %s failed (%s); retry in %.0fs", client.client_id, error, countdown)
            if self.request.is_eager:
                # In-process (embedded set-up): Celery runs the retry at once when the task
                # returns it; raised, it would reach the caller (CELERY_TASK_EAGER_PROPAGATES).
                return self.retry(exc=error, countdown=countdown, throw=False)
            raise self.retry(exc=error, countdown=countdown) from error
        logger.warning("back-channel logout to %s given up after %d retries: %s", client.client_id, retries, error)
        return "failed"
    return "delivered"


@shared_task(
    name="accounts.security.send_new_sign_in_email",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def send_new_sign_in_email(event_id: int) -> None:
    event = SecurityEvent.objects.select_related("user").filter(pk=event_id, kind=SecurityEvent.Kind.NEW_DEVICE).first()
    if event is None:
        return
    services.new_sign_in_email_send(event=event)
