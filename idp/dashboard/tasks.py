from __future__ import annotations

from celery import shared_task

from idp.dashboard import services


@shared_task(name="idp.dashboard.metrics_rollup")
def metrics_rollup(days: int = 2) -> list[str]:
    """Beat, after midnight: yesterday, and the day before again (late writes, a missed run)."""
    return [d.isoformat() for d in services.metrics_rollup(days=days)]
