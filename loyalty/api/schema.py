"""A small JSON Schema (2020-12 subset) validator for request bodies and the OpenAPI examples.

The API validates every request body against the schema published in the OpenAPI document,
so the document and the behaviour cannot drift apart. Supported keywords: ``type`` (one or a
list), ``properties``, ``required``, ``additionalProperties: false``, ``minimum``, ``maximum``,
``minLength``, ``maxLength``, ``pattern``, ``enum``, ``format`` (``uuid``, ``date-time``),
``items`` and local ``$ref``. Errors carry a JSON pointer (RFC 6901) to the offending member.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from django.utils.translation import gettext as _

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}

_TYPE_NAMES = {
    "object": "a JSON object",
    "array": "an array",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported: {ref}")
        node = root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema


def validate(value, schema: dict, *, root: dict | None = None, pointer: str = "") -> list[dict]:
    """Problems of ``value`` against ``schema``: ``[{"pointer": "/points", "detail": "…"}]``."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_TYPES[t](value) for t in names):
            wanted = " or ".join(_(_TYPE_NAMES[t]) for t in names)
            return [{"pointer": pointer or "/", "detail": _("Must be %(type)s.") % {"type": wanted}}]
    errors: list[dict] = []
    at = pointer or "/"
    if "enum" in schema and value not in schema["enum"]:
        errors.append({"pointer": at, "detail": _("Must be one of: %(values)s.") % {"values": schema["enum"]}})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append({"pointer": at, "detail": _("Must be at least %(min)s.") % {"min": schema["minimum"]}})
        if "maximum" in schema and value > schema["maximum"]:
            errors.append({"pointer": at, "detail": _("Must be at most %(max)s.") % {"max": schema["maximum"]}})
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(
                {"pointer": at, "detail": _("Must be at least %(n)s characters.") % {"n": schema["minLength"]}}
            )
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(
                {"pointer": at, "detail": _("Must be at most %(n)s characters.") % {"n": schema["maxLength"]}}
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append({"pointer": at, "detail": _("Has the wrong format.")})
        fmt = schema.get("format")
        if fmt == "uuid" and not _is_uuid(value):
            errors.append({"pointer": at, "detail": _("Must be a UUID.")})
        if fmt == "date-time" and not _is_datetime(value):
            errors.append({"pointer": at, "detail": _("Must be a date and time (RFC 3339).")})
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append({"pointer": f"{pointer}/{_escape(name)}", "detail": _("This field is required.")})
        for name, item in value.items():
            if name in properties:
                errors.extend(validate(item, properties[name], root=root, pointer=f"{pointer}/{_escape(name)}"))
            elif schema.get("additionalProperties") is False:
                errors.append({"pointer": f"{pointer}/{_escape(name)}", "detail": _("Unknown field.")})
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors.extend(validate(item, schema["items"], root=root, pointer=f"{pointer}/{i}"))
    return errors


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value
