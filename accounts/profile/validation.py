"""The one place where attribute values and definitions are validated.

Used by the admin (definitions, choices, staff edits), the member's page, the progressive-profiling
question and the API, always through :func:`values_clean` (values) or :func:`definition_errors`
(definitions). Values are JSON: ``true``/``false``, a choice's ``value`` string, a string, a
number, an ISO date ``"YYYY-MM-DD"``; ``None`` removes a value.

Stored values are never rewritten when a definition changes. A value that no longer fits (a
retired or deleted choice, a number outside new bounds) stays readable and is *flagged* by
:func:`value_status`; writing it back unchanged is accepted.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from idp.api import DomainError

MISSING = object()
DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NUMBER_LIMIT = Decimal("1e15")

# value_status() answers
STATUS_RETIRED_CHOICE = "retired_choice"
STATUS_UNKNOWN_CHOICE = "unknown_choice"
STATUS_INVALID = "invalid"


class AttributeValuesInvalid(DomainError):
    """Some values do not fit their definitions: a 422 problem with the errors per attribute."""

    status = 422
    code = "invalid_attribute_values"
    title = _("Some attribute values are not valid.")

    def __init__(self, field_errors: dict[str, list[ValidationError]]):
        self.field_errors = field_errors
        errors = {
            key: [{"code": e.code or "invalid", "detail": str(e.message % (e.params or {}))} for e in errs]
            for key, errs in field_errors.items()
        }
        super().__init__(errors=errors)


def label_for(obj) -> str:
    """``label_ja`` for Japanese pages when there is one, else ``label_en`` (definitions and choices)."""
    if (translation.get_language() or "").startswith("ja") and obj.label_ja:
        return obj.label_ja
    return obj.label_en


def help_for(definition) -> str:
    if (translation.get_language() or "").startswith("ja") and definition.help_ja:
        return definition.help_ja
    return definition.help_en


def _choices(definition) -> dict:
    return {c.value: c for c in definition.choices.all()}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def value_clean(definition, value: Any) -> Any:
    """``value`` as it will be stored, or :class:`ValidationError` (message and code)."""
    if value is None:
        return None
    kind = definition.data_type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValidationError(_("Answer yes (true) or no (false)."), code="not_boolean")
        return value
    if kind == "choice":
        if not isinstance(value, str):
            raise ValidationError(_("Pick one of the offered choices."), code="invalid_choice")
        choice = _choices(definition).get(value)
        if choice is None or choice.retired:
            raise ValidationError(_("Pick one of the offered choices."), code="invalid_choice")
        return value
    if kind == "text":
        if not isinstance(value, str):
            raise ValidationError(_("Enter text."), code="not_text")
        value = value.strip()
        if not value:
            raise ValidationError(_("Enter some text (or remove the value)."), code="blank")
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            raise ValidationError(_("Remove control characters."), code="control_characters")
        if len(value) > definition.max_length:
            raise ValidationError(
                _("Use at most %(limit)d characters."), code="too_long", params={"limit": definition.max_length}
            )
        return value
    if kind == "number":
        if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
            raise ValidationError(_("Enter a number."), code="not_number")
        number = Decimal(str(value))
        if abs(number) >= NUMBER_LIMIT:
            raise ValidationError(_("Enter a smaller number."), code="out_of_range")
        if definition.min_value is not None and number < definition.min_value:
            raise ValidationError(
                _("Enter %(limit)s or more."), code="too_small", params={"limit": _plain(definition.min_value)}
            )
        if definition.max_value is not None and number > definition.max_value:
            raise ValidationError(
                _("Enter %(limit)s or less."), code="too_large", params={"limit": _plain(definition.max_value)}
            )
        return value
    if kind == "date":
        if not isinstance(value, str) or not DATE_SHAPE.match(value):
            raise ValidationError(_("Enter a date as YYYY-MM-DD."), code="not_date")
        try:
            date.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError(_("Enter a real date."), code="not_date") from exc
        return value
    raise ValidationError(_("This attribute has an unknown type."), code="unknown_type")


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


def value_from_form(definition, raw: str | None) -> Any:
    """A form's text turned into the JSON value :func:`value_clean` expects ("" removes)."""
    raw = (raw or "").strip()
    if raw == "":
        return None
    kind = definition.data_type
    if kind == "boolean":
        if raw not in ("yes", "no"):
            raise ValidationError(_("Answer yes or no."), code="not_boolean")
        return raw == "yes"
    if kind == "number":
        try:
            number = Decimal(raw.replace(",", ""))
        except InvalidOperation as exc:
            raise ValidationError(_("Enter a number."), code="not_number") from exc
        if not number.is_finite():
            raise ValidationError(_("Enter a number."), code="not_number")
        return int(number) if number == number.to_integral_value() else float(number)
    return raw


def value_status(definition, value: Any) -> str | None:
    """``None`` when a stored value fits its definition today; otherwise why it is flagged."""
    if definition is None:
        return STATUS_INVALID
    try:
        value_clean(definition, value)
    except ValidationError:
        if definition.data_type == "choice" and isinstance(value, str):
            return STATUS_RETIRED_CHOICE if value in _choices(definition) else STATUS_UNKNOWN_CHOICE
        return STATUS_INVALID
    return None


def values_clean(*, definitions: dict, changes: dict, current: dict) -> dict:
    """Validate ``changes`` ({key: value or None}) against ``definitions`` ({key: definition}).

    Returns the values to store (``None``: remove). A value equal to the stored one is kept as it
    is, even if it no longer fits (a member re-saving a page never loses a retired choice).
    Raises :class:`AttributeValuesInvalid` with every error at once.
    """
    cleaned: dict = {}
    errors: dict[str, list[ValidationError]] = {}
    for key, value in changes.items():
        definition = definitions.get(key)
        if definition is None:
            errors[key] = [ValidationError(_("There is no such attribute."), code="unknown_attribute")]
            continue
        stored = current.get(key, MISSING)
        if stored is not MISSING and value is not None and same(stored, value):
            cleaned[key] = stored
            continue
        try:
            cleaned[key] = value_clean(definition, value)
        except ValidationError as error:
            errors[key] = [error]
    if errors:
        raise AttributeValuesInvalid(errors)
    return cleaned


def same(a, b) -> bool:
    """Equal as JSON values of the same type (``True`` is not ``1``)."""
    return type(a) is type(b) and a == b


def display_value(definition, value: Any) -> str:
    """A stored value as a member reads it, in the active language."""
    if value is None:
        return ""
    if definition is not None and definition.data_type == "boolean" and isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if definition is not None and definition.data_type == "choice":
        choice = _choices(definition).get(value)
        return label_for(choice) if choice is not None else str(value)
    return str(value)


def definition_errors(definition, *, original=None, scopes: dict) -> dict[str, str]:
    """What is wrong with a definition about to be saved ({field: message}); ``original`` is the
    stored row (``None`` for a new one). Key and type are frozen once values exist: a type change
    would reinterpret stored values (see docs/profile-attributes.md for the migration path)."""
    errors: dict[str, str] = {}
    if definition.scope not in scopes:
        errors["scope"] = _("Choose one of the attribute scopes: %(scopes)s.") % {"scopes": ", ".join(scopes)}
    if original is not None and original.has_values:
        if definition.key != original.key:
            errors["key"] = _("Members have values for this attribute: its key cannot change.")
        if definition.data_type != original.data_type:
            errors["data_type"] = _(
                "Members have values for this attribute: its type cannot change. "
                "Create a new attribute and deactivate this one."
            )
    if (
        definition.min_value is not None
        and definition.max_value is not None
        and definition.min_value > definition.max_value
    ):
        errors["max_value"] = _("The maximum must not be below the minimum.")
    if definition.max_length is not None and definition.max_length < 1:
        errors["max_length"] = _("Allow at least one character.")
    return errors
