"""Celery task of phone verification: load by id, send; retries live here."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from accounts.models import PhoneVerification
from accounts.phone import services
from accounts.phone.sms import SMSError

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="accounts.phone.send_phone_code", max_retries=3)
def send_phone_code(self, verification_id: int, code: str, language: str = "") -> str:
    """Send one code by SMS. The code travels in the task message only (the database keeps its hash)."""
    verification = PhoneVerification.objects.filter(
        pk=verification_id, verified_at__isnull=True, expires_at__gt=timezone.now()
    ).first()
    if verification is None:
        return "skipped"
    try:
        services.phone_code_send(verification=verification, code=code, language=language)
    except SMSError as error:
        if error.retryable and self.request.retries < self.max_retries and not self.request.is_eager:
            raise self.retry(exc=error, countdown=5 * 2**self.request.retries) from error
        logger.warning("SMS to verification %s not sent: %s", verification_id, error)
        return "failed"
    return "sent"
