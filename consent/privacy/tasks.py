"""Celery tasks of the privacy part: load by id, call a service; retries live here.

Jobs are safe to run twice or concurrently (see ``services``); a job a worker dies in is picked
up again by ``resume_jobs`` on beat, not by broker redelivery.
"""

from __future__ import annotations

import logging

from celery import shared_task

from consent.privacy import services
from consent.privacy.app_settings import privacy_settings

logger = logging.getLogger(__name__)


def _countdown(retries: int) -> int:
    return min(privacy_settings.JOB_RETRY_DELAY * 2**retries, 3600)


@shared_task(bind=True, name="consent.privacy.export_build", max_retries=None)
def export_build(self, export_id: int):
    try:
        services.export_build(export_id=export_id)
    except Exception as error:
        if self.request.retries < privacy_settings.JOB_MAX_RETRIES and not self.request.is_eager:
            raise self.retry(exc=error, countdown=_countdown(self.request.retries)) from error
        logger.exception("data export %s failed", export_id)
        services.export_failed(export_id=export_id, error=error)


@shared_task(bind=True, name="consent.privacy.erasure_run", max_retries=None)
def erasure_run(self, request_id: int):
    try:
        erasure = services.erasure_run(request_id=request_id)
    except services.ErasureIncomplete as error:
        if self.request.retries < privacy_settings.JOB_MAX_RETRIES and not self.request.is_eager:
            raise self.retry(exc=error, countdown=_countdown(self.request.retries)) from error
        logger.warning("erasure request %s failed: %s (left for staff to retry)", request_id, error)
        return "failed"
    return erasure.state if erasure is not None else "skipped"


@shared_task(name="consent.privacy.resume_jobs")
def resume_jobs():
    return services.privacy_jobs_resume()


@shared_task(name="consent.privacy.inactive_accounts_sweep")
def inactive_accounts_sweep():
    return services.inactive_accounts_sweep()


@shared_task(bind=True, name="consent.privacy.inactivity_notice_send", max_retries=5)
def inactivity_notice_send(self, notice_id: int):
    try:
        services.inactivity_notice_send(notice_id=notice_id)
    except Exception as error:
        if self.request.is_eager:
            raise
        raise self.retry(exc=error, countdown=_countdown(self.request.retries)) from error
