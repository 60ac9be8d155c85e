"""Writes of the dashboard: the daily rollup."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from idp.dashboard import metrics
from idp.models import DailyMetric


@transaction.atomic
def metrics_rollup_day(*, day: date) -> int:
    """Compute every metric of ``day`` and replace that day's rows (idempotent); returns the count.

    The figures are computed before the day's rows are locked and replaced, so readers see either
    the old set or the new one, never a mix.
    """
    rows = metrics.compute_day(day)
    now = timezone.now()
    DailyMetric.objects.filter(day=day).delete()
    DailyMetric.objects.bulk_create(
        [DailyMetric(day=day, metric=m, dimension=d, value=v, computed_at=now) for m, d, v in rows]
    )
    return len(rows)


def metrics_rollup(*, days: int = 1, until: date | None = None) -> list[date]:
    """Roll up the ``days`` days ending with ``until`` (default: yesterday), oldest first.

    One transaction per day: a long backfill keeps what it has done if it is stopped.
    """
    last = until or metrics.today() - timedelta(days=1)
    done = []
    for offset in range(days - 1, -1, -1):
        day = last - timedelta(days=offset)
        metrics_rollup_day(day=day)
        done.append(day)
    return done
