"""Configuration as versioned JSON: export on staging, review the diff, import on production.

Each app contributes the sections it owns by registering them in its ``AppConfig.ready``,
like the claims registry::

    from idp.config_io import register_section

    register_section(ProgramsSection())

:func:`config_export` writes every section (natural keys only, never database ids or secrets);
:func:`config_import` validates the whole file, then applies it in one transaction (or, for a dry
run, applies it and rolls back) and returns the plan. See docs/config.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from idp.api import DomainError
from idp.config_io.base import CREATE, DELETE, UNCHANGED, UPDATE, Change, ConfigError, Context, Section

FORMAT = "ciam-config"
VERSION = 1
HEADER_KEYS = ("format", "version", "exported_at", "source")

_sections: dict[str, Section] = {}


def register_section(section: Section) -> Section:
    """Add (or replace, by name) a section; called from an app's ``ready()``."""
    _sections[section.name] = section
    return section


def sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.name))


def section_names() -> list[str]:
    return [s.name for s in sections()]


def source() -> str:
    return getattr(settings, "IDP_ISSUER", "") or getattr(settings, "IDP_PUBLIC_URL", "")


def config_export(*, only: Iterable[str] | None = None) -> dict:
    """The configuration as one JSON-ready dict; ``only`` limits it to some sections."""
    wanted = set(only) if only else None
    unknown = (wanted or set()) - set(_sections)
    if unknown:
        raise ValueError(", ".join(sorted(unknown)))
    data: dict = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().replace(microsecond=0).isoformat(),
        "source": source(),
    }
    for section in sections():
        if wanted is None or section.name in wanted:
            data[section.name] = section.export()
    return data


def dumps(data: dict) -> str:
    """Deterministic, pretty JSON: sorted keys, two-space indent, UTF-8 text, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass
class ImportResult:
    changes: list[Change] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    applied: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0, DELETE: 0}
        for change in self.changes:
            counts[change.action] = counts.get(change.action, 0) + 1
        return counts

    def plan_lines(self, *, verbose: bool = False) -> list[str]:
        """The plan as text: one line per object (unchanged ones only with ``verbose``), then the
        field-level differences of each update."""
        lines = []
        for change in self.changes:
            if change.action == UNCHANGED and not verbose:
                continue
            line = f"{change.action:<9} {change.section} {change.key}"
            if change.note:
                line += f"  ({change.note})"
            lines.append(line)
            for name, (old, new) in sorted(change.diff.items()):
                lines.append(f"            {name}: {_short(old)} -> {_short(new)}")
        counts = self.counts()
        lines.append(
            _("%(create)d to create, %(update)d to update, %(delete)d to delete, %(unchanged)d unchanged.") % counts
        )
        return lines


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def parse(text: str | bytes) -> dict:
    """The file's JSON (UTF-8), or a :class:`ConfigError` at ``$``."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError("$", _("Not valid JSON: %(error)s") % {"error": exc}) from exc
    return data


def _check_header(data, ctx: Context) -> bool:
    if not isinstance(data, dict):
        ctx.error("$", _("Expected a JSON object."))
        return False
    if data.get("format") != FORMAT:
        ctx.error("$.format", _("Expected “%(format)s”.") % {"format": FORMAT})
    if data.get("version") != VERSION:
        ctx.error(
            "$.version",
            _("Version %(found)s is not supported; this installation reads version %(version)d.")
            % {"found": json.dumps(data.get("version")), "version": VERSION},
        )
    for key in sorted(set(data) - set(HEADER_KEYS) - set(_sections)):
        ctx.error(f"$.{key}", _("Unknown section. Known sections: %(names)s.") % {"names": ", ".join(section_names())})
    return not ctx.errors


def config_import(
    data: dict, *, dry_run: bool = False, prune: bool = False, actor=None, raw: bytes = b""
) -> ImportResult:
    """Validate ``data`` and apply it in one transaction: all of it, or nothing.

    With ``dry_run`` everything is applied and then rolled back, so the plan is exactly what a
    real run would do. Sections missing from the file are left alone; nothing is deleted unless
    ``prune`` is given (and then only within the sections the file has).
    """
    ctx = Context(data=data, prune=prune, dry_run=dry_run, actor=actor)
    result = ImportResult(dry_run=dry_run)
    if _check_header(data, ctx):
        present = [s for s in sections() if s.name in data]
        for section in present:
            section.validate(data[section.name], ctx, f"$.{section.name}")
        if not ctx.errors:
            _apply(present, ctx, raw=raw)
    result.changes, result.errors, result.notes = ctx.changes, ctx.errors, ctx.notes
    if result.ok and not dry_run:
        result.secrets = ctx.secrets
        result.applied = True
    return result


class _Rollback(Exception):
    pass


def _apply(present: list[Section], ctx: Context, *, raw: bytes) -> None:
    try:
        with transaction.atomic():
            for section in present:
                try:
                    section.apply(ctx.data[section.name], ctx, f"$.{section.name}")
                except DomainError as exc:  # a service refused: report it, roll everything back
                    ctx.error(f"$.{section.name}", f"{exc.title} {exc.detail or ''}".strip())
            if ctx.prune:
                for section in reversed(present):
                    section.prune(ctx.data[section.name], ctx, f"$.{section.name}")
            if ctx.errors or ctx.dry_run:
                raise _Rollback
            counts = {}
            for change in ctx.changes:
                counts[change.action] = counts.get(change.action, 0) + 1
            from idp.services import audit_record

            audit_record(
                kind="config.imported",
                user=ctx.actor,
                data={
                    "source": ctx.data.get("source", ""),
                    "exported_at": ctx.data.get("exported_at", ""),
                    "sections": [s.name for s in present],
                    "prune": ctx.prune,
                    "counts": counts,
                    "sha256": hashlib.sha256(raw).hexdigest() if raw else "",
                    "changed": [f"{c.action} {c.section} {c.key}" for c in ctx.changes if c.action != UNCHANGED][:500],
                },
            )
    except _Rollback:
        pass
    except DatabaseError as exc:  # a constraint the checks above did not foresee: nothing was written
        ctx.error("$", _("The database refused the import: %(error)s") % {"error": exc})
