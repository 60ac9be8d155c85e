from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


@shared_task(name="idp.tasks.clear_expired_tokens")
def clear_expired_tokens() -> None:
    """django-oauth-toolkit's cleartokens, on beat."""
    call_command("cleartokens")


@shared_task(name="idp.tasks.ping")
def ping(value: str) -> str:
    """Round trip through the broker; used by health checks and the process tests."""
    return value


from idp.dashboard.tasks import metrics_rollup  # noqa: E402, F401 - registers the task with Celery
