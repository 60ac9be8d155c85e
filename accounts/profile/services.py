"""State changes of profile attributes: values (members, clients, staff), skips, erasure, definitions.

Every write validates through :mod:`accounts.profile.validation`, runs in one transaction with
the member's row locked, and leaves an audit event. Audit events name the attributes that
changed, never their values (they are personal data and the audit log outlives erasure).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AttributeDefinition, MemberAttributes
from accounts.profile import selectors, validation
from idp.api import DomainError
from idp.services import audit_record

SOURCE_MEMBER = "member"  # the member's own page
SOURCE_PROGRESSIVE = "progressive"  # the question at sign-in
SOURCE_API = "api"  # a relying party with the attribute's scope
SOURCE_STAFF = "staff"  # the admin
SOURCES = (SOURCE_MEMBER, SOURCE_PROGRESSIVE, SOURCE_API, SOURCE_STAFF)


def _client_writable(*, client, scopes, keys) -> dict[str, AttributeDefinition]:
    """Definitions ``client`` may write under the token's ``scopes``; refuses the others, clearly.

    An attribute the client has no access row for is "unknown" to it (its existence is not told).
    """
    access = selectors.client_access(client=client)
    unknown = sorted(k for k in keys if k not in access)
    if unknown:
        raise DomainError(
            code="unknown_attribute",
            title=_("There is no such attribute for this client."),
            status=400,
            attributes=unknown,
        )
    read_only = sorted(k for k in keys if not access[k].can_write)
    if read_only:
        raise DomainError(
            code="attribute_not_writable",
            title=_("This client may not change these attributes."),
            status=403,
            attributes=read_only,
        )
    missing = sorted({access[k].definition.scope for k in keys} - set(scopes))
    if missing:
        raise DomainError(
            code="insufficient_scope",
            title=_("The access token does not carry the scope these attributes need."),
            status=403,
            scopes=missing,
        )
    return {k: access[k].definition for k in keys}


def _row_locked(user) -> MemberAttributes:
    row, _created = MemberAttributes.objects.select_for_update().get_or_create(user=user)
    return row


def _mark_has_values(definition: AttributeDefinition) -> None:
    """First value ever stored: freeze key and type. Conditional on the type we validated against,
    so a concurrent type change (admin) and this write cannot both succeed."""
    if definition.has_values:
        return
    updated = AttributeDefinition.objects.filter(
        pk=definition.pk, key=definition.key, data_type=definition.data_type
    ).update(has_values=True)
    if not updated:
        raise DomainError(
            code="definition_changed",
            title=_("The attribute was changed meanwhile. Please try again."),
            status=409,
        )


def _differs(data: dict, key: str, value) -> bool:
    if value is None:
        return key in data
    return key not in data or not validation.same(data[key], value)


@transaction.atomic
def profile_attributes_update(
    *,
    user,
    values: dict[str, Any],
    source: str,
    client=None,
    scopes=None,
    by=None,
) -> dict[str, Any]:
    """Set (or, with ``None``, remove) the member's attribute values; returns the stored data.

    ``source`` says who writes: the member (page or sign-in question: any active attribute),
    staff (``by``; any attribute, active or not) or a client through the API (``client`` and the
    token's ``scopes``: only attributes it may write, under scopes the token carries).
    Raises :class:`DomainError` (unknown attribute, not writable, missing scope) or
    :class:`~accounts.profile.validation.AttributeValuesInvalid` (422, errors per attribute).
    """
    if source not in SOURCES:
        raise ValueError(source)
    if not isinstance(values, dict):
        raise DomainError(code="invalid_request", title=_("Send the attributes as a JSON object."))
    if source == SOURCE_API:
        known = _client_writable(client=client, scopes=scopes or (), keys=list(values))
    else:
        known = selectors.definitions(active_only=source != SOURCE_STAFF)
        unknown = sorted(k for k in values if k not in known)
        if unknown:
            raise DomainError(
                code="unknown_attribute", title=_("There is no such attribute."), status=400, attributes=unknown
            )
    row = _row_locked(user)
    cleaned = validation.values_clean(definitions=known, changes=values, current=row.data)
    changed = sorted(key for key, value in cleaned.items() if _differs(row.data, key, value))
    if not changed:
        return dict(row.data)
    for key in changed:
        value = cleaned[key]
        if value is None:
            row.data.pop(key, None)
        else:
            _mark_has_values(known[key])
            row.data[key] = value
            row.skipped.pop(key, None)
    row.save(update_fields=["data", "skipped", "updated"])
    data = {"keys": changed, "source": source}
    if by is not None:
        data["by"] = by.pk
    audit_record(kind="profile.attributes_updated", user=user, client=client, data=data)
    return dict(row.data)


@transaction.atomic
def profile_question_skip(*, user, key: str, client=None, now=None) -> None:
    """The member skipped the sign-in question for ``key``: not asked again for ``SKIP_DAYS``."""
    row = _row_locked(user)
    row.skipped[key] = (now or timezone.now()).isoformat()
    row.save(update_fields=["skipped", "updated"])
    audit_record(kind="profile.question_skipped", user=user, client=client, data={"key": key})


@transaction.atomic
def profile_attributes_erase(*, user) -> int:
    """Erase every attribute value (and skip) of the member; returns how many values went.

    For the privacy plans (erasure requests): the member's row is deleted; definitions stay.
    """
    row = MemberAttributes.objects.select_for_update().filter(user=user).first()
    if row is None:
        return 0
    count = len(row.data)
    row.delete()
    audit_record(kind="profile.attributes_erased", user=user, data={"count": count})
    return count


@transaction.atomic
def attribute_definition_save(*, definition: AttributeDefinition, by=None) -> AttributeDefinition:
    """Create or change a definition (the admin). Refuses a new key or type once values exist."""
    original = None
    if definition.pk is not None:
        original = AttributeDefinition.objects.select_for_update().filter(pk=definition.pk).first()
    errors = validation.definition_errors(definition, original=original, scopes=selectors.attribute_scopes())
    if errors:
        raise DomainError(
            code="invalid_definition",
            title=_("The attribute definition is not valid."),
            errors={k: str(v) for k, v in errors.items()},
        )
    if original is not None:
        definition.has_values = original.has_values  # only writes of values set it
    definition.save()
    return definition


def attribute_definition_audit(*, definition: AttributeDefinition, by=None, created: bool = False) -> None:
    """Record what a definition now is, choices and client access included (after an admin save)."""
    access = {
        a.client.client_id: {"read": a.can_read, "write": a.can_write, "ask": a.ask_position}
        for a in definition.access.select_related("client")
    }
    audit_record(
        kind="profile.definition_created" if created else "profile.definition_changed",
        data={
            "key": definition.key,
            "type": definition.data_type,
            "scope": definition.scope,
            "active": definition.active,
            "personal_data": definition.personal_data,
            "choices": {c.value: {"retired": c.retired} for c in definition.choices.all()},
            "access": access,
            "by": by.pk if by is not None else None,
        },
    )


NAME_FIELDS = ("given_name", "family_name", "nickname")


@transaction.atomic
def profile_name_update(*, user, given_name: str, family_name: str, nickname: str) -> list[str]:
    """Change the member's name; returns the fields that changed (audited, without their values)."""
    values = {"given_name": given_name.strip(), "family_name": family_name.strip(), "nickname": nickname.strip()}
    changed = [field for field in NAME_FIELDS if getattr(user, field) != values[field]]
    if changed:
        for field in changed:
            setattr(user, field, values[field])
        user.save(update_fields=[*changed, "updated_at"])
        audit_record(kind="profile.name_updated", user=user, data={"fields": changed})
    return changed
