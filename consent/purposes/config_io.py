"""The ``purposes`` configuration section: purposes of processing and their current texts.

A purpose's text per language is versioned and never edited: the file carries the current text,
and an import that changes it adds a new version through
:func:`consent.purposes.services.purpose_text_add` (older versions stay as evidence). Purposes
are created and changed through :func:`consent.purposes.services.purpose_save`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _

from consent.models import Purpose, PurposeText
from consent.purposes import services
from idp.config_io.base import (
    CREATE,
    DELETE,
    UNCHANGED,
    UPDATE,
    Context,
    F,
    Section,
    assign,
    check_list,
    check_object,
    unique_keys,
)

PURPOSE_SPEC = {
    "code": F("str"),
    "category": F("str", choices=tuple(Purpose.Category.values)),
    "contact_channel": F("str", default="", choices=tuple(Purpose.ContactChannel.values)),
    "brand": F("str", default=""),
    "regions": F("str_list", default=[]),
    "offer_at_signup": F("bool", default=False),
    "is_active": F("bool", default=True),
    "position": F("int", default=0),
    "texts": F("dict", default={}),
}
TEXT_SPEC = {"name": F("str"), "description": F("str")}
_FIELDS = [k for k in PURPOSE_SPEC if k not in ("code", "texts")]


def _current_texts(purpose: Purpose) -> dict[str, PurposeText]:
    latest: dict[str, PurposeText] = {}
    for text in purpose.texts.all():
        if text.language not in latest or text.version > latest[text.language].version:
            latest[text.language] = text
    return latest


def purpose_export(purpose: Purpose) -> dict:
    data = {name: getattr(purpose, name) for name in ["code", *_FIELDS]}
    data["regions"] = purpose.regions.split()
    data["texts"] = {
        language: {"name": t.name, "description": t.description}
        for language, t in sorted(_current_texts(purpose).items())
    }
    return data


def _normalize(name, value):
    return value.split() if name == "regions" else value


class PurposesSection(Section):
    name = "purposes"
    order = 40

    def export(self) -> list[dict]:
        return [purpose_export(p) for p in Purpose.objects.order_by("code").prefetch_related("texts")]

    def validate(self, value, ctx: Context, path: str) -> None:
        items = check_list(value, path, ctx)
        unique_keys(items, path, "code", ctx)
        languages = {code for code, _name in settings.LANGUAGES}
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, PURPOSE_SPEC, ctx)
            if cleaned is None:
                continue
            for j, region in enumerate(cleaned["regions"]):
                if len(region) != 2 or not region.isalpha():
                    ctx.error(f"{where}.regions[{j}]", _("Use a two-letter country code (ISO 3166-1)."))
            for language, text in sorted(cleaned["texts"].items()):
                if language not in languages:
                    ctx.error(
                        f"{where}.texts.{language}",
                        _("Unknown language; use one of: %(languages)s.") % {"languages": ", ".join(sorted(languages))},
                    )
                check_object(text, f"{where}.texts.{language}", TEXT_SPEC, ctx)

    def apply(self, value, ctx: Context, path: str) -> None:
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, PURPOSE_SPEC, ctx)
            purpose = Purpose.objects.filter(code=cleaned["code"]).first()
            created = purpose is None
            if created:
                purpose = Purpose(code=cleaned["code"])
            fields = {k: cleaned[k] for k in _FIELDS}
            fields["regions"] = " ".join(fields["regions"])
            diff = assign(purpose, fields, _normalize)
            try:
                purpose.full_clean(validate_unique=False)
            except ValidationError as exc:
                ctx.validation_error(where, exc)
                continue
            if created or diff:
                services.purpose_save(purpose=purpose, actor=ctx.actor)
            current = {} if created else _current_texts(purpose)
            for language, text in sorted(cleaned["texts"].items()):
                old = current.get(language)
                if old is not None and (old.name, old.description) == (text["name"], text["description"]):
                    continue
                try:
                    added = services.purpose_text_add(
                        purpose=purpose,
                        language=language,
                        name=text["name"],
                        description=text["description"],
                        actor=ctx.actor,
                    )
                except ValidationError as exc:
                    ctx.validation_error(f"{where}.texts.{language}", exc)
                    continue
                diff[f"texts.{language}"] = (
                    f"v{old.version}" if old else None,
                    f"v{added.version}",
                )
            ctx.record(self.name, purpose.code, CREATE if created else (UPDATE if diff else UNCHANGED), diff)

    def prune(self, value, ctx: Context, path: str) -> None:
        keep = {item["code"] for item in value}
        for purpose in Purpose.objects.exclude(code__in=keep).order_by("code"):
            try:
                purpose.delete()
            except (ProtectedError, RestrictedError):
                ctx.notes.append(
                    _("Kept purpose “%(code)s”: members' consent records refer to it (set it inactive instead).")
                    % {"code": purpose.code}
                )
                continue
            ctx.record(self.name, purpose.code, DELETE)
