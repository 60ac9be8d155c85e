"""Reading and checking the rows of a legacy member file (CSV or JSON Lines, docs/import.md).

Pure Python, no writes: :func:`read_rows` yields ``(line, raw dict)`` and :class:`Catalogue`
turns one raw row into a :class:`Member` with everything resolved (purpose and program ids, the
stored password) or raises :class:`RowError` naming the field. The engine checks what needs the
database (email taken, legacy id already imported) a batch at a time.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from accounts.hashers import legacy_password
from loyalty.numbers import is_valid_member_number

MESSAGES = {
    "invalid_json": _("The line is not a JSON object."),
    "missing": _("This field is required."),
    "invalid_email": _("Not a valid email address."),
    "invalid_boolean": _("Use true or false."),
    "invalid_date": _("Not a valid date or time (ISO 8601)."),
    "future_date": _("The date is in the future."),
    "too_long": _("Too long."),
    "invalid_hash": _("Unknown or malformed password hash for this format."),
    "unknown_purpose": _("There is no such purpose."),
    "purpose_retired": _("This purpose can no longer be granted."),
    "unknown_text_version": _("The purpose has no text of this version in this language."),
    "unknown_program": _("There is no such loyalty program."),
    "program_closed": _("The program is closed to new members."),
    "duplicate_program": _("The member is in this program twice."),
    "invalid_member_number": _("Not a valid member number (10 digits with a Luhn check digit)."),
    "invalid_balance": _("The balance must be a whole number, 0 or more."),
    "unknown_tier": _("The program has no such tier."),
    "invalid_value": _("Not a valid value."),
    "email_taken": _("Another account already uses this email address."),
    "duplicate_email": _("Another row of this file has the same email address."),
    "member_number_taken": _("This member number is already in use."),
}

TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f", ""}


class RowError(Exception):
    def __init__(self, code: str, field: str = ""):
        super().__init__(code)
        self.code = code
        self.field = field

    @property
    def message(self) -> str:
        return str(MESSAGES.get(self.code, self.code))


@dataclass
class ConsentItem:
    purpose_id: int
    granted: bool
    at: datetime
    text_id: int | None
    language: str


@dataclass
class LoyaltyItem:
    program_id: int
    member_number: str | None
    balance: int
    tier_id: int | None
    expire_days: int


@dataclass
class Member:
    line: int
    legacy_id: str
    email: str
    verified: bool
    given_name: str
    family_name: str
    phone: str
    password: str
    created_at: datetime | None
    digest: str
    consents: list[ConsentItem] = field(default_factory=list)
    loyalty: list[LoyaltyItem] = field(default_factory=list)


# --- reading -----------------------------------------------------------------------------------------


def file_format(path: Path, given: str | None = None) -> str:
    if given:
        return given
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def read_rows(path: Path, *, fmt: str, start_after: int = 0) -> Iterator[tuple[int, dict | None]]:
    """``(line number, row)`` for every row after line ``start_after``; ``row`` is None when the
    line cannot be read (not JSON). CSV rows are numbered by the line they start on (the header is
    line 1) and turned into the JSON shape (see :func:`csv_row`)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        if fmt == "csv":
            reader = csv.DictReader(fh)
            start = reader.line_num + 1 if reader.fieldnames else 2
            for raw in reader:
                line, start = start, reader.line_num + 1
                if line > start_after:
                    yield line, csv_row(raw)
            return
        for line, text in enumerate(fh, start=1):
            if line <= start_after or not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError:
                row = None
            yield line, row if isinstance(row, dict) else None


def csv_row(raw: dict) -> dict:
    """A CSV row in the JSON Lines shape: ``consent.<purpose>`` (+ ``consent.<purpose>.at``,
    ``.version``) columns become ``consents``; ``loyalty_program``, ``member_number``,
    ``points_balance`` and ``tier`` become one ``loyalty`` entry. Empty cells are left out."""
    row: dict = {}
    consents: dict[str, dict] = {}
    loyalty: dict = {}
    for key, value in raw.items():
        if key is None or value is None or value == "":
            continue
        if key.startswith("consent."):
            code, _dot, attr = key[len("consent.") :].partition(".")
            item = consents.setdefault(code, {"purpose": code})
            item[{"": "granted"}.get(attr, attr)] = value
        elif key in ("loyalty_program", "member_number", "points_balance", "tier"):
            loyalty[{"loyalty_program": "program", "points_balance": "balance"}.get(key, key)] = value
        else:
            row[key] = value
    if consents:
        row["consents"] = [c for c in consents.values() if "granted" in c]
    if loyalty:
        row["loyalty"] = loyalty
    return row


# --- checking ----------------------------------------------------------------------------------------


def _text(row: dict, key: str, *, max_length: int, required: bool = False) -> str:
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise RowError("missing", key)
        return ""
    if not isinstance(value, (str, int)):
        raise RowError("invalid_value", key)
    value = str(value).strip()
    if len(value) > max_length:
        raise RowError("too_long", key)
    if required and not value:
        raise RowError("missing", key)
    return value


def _boolean(value, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise RowError("invalid_boolean", key)


def _datetime(value, key: str, *, now: datetime) -> datetime:
    """ISO 8601 date or date-time; without an offset it is read in ``TIME_ZONE``."""
    if not isinstance(value, str) or not value.strip():
        raise RowError("missing" if not value else "invalid_date", key)
    value = value.strip()
    try:
        parsed = parse_datetime(value)
        if parsed is None:
            day = parse_date(value)
            parsed = datetime.combine(day, time()) if day else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise RowError("invalid_date", key)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed > now + timedelta(minutes=5):
        raise RowError("future_date", key)
    return parsed


class Catalogue:
    """Purposes, their texts and the programs with their tiers, read once per run."""

    def __init__(self) -> None:
        from consent.models import Purpose, PurposeText
        from loyalty.models import Program, Tier

        self.purposes = {p.code: p for p in Purpose.objects.all()}
        self.texts = {
            (purpose_id, language, version): pk
            for pk, purpose_id, language, version in PurposeText.objects.values_list(
                "pk", "purpose_id", "language", "version"
            )
        }
        self.programs = {p.slug: p for p in Program.objects.all()}
        self.tiers: dict[int, list[Tier]] = {}
        for tier in Tier.objects.order_by("min_points"):
            self.tiers.setdefault(tier.program_id, []).append(tier)
        self.default_language = settings.LANGUAGE_CODE

    def member(self, line: int, row: dict | None, *, now: datetime) -> Member:
        if row is None:
            raise RowError("invalid_json")
        email = _text(row, "email", max_length=254, required=True).lower()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise RowError("invalid_email", "email") from exc
        hash_raw = _text(row, "password_hash", max_length=1000)
        if hash_raw:
            try:
                password = legacy_password(
                    hash_raw,
                    hash_format=_text(row, "hash_format", max_length=32) or "auto",
                    salt=_text(row, "password_salt", max_length=255),
                )
            except ValueError as exc:
                raise RowError("invalid_hash", "password_hash") from exc
        else:
            password = make_password(None)  # no usable password: the member resets it
        created = row.get("created_at")
        return Member(
            line=line,
            legacy_id=_text(row, "legacy_id", max_length=128, required=True),
            email=email,
            verified=_boolean(row.get("email_verified"), "email_verified"),
            given_name=_text(row, "given_name", max_length=150),
            family_name=_text(row, "family_name", max_length=150),
            phone=_text(row, "phone", max_length=32),
            password=password,
            created_at=_datetime(created, "created_at", now=now) if created else None,
            digest=hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest(),
            consents=self._consents(row.get("consents"), now=now),
            loyalty=self._loyalty(row.get("loyalty"), now=now),
        )

    def _consents(self, items, *, now: datetime) -> list[ConsentItem]:
        """The member's consent history, oldest first, as ``consent_change`` would have recorded it:
        only the changes (a withdrawal of something never granted records nothing)."""
        if not items:
            return []
        if not isinstance(items, list):
            raise RowError("invalid_value", "consents")
        parsed = []
        for i, item in enumerate(items):
            where = f"consents[{i}]"
            if not isinstance(item, dict):
                raise RowError("invalid_value", where)
            purpose = self.purposes.get(item.get("purpose"))
            if purpose is None:
                raise RowError("unknown_purpose", f"{where}.purpose")
            granted = _boolean(item.get("granted"), f"{where}.granted")
            if granted and not purpose.is_active:
                raise RowError("purpose_retired", f"{where}.purpose")
            if not granted and not item.get("at"):
                continue  # "not granted", undated: the default, nothing to record
            at = _datetime(item.get("at"), f"{where}.at", now=now)
            language = item.get("language") or self.default_language
            text_id = None
            if item.get("version") not in (None, ""):
                try:
                    version = int(item["version"])
                except (TypeError, ValueError) as exc:
                    raise RowError("unknown_text_version", f"{where}.version") from exc
                text_id = self.texts.get((purpose.pk, language, version))
                if text_id is None:
                    raise RowError("unknown_text_version", f"{where}.version")
            parsed.append((at, i, ConsentItem(purpose.pk, granted, at, text_id, str(language)[:16])))
        parsed.sort(key=lambda p: (p[0], p[1]))
        state: dict[int, bool] = {}
        changes = []
        for _at, _i, item in parsed:
            if state.get(item.purpose_id, False) != item.granted:
                state[item.purpose_id] = item.granted
                changes.append(item)
        return changes

    def _loyalty(self, items, *, now: datetime) -> list[LoyaltyItem]:
        if not items:
            return []
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise RowError("invalid_value", "loyalty")
        result = []
        for i, item in enumerate(items):
            where = f"loyalty[{i}]" if len(items) > 1 else "loyalty"
            if not isinstance(item, dict):
                raise RowError("invalid_value", where)
            program = self.programs.get(item.get("program"))
            if program is None:
                raise RowError("unknown_program", f"{where}.program")
            if not program.is_active:
                raise RowError("program_closed", f"{where}.program")
            if any(r.program_id == program.pk for r in result):
                raise RowError("duplicate_program", f"{where}.program")
            number = item.get("member_number")
            number = str(number).strip() if number not in (None, "") else None
            if number is not None and not is_valid_member_number(number):
                raise RowError("invalid_member_number", f"{where}.member_number")
            balance = item.get("balance", 0)
            try:
                balance = int(balance) if not isinstance(balance, (bool, float)) else -1
            except (TypeError, ValueError):
                balance = -1
            if balance < 0:
                raise RowError("invalid_balance", f"{where}.balance")
            tiers = self.tiers.get(program.pk, [])
            tier_code = item.get("tier")
            if tier_code:
                tier = next((t for t in tiers if t.code == tier_code), None)
                if tier is None:
                    raise RowError("unknown_tier", f"{where}.tier")
            else:  # the tier the balance reaches, as if it had been earned (the base tier for 0)
                tier = None
                for t in tiers:
                    if t.min_points <= balance:
                        tier = t
            result.append(
                LoyaltyItem(program.pk, number, balance, tier.pk if tier else None, program.points_expire_after_days)
            )
        return result
