"""``manage.py config_export [--only clients,programs] [-o config.json]``: see docs/config.md."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from idp import config_io


class Command(BaseCommand):
    help = (
        "Export the configuration (clients, scopes, profile attributes, legal documents, purposes, programs) as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", default="", help="Comma-separated sections: " + ", ".join(config_io.section_names())
        )
        parser.add_argument("-o", "--output", default="-", help="File to write (default: standard output).")

    def handle(self, *args, only: str, output: str, **options):
        wanted = [name.strip() for name in only.split(",") if name.strip()]
        unknown = sorted(set(wanted) - set(config_io.section_names()))
        if unknown:
            raise CommandError(
                f"Unknown section(s): {', '.join(unknown)}. Known: {', '.join(config_io.section_names())}."
            )
        text = config_io.dumps(config_io.config_export(only=wanted or None))
        if output == "-":
            self.stdout.write(text, ending="")
        else:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Cannot write {output}: {exc.strerror}") from exc
            self.stderr.write(f"Wrote {output}.")
