"""Fill the staff dashboard's daily rollup: ``manage.py metrics_rollup --days 90`` (backfill).

Each day is recomputed and replaced in its own transaction, so running it again is harmless.
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from idp.dashboard import services


class Command(BaseCommand):
    help = "Compute the dashboard's daily figures for the last N days (default 1: yesterday)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=1, help="How many days, ending with --until.")
        parser.add_argument(
            "--until", type=date.fromisoformat, default=None, help="Last day (YYYY-MM-DD); default yesterday."
        )

    def handle(self, *args, days: int, until: date | None, **options):
        if days < 1 or days > 3660:
            raise CommandError("--days must be between 1 and 3660.")
        done = services.metrics_rollup(days=days, until=until)
        self.stdout.write(f"Rolled up {len(done)} day(s): {done[0]} to {done[-1]}.")
