"""Celery jobs of the loyalty app (beat entries in ``idp/settings.py``). Each is safe to run twice,
or side by side: every membership is handled in its own short transaction under its row lock,
and a second run finds nothing left to do."""

from __future__ import annotations

from celery import shared_task

from loyalty import services


@shared_task(name="loyalty.tasks.expire_points", acks_late=True)
def expire_points() -> int:
    """Expire the points that are due, oldest first (the program's rule, e.g. 24 months)."""
    return services.points_expire_due()


@shared_task(name="loyalty.tasks.recompute_tiers", acks_late=True)
def recompute_tiers() -> int:
    """Nightly: tiers from the points earned in each program's window; changes are recorded."""
    return services.tiers_recompute_all()


@shared_task(name="loyalty.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    return services.idempotency_records_purge()
