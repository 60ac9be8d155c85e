"""The ``profile_attributes`` configuration section: definitions with their choices and each
client's access (read, write, asked at sign-in). Members' values are never part of it.

Rules of the admin apply: key and type are frozen once members have values; a choice members
have stored is retired, never deleted; an attribute with values is deactivated, never deleted.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.models import AttributeAccess, AttributeChoice, AttributeDefinition
from accounts.profile import selectors, services, validation
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
    decimal_text,
    unique_keys,
)
from idp.models import Client

DEFINITION_SPEC = {
    "key": F("str"),
    "data_type": F("str", choices=tuple(AttributeDefinition.Type.values)),
    "scope": F("str"),
    "label_en": F("str"),
    "label_ja": F("str", default=""),
    "help_en": F("str", default=""),
    "help_ja": F("str", default=""),
    "personal_data": F("bool", default=True),
    "active": F("bool", default=True),
    "max_length": F("int", default=200),
    "min_value": F("decimal", default=None, null=True),
    "max_value": F("decimal", default=None, null=True),
    "position": F("int", default=0),
    "choices": F("list", default=[]),
    "access": F("list", default=[]),
}
CHOICE_SPEC = {
    "value": F("str"),
    "label_en": F("str"),
    "label_ja": F("str", default=""),
    "retired": F("bool", default=False),
    "position": F("int", default=0),
}
ACCESS_SPEC = {
    "client": F("str"),
    "can_read": F("bool", default=True),
    "can_write": F("bool", default=False),
    "ask_position": F("int", default=None, null=True),
}
_DEFINITION_FIELDS = [k for k in DEFINITION_SPEC if k not in ("key", "choices", "access")]


def _normalize(name, value):
    if name in ("min_value", "max_value"):
        return decimal_text(value)
    return value


def definition_export(definition: AttributeDefinition) -> dict:
    data = {name: _normalize(name, getattr(definition, name)) for name in ["key", *_DEFINITION_FIELDS]}
    data["choices"] = [
        {"value": c.value, "label_en": c.label_en, "label_ja": c.label_ja, "retired": c.retired, "position": c.position}
        for c in sorted(definition.choices.all(), key=lambda c: (c.position, c.value))
    ]
    data["access"] = [
        {"client": a.client.client_id, "can_read": a.can_read, "can_write": a.can_write, "ask_position": a.ask_position}
        for a in sorted(definition.access.all(), key=lambda a: a.client.client_id)
    ]
    return data


class ProfileAttributesSection(Section):
    name = "profile_attributes"
    order = 20

    def export(self) -> list[dict]:
        queryset = AttributeDefinition.objects.order_by("key").prefetch_related("choices", "access__client")
        return [definition_export(d) for d in queryset]

    def validate(self, value, ctx: Context, path: str) -> None:
        items = check_list(value, path, ctx)
        unique_keys(items, path, "key", ctx)
        clients = ctx.client_ids()
        scopes = selectors.attribute_scopes()
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, DEFINITION_SPEC, ctx)
            if cleaned is None:
                continue
            if cleaned["scope"] not in scopes:
                ctx.error(
                    f"{where}.scope",
                    _("Choose one of the attribute scopes: %(scopes)s.") % {"scopes": ", ".join(scopes)},
                )
            unique_keys(cleaned["choices"], f"{where}.choices", "value", ctx)
            for j, choice in enumerate(cleaned["choices"]):
                check_object(choice, f"{where}.choices[{j}]", CHOICE_SPEC, ctx)
            unique_keys(cleaned["access"], f"{where}.access", "client", ctx)
            for j, access in enumerate(cleaned["access"]):
                row = check_object(access, f"{where}.access[{j}]", ACCESS_SPEC, ctx)
                if row is None:
                    continue
                if row["client"] not in clients:
                    ctx.error(
                        f"{where}.access[{j}].client", _("Unknown client “%(client)s”.") % {"client": row["client"]}
                    )
                if row["ask_position"] is not None and not row["can_read"]:
                    ctx.error(
                        f"{where}.access[{j}].can_read",
                        _("A client that asks for an attribute must be allowed to read it."),
                    )

    def apply(self, value, ctx: Context, path: str) -> None:
        existing = {d.key: d for d in AttributeDefinition.objects.filter(key__in=[i["key"] for i in value])}
        scopes = selectors.attribute_scopes()
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, DEFINITION_SPEC, ctx)
            original = existing.get(cleaned["key"])
            definition = AttributeDefinition.objects.get(pk=original.pk) if original else None
            created = definition is None
            if created:
                definition = AttributeDefinition(key=cleaned["key"])
            fields = {k: cleaned[k] for k in _DEFINITION_FIELDS}
            for name in ("min_value", "max_value"):
                if fields[name] is not None:
                    fields[name] = Decimal(str(fields[name]))
            diff = assign(definition, fields, _normalize)
            errors = validation.definition_errors(definition, original=original, scopes=scopes)
            for name, message in sorted(errors.items()):
                ctx.error(f"{where}.{name}", str(message))
            try:
                definition.full_clean(validate_unique=False)
            except ValidationError as exc:
                ctx.validation_error(where, exc)
                continue
            if errors:
                continue
            if created or diff:
                services.attribute_definition_save(definition=definition, by=ctx.actor)
            diff.update(self._choices(definition, cleaned["choices"], ctx, f"{where}.choices", created))
            diff.update(self._access(definition, cleaned["access"], ctx, created))
            if created or diff:
                services.attribute_definition_audit(definition=definition, by=ctx.actor, created=created)
            ctx.record(self.name, definition.key, CREATE if created else (UPDATE if diff else UNCHANGED), diff)

    def _choices(self, definition, items: list, ctx: Context, path: str, created: bool) -> dict:
        diff: dict = {}
        current = {} if created else {c.value: c for c in definition.choices.all()}
        for j, item in enumerate(items):
            cleaned = check_object(item, f"{path}[{j}]", CHOICE_SPEC, ctx)
            choice = current.pop(cleaned["value"], None) or AttributeChoice(
                definition=definition, value=cleaned["value"]
            )
            new = choice.pk is None
            changed = assign(choice, {k: v for k, v in cleaned.items() if k != "value"})
            try:
                choice.full_clean(exclude=["definition"], validate_unique=False)
            except ValidationError as exc:
                ctx.validation_error(f"{path}[{j}]", exc)
                continue
            if new:
                choice.save()
                diff[f"choices.{choice.value}"] = (None, "created")
            elif changed:
                choice.save(update_fields=list(changed))
                diff.update({f"choices.{choice.value}.{k}": v for k, v in changed.items()})
        if ctx.prune:
            for value, choice in sorted(current.items()):
                if selectors.choice_in_use(definition, value):
                    ctx.notes.append(
                        _("Kept choice “%(value)s” of “%(key)s”: members have chosen it (retire it instead).")
                        % {"value": value, "key": definition.key}
                    )
                    continue
                choice.delete()
                diff[f"choices.{value}"] = ("deleted", None)
        return diff

    def _access(self, definition, items: list, ctx: Context, created: bool) -> dict:
        diff: dict = {}
        current = {} if created else {a.client.client_id: a for a in definition.access.select_related("client")}
        clients = {c.client_id: c for c in Client.objects.filter(client_id__in=[i["client"] for i in items])}
        for item in items:
            cleaned = {**{k: s.default for k, s in ACCESS_SPEC.items()}, **item}
            access = current.pop(cleaned["client"], None)
            values = {k: cleaned[k] for k in ("can_read", "can_write", "ask_position")}
            if access is None:
                AttributeAccess.objects.create(definition=definition, client=clients[cleaned["client"]], **values)
                diff[f"access.{cleaned['client']}"] = (None, values)
                continue
            changed = assign(access, values)
            if changed:
                access.save(update_fields=list(changed))
                diff.update({f"access.{cleaned['client']}.{k}": v for k, v in changed.items()})
        if ctx.prune:
            for client_id, access in sorted(current.items()):
                access.delete()
                diff[f"access.{client_id}"] = ("deleted", None)
        return diff

    def prune(self, value, ctx: Context, path: str) -> None:
        keep = {item["key"] for item in value}
        for definition in AttributeDefinition.objects.exclude(key__in=keep).order_by("key"):
            if definition.has_values:
                ctx.notes.append(
                    _("Kept attribute “%(key)s”: members have values (set it inactive instead).")
                    % {"key": definition.key}
                )
                continue
            definition.delete()
            ctx.record(self.name, definition.key, DELETE)
