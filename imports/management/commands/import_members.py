"""``manage.py import_members FILE``: members from an earlier system (docs/import.md).

Resumable: run the same command again after an interruption and it continues after the last
committed batch (the run is found by the file's SHA-256). Idempotent: rows already imported (by
legacy id) are skipped, so running a finished file again changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from imports import services


class Command(BaseCommand):
    help = "Import members (CSV or JSON Lines) from an earlier system, with their password hashes as they are."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", default="legacy", help="Name of the earlier system (default: legacy).")
        parser.add_argument("--format", choices=["csv", "jsonl"], help="Default: from the file name (.csv or not).")
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--errors", type=Path, help="Bad rows go here too (default: FILE.errors.csv).")
        parser.add_argument("--stop-after", type=int, help="Stop after this many rows (resume later).")
        parser.add_argument("--restart", action="store_true", help="Ignore the checkpoint of an interrupted run.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, file: Path, **opts):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        options = services.Options(
            source=opts["source"][:64],
            fmt=opts["format"],
            batch_size=opts["batch_size"],
            stop_after=opts["stop_after"],
            restart=opts["restart"],
        )
        errors_path = opts["errors"] or file.with_name(file.name + ".errors.csv")
        bar = None
        if not opts["no_progress"]:
            from tqdm import tqdm

            resumed = services.resumable_run(options=options, sha256=services.file_sha256(file))
            start = resumed.last_line if resumed else 0
            bar = tqdm(
                total=max(services.count_lines(file) - (1 if file.suffix.lower() == ".csv" else 0), 0),
                initial=max(start - (1 if file.suffix.lower() == ".csv" and start else 0), 0),
                unit=" rows",
                unit_scale=True,
                smoothing=0.1,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        with errors_path.open("a", encoding="utf-8") as errors_file:
            tee = _Tee(errors_file, self.stderr)
            try:
                run = services.import_members(
                    file, options=options, errors_out=tee, progress=bar.update if bar else None
                )
            finally:
                if bar is not None:
                    bar.close()
        state = "finished" if run.status == run.Status.DONE else f"stopped after line {run.last_line}"
        self.stdout.write(
            f"Run {run.pk} {state}: {run.rows} rows, {run.imported} imported, {run.unchanged} already imported, "
            f"{run.changed} already imported but changed since, {run.failed} bad rows"
            + (f" (listed in {errors_path})" if run.failed else "")
            + "."
        )


class _Tee:
    """Bad rows to the errors file and to stderr."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> None:
        for s in self.streams:
            s.write(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()
