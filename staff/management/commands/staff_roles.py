from __future__ import annotations

from django.core.management.base import BaseCommand

from staff import services


class Command(BaseCommand):
    help = "Create the staff role groups and set each one's permissions exactly (staff/roles.py). Idempotent."

    def handle(self, *args, **options):
        for role, count in services.roles_sync().items():
            self.stdout.write(f"{role}: {count} permissions")
