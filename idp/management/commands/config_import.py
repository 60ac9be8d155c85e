"""``manage.py config_import config.json [--dry-run] [--prune] [--verbose-plan]``: see docs/config.md.

Exit status 0 when the file was applied (or, for a dry run, would apply); 1 with the errors, each
with the JSON path of the bad value, when it was refused; nothing is written then.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from idp import config_io
from idp.config_io.base import ConfigError


class Command(BaseCommand):
    help = "Import a configuration file: validate, show the plan, apply it in one transaction."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The JSON file, or - for standard input.")
        parser.add_argument("--dry-run", action="store_true", help="Show the plan; change nothing.")
        parser.add_argument("--prune", action="store_true", help="Delete what the file's sections do not list.")
        parser.add_argument("--all", action="store_true", dest="show_all", help="List unchanged objects too.")

    def handle(self, *args, file: str, dry_run: bool, prune: bool, show_all: bool, **options):
        try:
            raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        try:
            data = config_io.parse(raw)
        except ConfigError as exc:
            raise CommandError(f"{exc.path}: {exc.message}") from exc
        result = config_io.config_import(data, dry_run=dry_run, prune=prune, raw=raw)
        if not result.ok:
            for error in result.errors:
                self.stderr.write(f"{error.path}: {error.message}")
            raise CommandError(f"{len(result.errors)} error(s); nothing was changed.")
        for line in result.plan_lines(verbose=show_all):
            self.stdout.write(line)
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
            return
        for client_id, secret in sorted(result.secrets.items()):
            self.stdout.write(f"New client secret for {client_id} (shown once): {secret}")
        self.stdout.write("Applied.")
