from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from staff import selectors, services
from staff.models import AuditEntry


def _moment(value: str) -> datetime.datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"not a date or ISO 8601 time: {value!r}")
        moment = datetime.datetime.combine(day, datetime.time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return moment


class Command(BaseCommand):
    help = (
        "Write the staff audit log as JSON Lines (one object per line, oldest first) to stdout, for a SIEM. "
        "--since is inclusive, --until exclusive. The export itself is recorded in the log."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO 8601 date or time (inclusive)")
        parser.add_argument("--until", help="ISO 8601 date or time (exclusive)")

    def handle(self, *args, since=None, until=None, **options):
        queryset = AuditEntry.objects.all()
        filters = {"channel": "command"}
        if since:
            queryset = queryset.filter(created__gte=_moment(since))
            filters["since"] = _moment(since).isoformat()
        if until:
            queryset = queryset.filter(created__lt=_moment(until))
            filters["until"] = _moment(until).isoformat()
        high_water = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        queryset = queryset.filter(id__lte=high_water)  # a stable snapshot: not this export's own entry
        for line in selectors.audit_jsonl(queryset):
            self.stdout.write(line, ending="")
        services.audit_write(request=None, action=AuditEntry.Action.EXPORT, target=AuditEntry, details=filters)
