"""Reads of profile attributes handed to pages, claims, the API, the interstitial and privacy plans."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import AttributeAccess, AttributeChoice, AttributeDefinition, MemberAttributes, User
from accounts.profile import validation
from accounts.profile.app_settings import app_settings


def attribute_scopes() -> dict[str, dict]:
    """``{scope: {"claim": ..., "description": ...}}``: the attribute groups."""
    return app_settings.ATTRIBUTE_SCOPES


def _with_choices(queryset: QuerySet) -> QuerySet:
    return queryset.prefetch_related(Prefetch("choices", queryset=AttributeChoice.objects.order_by("position", "id")))


def definitions(*, active_only: bool = True) -> dict[str, AttributeDefinition]:
    """Definitions by key, in display order, choices prefetched."""
    queryset = AttributeDefinition.objects.all()
    if active_only:
        queryset = queryset.filter(active=True)
    return {d.key: d for d in _with_choices(queryset.order_by("position", "key"))}


def client_access(*, client, scopes=None) -> dict[str, AttributeAccess]:
    """The client's access rows to active definitions, by key (``access.definition`` with choices).

    ``scopes``: only definitions under one of these scopes (the token's or the request's).
    """
    queryset = AttributeAccess.objects.filter(client=client, definition__active=True)
    if scopes is not None:
        queryset = queryset.filter(definition__scope__in=list(scopes))
    queryset = queryset.select_related("definition").prefetch_related(
        Prefetch("definition__choices", queryset=AttributeChoice.objects.order_by("position", "id"))
    )
    rows = sorted(queryset, key=lambda a: (a.definition.position, a.definition.key))
    return {a.definition.key: a for a in rows}


def member_data(user) -> dict:
    """The member's stored values ({key: value}); ``{}`` when they have none."""
    data = MemberAttributes.objects.filter(user=user).values_list("data", flat=True).first()
    return data or {}


def readable_values(*, user, client, scopes) -> dict[str, Any]:
    """The member's values this client may read under ``scopes`` (missing ones left out)."""
    readable = [key for key, access in client_access(client=client, scopes=scopes).items() if access.can_read]
    if not readable:
        return {}
    data = member_data(user)
    return {key: data[key] for key in readable if key in data}


def member_attributes(user) -> list[dict]:
    """Rows for the member's page: every active definition, its value, display text and flag."""
    data = member_data(user)
    rows = []
    for key, definition in definitions().items():
        value = data.get(key)
        rows.append(
            {
                "definition": definition,
                "key": key,
                "label": validation.label_for(definition),
                "value": value,
                "display": validation.display_value(definition, value),
                "status": validation.value_status(definition, value) if key in data else None,
            }
        )
    return rows


def next_question(*, user, client, scopes, now: datetime | None = None) -> AttributeDefinition | None:
    """The first attribute on ``client``'s progressive-profiling list the member lacks.

    Only attributes under a scope of this authorization request (the RP is about to receive
    them), readable by the client, active, and not skipped in the last ``SKIP_DAYS`` days.
    """
    wanted_scopes = set(scopes) & set(attribute_scopes())
    if not wanted_scopes:
        return None  # no query at all for the usual /authorize request
    wanted = list(
        AttributeAccess.objects.filter(
            client=client,
            can_read=True,
            ask_position__isnull=False,
            definition__active=True,
            definition__scope__in=wanted_scopes,
        )
        .select_related("definition")
        .order_by("ask_position", "definition__position", "definition__key")
    )
    if not wanted:
        return None
    row = MemberAttributes.objects.filter(user=user).only("data", "skipped").first()
    data = row.data if row else {}
    skipped = row.skipped if row else {}
    cutoff = (now or timezone.now()) - timedelta(days=app_settings.SKIP_DAYS)
    for access in wanted:
        key = access.definition.key
        if key in data:
            continue
        skipped_at = _parse_time(skipped.get(key))
        if skipped_at is not None and skipped_at > cutoff:
            continue
        return access.definition
    return None


def _parse_time(raw) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def authorization_request(url: str | None) -> tuple[Any, list[str]]:
    """``(client, scopes)`` of an ``/authorize`` URL (an interstitial's ``next``), else ``(None, [])``."""
    from idp.oauth.clients import client_get

    if not url:
        return None, []
    parts = urlsplit(url)
    if parts.path != reverse("oauth2_provider:authorize"):
        return None, []
    query = parse_qs(parts.query)
    client = client_get(query.get("client_id", [""])[0])
    return client, query.get("scope", [""])[0].split()


def members_with_attribute(*, key: str, value: Any) -> QuerySet:
    """Members whose attribute ``key`` equals ``value``.

    PostgreSQL: JSON containment ``data @> '{"key": value}'``, answered by the GIN
    ``jsonb_path_ops`` index (docs/profile-attributes.md has the plan at a million members).
    SQLite (embedded set-up): a key-path comparison.
    """
    if connection.vendor == "postgresql":
        return User.objects.filter(profile_attributes__data__contains={key: value})
    return User.objects.filter(**{f"profile_attributes__data__{key}": value})


def choice_in_use(definition: AttributeDefinition, value: str) -> bool:
    """Whether any member stored this choice (then it may only be retired, not deleted)."""
    if not definition.has_values:
        return False
    if connection.vendor == "postgresql":
        return MemberAttributes.objects.filter(data__contains={definition.key: value}).exists()
    return MemberAttributes.objects.filter(**{f"data__{definition.key}": value}).exists()


def attributes_export(user) -> dict:
    """Everything stored about the member's attributes, for a data export (privacy plans).

    Values of every attribute, active or not (and of keys whose definition is gone), with the
    labels in both languages, the personal-data flag and the flag of values that no longer fit.
    """
    row = MemberAttributes.objects.filter(user=user).first()
    if row is None:
        return {"attributes": [], "skipped": {}, "updated": None}
    known = definitions(active_only=False)
    attributes = []
    for key, value in sorted(row.data.items()):
        definition = known.get(key)
        attributes.append(
            {
                "key": key,
                "value": value,
                "type": definition.data_type if definition else None,
                "label_en": definition.label_en if definition else None,
                "label_ja": definition.label_ja if definition else None,
                "personal_data": definition.personal_data if definition else True,
                "status": validation.value_status(definition, value),
            }
        )
    return {"attributes": attributes, "skipped": dict(row.skipped), "updated": row.updated.isoformat()}
