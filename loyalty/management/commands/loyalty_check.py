"""``manage.py loyalty_check``: prove the points ledger adds up (staff runbook, and the tests).

For every membership: balance ≥ 0, balance = sum of its entries = points left in its lots, and
each entry's ``balance_after`` = the previous one + its points. Exits with status 1 and lists
the memberships when anything disagrees.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from loyalty.models import LedgerEntry, Membership
from loyalty.selectors import ledger_problems


class Command(BaseCommand):
    help = "Check that every loyalty balance equals the sum of its ledger entries."

    def add_arguments(self, parser):
        parser.add_argument("--member", action="append", default=[], help="Only this member number (repeatable).")

    def handle(self, *args, member: list[str], verbosity: int = 1, **options):
        ids = None
        if member:
            ids = list(Membership.objects.filter(member_number__in=member).values_list("pk", flat=True))
        problems = ledger_problems(membership_ids=ids)
        for p in problems:
            self.stderr.write(f"{p.member_number} (membership {p.membership_id}): {p.problem}")
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s) found.")
        memberships = len(ids) if ids is not None else Membership.objects.count()
        entries = (
            LedgerEntry.objects.filter(membership_id__in=ids).count()
            if ids is not None
            else LedgerEntry.objects.count()
        )
        self.stdout.write(self.style.SUCCESS(f"Ledger consistent: {memberships} memberships, {entries} entries."))
