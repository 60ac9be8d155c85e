"""The pieces every configuration section is made of: the import context, the plan's changes,
errors with the JSON path of the bad value, and a small schema checker for the file's objects.

A section (clients, profile attributes, legal documents, ...) is a :class:`Section` subclass
registered by the app that owns the data (see :mod:`idp.config_io`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CREATE, UPDATE, UNCHANGED, DELETE = "create", "update", "unchanged", "delete"


class ConfigError(Exception):
    """A bad value in the file (or a change the installation refuses), with its JSON path."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = str(message)


@dataclass
class Change:
    section: str
    key: str
    action: str
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "section": self.section,
            "key": self.key,
            "action": self.action,
            "diff": {k: {"old": old, "new": new} for k, (old, new) in sorted(self.diff.items())},
            "note": self.note,
        }


@dataclass
class Context:
    """What one import knows: the whole file, the options, and what it found and did."""

    data: dict
    prune: bool = False
    dry_run: bool = False
    actor: Any = None
    errors: list[ConfigError] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)

    def error(self, path: str, message: str) -> None:
        self.errors.append(ConfigError(path, message))

    def record(self, section: str, key: str, action: str, diff: dict | None = None, note: str = "") -> Change:
        change = Change(section=section, key=key, action=action, diff=diff or {}, note=note)
        self.changes.append(change)
        return change

    def validation_error(self, path: str, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
        """A model's ``full_clean`` error, reported per field under ``path`` (``rename``: model
        field name to the file's name, where they differ)."""
        if hasattr(exc, "error_dict"):
            for name, errors in sorted(exc.error_dict.items()):
                name = (rename or {}).get(name, name)
                where = path if name == "__all__" else f"{path}.{name}"
                for error in errors:
                    self.error(where, " ".join(error.messages))
        else:
            self.error(path, " ".join(exc.messages))

    # --- references between sections ---------------------------------------------------------

    def client_ids(self) -> set[str]:
        """Client IDs that exist once this file is applied: those of the file's ``clients``
        section, and, unless ``--prune`` removes them, the installation's other clients."""
        from idp.models import Client

        in_file = set()
        section = self.data.get("clients")
        if isinstance(section, list):
            in_file = {c["client_id"] for c in section if isinstance(c, dict) and isinstance(c.get("client_id"), str)}
        if isinstance(section, list) and self.prune:
            return in_file
        return in_file | set(Client.objects.values_list("client_id", flat=True))


class Section:
    """One kind of configuration. Subclasses set ``name`` (the top-level key) and ``order``
    (applied in ascending order, pruned in descending order) and implement the four methods."""

    name: str = ""
    order: int = 100
    #: Read-only sections (``scopes``) are exported for review; importing only compares them.
    read_only: bool = False

    def export(self) -> Any:
        raise NotImplementedError

    def validate(self, value: Any, ctx: Context, path: str) -> None:
        """Check the shape of the section and its references; no writes."""
        raise NotImplementedError

    def apply(self, value: Any, ctx: Context, path: str) -> None:
        """Create or update what the file says; record every object in ``ctx``."""
        raise NotImplementedError

    def prune(self, value: Any, ctx: Context, path: str) -> None:
        """Delete what the file does not have (only with ``--prune``)."""


# --- a small schema checker ------------------------------------------------------------------

_MISSING = object()


@dataclass(frozen=True)
class F:
    """A field of an object in the file: its type and, when optional, its default."""

    type: str  # str, bool, int, decimal, str_list, list, dict
    default: Any = _MISSING
    null: bool = False
    choices: tuple | None = None
    pattern: str | None = None


def _type_ok(spec: F, value: Any) -> bool:
    if value is None:
        return spec.null
    match spec.type:
        case "str":
            return isinstance(value, str)
        case "bool":
            return isinstance(value, bool)
        case "int":
            return isinstance(value, int) and not isinstance(value, bool) and value >= 0
        case "decimal":
            if isinstance(value, bool):
                return False
            if isinstance(value, int | float | str):
                try:
                    return Decimal(str(value)).is_finite()
                except InvalidOperation:
                    return False
            return False
        case "str_list":
            return isinstance(value, list) and all(isinstance(v, str) for v in value)
        case "list":
            return isinstance(value, list)
        case "dict":
            return isinstance(value, dict)
    raise ValueError(spec.type)


_TYPE_NAMES = {
    "str": "a string",
    "bool": "true or false",
    "int": "a whole number of at least 0",
    "decimal": "a number",
    "str_list": "a list of strings",
    "list": "a list",
    "dict": "an object",
}


def check_object(value: Any, path: str, spec: dict[str, F], ctx: Context) -> dict | None:
    """The object at ``path`` with defaults filled in, or ``None`` (errors recorded) when it
    is not an object, has unknown or missing keys, or a value of the wrong type."""
    if not isinstance(value, dict):
        ctx.error(path, _("Expected an object."))
        return None
    ok = True
    for key in sorted(set(value) - set(spec)):
        ctx.error(f"{path}.{key}", _("Unknown field."))
        ok = False
    cleaned = {}
    for key, field_spec in spec.items():
        if key not in value:
            if field_spec.default is _MISSING:
                ctx.error(f"{path}.{key}", _("This field is required."))
                ok = False
            else:
                cleaned[key] = field_spec.default
            continue
        item = value[key]
        if not _type_ok(field_spec, item):
            ctx.error(f"{path}.{key}", _("Expected %(type)s.") % {"type": _TYPE_NAMES[field_spec.type]})
            ok = False
            continue
        if field_spec.choices is not None and item not in field_spec.choices:
            ctx.error(
                f"{path}.{key}",
                _("Use one of: %(choices)s.") % {"choices": ", ".join(repr(c) for c in field_spec.choices)},
            )
            ok = False
            continue
        if field_spec.pattern is not None and isinstance(item, str) and not re.fullmatch(field_spec.pattern, item):
            ctx.error(f"{path}.{key}", _("This value has the wrong form."))
            ok = False
            continue
        cleaned[key] = item
    return cleaned if ok else None


def check_list(value: Any, path: str, ctx: Context) -> list:
    if not isinstance(value, list):
        ctx.error(path, _("Expected a list."))
        return []
    return value


def unique_keys(items: list, path: str, key: str, ctx: Context) -> None:
    """Each natural key once in a list."""
    seen: set = set()
    for i, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get(key), str | int):
            if item[key] in seen:
                ctx.error(f"{path}[{i}].{key}", _("“%(key)s” appears twice.") % {"key": item[key]})
            seen.add(item[key])


def decimal_text(value: Any) -> str | None:
    """A decimal as its shortest exact text (``"1.5"``), the same on SQLite and PostgreSQL."""
    if value is None:
        return None
    d = Decimal(str(value))
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


def assign(instance, values: dict, normalize=None) -> dict[str, tuple[Any, Any]]:
    """Set ``values`` on ``instance``; return ``{field: (old, new)}`` of the fields that changed."""
    diff = {}
    for name, new in values.items():
        old = getattr(instance, name)
        if normalize is not None:
            old_cmp, new_cmp = normalize(name, old), normalize(name, new)
        else:
            old_cmp, new_cmp = old, new
        if old_cmp != new_cmp:
            diff[name] = (old_cmp, new_cmp)
            setattr(instance, name, new)
    return diff
