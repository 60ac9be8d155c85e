"""Reads of the privacy part, handed to the views, the admin, the jobs and the sweeper."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext

from consent.models import ErasureRequest, ErasureStep, ExportRequest, LegalHold
from consent.privacy import registry
from consent.privacy.app_settings import privacy_settings

EXPORT_FORMAT = "member-id-privacy-export/1"


def export_payload(*, user, now: datetime | None = None) -> dict:
    """Everything every plan exports about the member, as one JSON-ready document."""
    now = now or timezone.now()
    sections = {}
    for plan in registry.plans():
        sections[plan.name] = {"title": str(plan.title), "data": plan.export(user)}
    # One round trip through JSON: what is stored is exactly what the member downloads.
    return json.loads(
        json.dumps(
            {"format": EXPORT_FORMAT, "generated_at": now, "subject": str(user.sub), "sections": sections},
            cls=DjangoJSONEncoder,
        )
    )


@dataclass
class Item:
    """One entry of a section: a value, records (each a list of label/value pairs), or nothing."""

    label: str
    kind: str  # "value" | "records" | "empty"
    value: str = ""
    records: list[list[tuple[str, str]]] = field(default_factory=list)


@dataclass
class Section:
    key: str
    title: str
    items: list[Item]
    corrections: list[tuple[str, str]]


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _text(value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "SHORT_DATETIME_FORMAT")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
    return str(value)


def _label(key: str) -> str:
    return key.replace("__", " ").replace("_", " ")


def _record(row: dict) -> list[tuple[str, str]]:
    return [(_label(k), _text(v)) for k, v in row.items()]


def _items(data: dict, labels: dict) -> list[Item]:
    items = []
    for key, value in data.items():
        label = str(labels.get(key, _label(key)))
        if isinstance(value, dict) and value and all(isinstance(v, list | dict) for v in value.values()):
            items.extend(_items(value, {}))  # a group of lists
        elif isinstance(value, dict):
            items.append(Item(label, "records", records=[_record(value)]) if value else Item(label, "empty"))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            items.append(Item(label, "records", records=[_record(row) for row in value]))
        elif value == []:
            items.append(Item(label, "empty"))
        else:
            items.append(Item(label, "value", value=_text(value)))
    return items


def data_overview(*, user) -> list[Section]:
    """The data we hold about the member, one section per plan, with links to correct it."""
    sections = []
    for plan in sorted(registry.plans(), key=lambda p: (p.page_order, p.name)):
        corrections = []
        for label, url_name in plan.corrections:
            try:
                corrections.append((str(label), reverse(url_name)))
            except NoReverseMatch:
                continue
        data = json.loads(json.dumps(plan.export(user), cls=DjangoJSONEncoder))
        sections.append(
            Section(key=plan.name, title=str(plan.title), items=_items(data, plan.labels), corrections=corrections)
        )
    return sections


def latest_export_for(*, user) -> ExportRequest | None:
    return ExportRequest.objects.filter(user=user).order_by("-created", "-id").first()


def open_erasure_for(*, user) -> ErasureRequest | None:
    return ErasureRequest.objects.filter(user_ref=user.pk, state__in=ErasureRequest.OPEN_STATES).first()


def active_holds(*, user_ref: int, now: datetime | None = None):
    now = now or timezone.now()
    return LegalHold.objects.filter(user_ref=user_ref, lifted_at__isnull=True, ends_at__gt=now)


def active_hold_categories(*, user_ref: int, now: datetime | None = None) -> set[str]:
    return set(active_holds(user_ref=user_ref, now=now).values_list("category", flat=True))


def holds_for(*, user_ref: int):
    return LegalHold.objects.filter(user_ref=user_ref).order_by("-created", "-id")


def erasure_requests_due(*, now: datetime | None = None) -> list[int]:
    """Erasures to (re)start now: queued or running without progress for ``PRIVACY_JOB_STALE_SECONDS``,
    and held ones none of whose held steps is still under an active hold."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=privacy_settings.JOB_STALE_SECONDS)
    due = list(
        ErasureRequest.objects.filter(state__in=[ErasureRequest.State.QUEUED, ErasureRequest.State.RUNNING])
        .annotate(progress=Coalesce("heartbeat_at", "created"))
        .filter(progress__lt=stale_before)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for erasure in ErasureRequest.objects.filter(state=ErasureRequest.State.HELD).order_by("pk"):
        categories = active_hold_categories(user_ref=erasure.user_ref, now=now)
        if registry.ALL_CATEGORIES in categories:
            continue
        held = ErasureStep.objects.filter(request=erasure, state=ErasureStep.State.HELD)
        if not held.filter(hold_category__in=categories).exists():
            due.append(erasure.pk)
    return due


def exports_stalled(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=privacy_settings.JOB_STALE_SECONDS)
    return list(
        ExportRequest.objects.filter(Q(state=ExportRequest.State.QUEUED) | Q(state=ExportRequest.State.RUNNING))
        .annotate(progress=Coalesce("heartbeat_at", "created"))
        .filter(progress__lt=stale_before)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- aggregates for the staff dashboard (idp.dashboard) ----------------------------------------------


def erasures_requested_between(*, start, end) -> int:
    return ErasureRequest.objects.filter(created__gte=start, created__lt=end).count()


def erasure_counts_by_state(*, end) -> dict[str, int]:
    """Erasure requests made before ``end``, by their current state (every state listed)."""
    from django.db.models import Count

    counts = dict.fromkeys(ErasureRequest.State.values, 0)
    rows = ErasureRequest.objects.filter(created__lt=end).values("state").annotate(n=Count("id")).order_by()
    for row in rows:
        counts[row["state"]] = row["n"]
    return counts
