"""Reads of the outbox: who wants an event, which secrets sign a delivery, a user's events."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from consent.models import OutboxEvent, WebhookSubscription
from consent.outbox import signing


def subscriptions_for_kind(kind: str) -> list[WebhookSubscription]:
    """Active subscriptions that asked for ``kind`` (exact match; subscriptions are few, and a
    JSON ``contains`` lookup does not exist on SQLite)."""
    return [s for s in WebhookSubscription.objects.filter(is_active=True).order_by("pk") if kind in s.event_kinds]


def signing_secrets(subscription: WebhookSubscription, *, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one while a
    rotation overlaps (Standard Webhooks: one ``v1`` signature per secret)."""
    now = now or timezone.now()
    keys = [signing.secret_unseal(subscription.secret_sealed)]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret_sealed and expires and expires > now:
        keys.append(signing.secret_unseal(subscription.previous_secret_sealed))
    return keys


def outbox_events_for_user(user) -> QuerySet[OutboxEvent]:
    """A user's events (their payloads are personal data: export and erasure plans read this)."""
    return OutboxEvent.objects.filter(user=user).order_by("created", "id")
