"""State changes of the outbox and of webhook delivery.

The flow, and what each step guarantees:

1. :func:`outbox_event_add`, inside the caller's transaction, writes the event and one pending
   :class:`~consent.models.WebhookDelivery` per subscription that wants its kind. They commit or
   roll back with the change they report: nothing is sent for a change that did not happen, and
   nothing is lost for one that did.
2. On commit, one Celery task per delivery is published, without retries and without waiting: when
   the broker is down the request goes on and the delivery stays pending.
3. The task claims the delivery (pending → in flight, with a lease), POSTs it signed, and records
   the outcome: delivered on 2xx, else pending again with an exponential backoff and jitter, or
   failed after ``CONSENT_WEBHOOKS_MAX_ATTEMPTS``.
4. :func:`outbox_sweep`, on beat, publishes again what has been due for a while (never published,
   or lost) and what stayed in flight past its lease (a worker died). Rows are taken with
   ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent sweepers share the work instead of doubling it,
   and a claim admits one worker at a time, so duplicate messages do not send twice.

Delivery is therefore at-least-once: a worker that dies after the receiver answered but before the
outcome is recorded sends again. Receivers dedupe by ``webhook-id``.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from ipaddress import ip_address
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from kombu import pools

from consent.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from consent.outbox import selectors, signing
from consent.outbox.app_settings import webhook_settings
from idp.services import audit_record

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

# Standard Webhooks: hierarchical, full-stop delimited identifiers of [a-zA-Z0-9_].
EVENT_KIND_RE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
USER_AGENT = "Member-ID-Webhooks/1"


# --- Events --------------------------------------------------------------------------------------


def outbox_event_add(*, kind: str, payload: dict, user=None, now: datetime | None = None) -> OutboxEvent:
    """Record an event for every subscription that wants ``kind``; deliver it after commit.

    Call it inside the transaction of the change it reports (``transaction.atomic()``, as every
    service is): the event and its deliveries are written there, and the tasks are published with
    ``transaction.on_commit``. Outside a transaction it raises ``RuntimeError``: the event could be
    committed without the change, or the change without the event.

    ``payload`` must be a JSON object (plain ``json`` types) of at most
    ``CONSENT_WEBHOOKS_MAX_PAYLOAD_BYTES``; it becomes ``data`` of the delivered body. ``user``
    links the event to a member (``subject`` in the body is their ``sub``).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_event_add() must be called inside the transaction of the change it reports")
    if not EVENT_KIND_RE.fullmatch(kind or "") or len(kind) > 100:
        raise ValueError(f"invalid event kind {kind!r}: dot-separated identifiers of letters, digits and _")
    if not isinstance(payload, dict):
        raise ValueError("an event payload is a JSON object (a dict)")
    try:
        size = len(json.dumps(payload, allow_nan=False).encode())
    except (TypeError, ValueError) as error:
        raise ValueError(f"event payload is not plain JSON: {error}") from error
    if size > webhook_settings.MAX_PAYLOAD_BYTES:
        raise ValueError(f"event payload of {size} bytes exceeds CONSENT_WEBHOOKS_MAX_PAYLOAD_BYTES")

    now = now or timezone.now()
    event = OutboxEvent.objects.create(
        kind=kind,
        payload=payload,
        user=user,
        subject=str(getattr(user, "sub", "") or "") if user is not None else "",
        created=now,
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, subscription=subscription, next_attempt_at=now, created=now)
            for subscription in selectors.subscriptions_for_kind(kind)
        ]
    )
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(partial(deliveries_publish, ids), robust=True)
    return event


def event_body(event: OutboxEvent) -> bytes:
    """The JSON body POSTed for ``event`` (Standard Webhooks payload structure), the same bytes
    on every attempt: ``{"id", "type", "timestamp", "subject", "data"}``, keys sorted, compact."""
    body = {
        "id": event.webhook_id,
        "type": event.kind,
        "timestamp": event.created.isoformat().replace("+00:00", "Z"),
        "subject": event.subject or None,
        "data": event.payload,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- Publishing ------------------------------------------------------------------------------------


def _producer_pool(app):
    """Producers whose broker connection gives up fast: one connection attempt, and a
    ``CONSENT_WEBHOOKS_PUBLISH_TIMEOUT`` on connecting and on every broker command.

    Celery's own pool retries a publish, reconnects for ``broker_connection_timeout`` and, on Redis,
    waits without limit for a broker that accepts connections but does not answer (hung, or a lost
    network). Its connection options are part of kombu's pool key, so this is a pool of its own.
    """
    timeout = webhook_settings.PUBLISH_TIMEOUT
    options = {
        **(app.conf.broker_transport_options or {}),
        "max_retries": 0,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
    }
    return pools.producers[app.connection_for_write(connect_timeout=timeout, transport_options=options)]


def delivery_publish(delivery_id: int, *, countdown: float | None = None) -> bool:
    """Publish the delivery task; ``False`` (logged) instead of an error or a wait.

    Called on commit, in the request that made the change: it must neither raise nor hang when the
    broker is down. A delivery that could not be published stays pending in the database, where
    the sweeper finds it.
    """
    from consent.outbox.tasks import deliver

    app = deliver.app
    try:
        if app.conf.task_always_eager:
            deliver.apply_async(args=[delivery_id])  # in-process (embedded set-up)
            return True
        with _producer_pool(app).acquire(block=True, timeout=webhook_settings.PUBLISH_TIMEOUT) as producer:
            deliver.apply_async(args=[delivery_id], countdown=countdown, producer=producer, retry=False)
        return True
    except Exception:
        logger.warning(
            "webhook delivery %s not published (broker unavailable?); the outbox sweeper will retry",
            delivery_id,
            exc_info=True,
        )
        return False


def deliveries_publish(delivery_ids: Iterable[int]) -> int:
    """Publish a task per delivery; return how many were published. Stops at the first failure:
    the broker is down, and the sweeper will publish the rest."""
    published = 0
    for delivery_id in delivery_ids:
        if not delivery_publish(delivery_id):
            break
        published += 1
    return published


# --- Delivery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one HTTP attempt gave: a status code, or an error before any answer."""

    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None
    duration_ms: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _interrupted(delivery: WebhookDelivery, *, now: datetime) -> None:
    """An attempt whose worker never reported back (it died, or lost its database): log it; the
    caller decides what comes next."""
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        started_at=delivery.last_attempt_at or now,
        error="interrupted: no outcome recorded before the lease expired",
    )
    delivery.last_error = "interrupted: no outcome recorded before the lease expired"
    delivery.last_status_code = None


def _give_up(delivery: WebhookDelivery, *, now: datetime, reason: str) -> None:
    delivery.status = Status.FAILED
    delivery.lease_expires_at = None
    audit_record(
        kind="webhook.delivery_failed",
        user=delivery.event.user,
        data={
            "delivery": delivery.pk,
            "event": delivery.event.webhook_id,
            "kind": delivery.event.kind,
            "subscription": delivery.subscription_id,
            "attempts": delivery.attempts,
            "reason": reason,
        },
    )


@transaction.atomic
def webhook_delivery_claim(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Take a due delivery for one attempt: pending → in flight, with a lease. ``None`` when there
    is nothing to do (already delivered or failed, in flight elsewhere, not due, or its
    subscription is paused): a duplicate or early message is then harmless."""
    now = now or timezone.now()
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("event", "subscription", "event__user")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status in (Status.DELIVERED, Status.FAILED):
        return None
    if not delivery.subscription.is_active:
        return None
    if delivery.status == Status.SENDING:
        if delivery.lease_expires_at and delivery.lease_expires_at > now:
            return None
        _interrupted(delivery, now=now)
    elif delivery.next_attempt_at > now + timedelta(seconds=1):
        return None
    if delivery.attempts >= webhook_settings.MAX_ATTEMPTS:
        _give_up(delivery, now=now, reason="max attempts")
        delivery.save(update_fields=["status", "lease_expires_at", "last_error", "last_status_code"])
        return None
    delivery.status = Status.SENDING
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.lease_expires_at = now + timedelta(seconds=webhook_settings.LEASE_SECONDS)
    delivery.save(
        update_fields=["status", "attempts", "last_attempt_at", "lease_expires_at", "last_error", "last_status_code"]
    )
    return delivery


def webhook_url_validate(url: str) -> None:
    """A receiver URL: absolute http(s) without credentials or fragment; ``https`` unless the host is
    loopback or ``CONSENT_WEBHOOKS_ALLOW_HTTP`` (on in the embedded set-up)."""
    URLValidator(schemes=["https", "http"])(url)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValidationError(_("Do not put credentials in the URL."), code="credentials")
    if parts.fragment:
        raise ValidationError(_("A webhook URL has no fragment (#…)."), code="fragment")
    if parts.scheme == "http" and not (webhook_settings.ALLOW_HTTP or _is_loopback(parts.hostname or "")):
        raise ValidationError(_("Use an https:// URL."), code="https_required")


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # Standard Webhooks: a 3xx is a failed attempt, never followed


_opener = urllib.request.build_opener(_NoRedirects)


def _retry_after(headers) -> float | None:
    value = (headers or {}).get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


def webhook_delivery_send(*, delivery: WebhookDelivery, now: datetime | None = None) -> Outcome:
    """POST a claimed delivery, signed now; report what happened (never raises for the network)."""
    started = time.monotonic()
    subscription = delivery.subscription
    try:
        webhook_url_validate(subscription.url)
    except ValidationError as error:
        return Outcome(error=f"URL refused: {'; '.join(error.messages)}"[:500])
    body = event_body(delivery.event)
    headers = signing.signed_headers(
        keys=selectors.signing_secrets(subscription, now=now),
        msg_id=delivery.event.webhook_id,
        timestamp=int((now or timezone.now()).timestamp()),
        body=body,
    )
    request = urllib.request.Request(
        subscription.url,
        data=body,
        headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
        method="POST",
    )
    try:
        with _opener.open(request, timeout=webhook_settings.TIMEOUT) as response:
            response.read(1024)
            status, retry_after = response.status, None
    except urllib.error.HTTPError as error:
        status, retry_after = error.code, _retry_after(error.headers)
        error.close()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Outcome(
            error=f"{type(reason).__name__}: {reason}"[:500],
            duration_ms=int((time.monotonic() - started) * 1000),
        )
    return Outcome(status_code=status, retry_after=retry_after, duration_ms=int((time.monotonic() - started) * 1000))


def retry_delay(attempts: int, *, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: exponential, capped, with
    jitter; at least the receiver's ``Retry-After`` (itself capped)."""
    ceiling = webhook_settings.RETRY_MAX_SECONDS
    delay = min(webhook_settings.RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), ceiling)
    delay += random.uniform(0, delay * webhook_settings.RETRY_JITTER)  # noqa: S311 - jitter, not a secret
    if retry_after is not None:
        delay = max(delay, min(retry_after, ceiling))
    return delay


@transaction.atomic
def webhook_delivery_record(
    *, delivery: WebhookDelivery, outcome: Outcome, now: datetime | None = None
) -> float | None:
    """Record one attempt's outcome. Returns the delay before the next attempt when there is one.

    2xx: delivered. 410 Gone: failed, and the subscription is deactivated (the receiver asked to
    stop). Anything else (3xx, 4xx, 5xx, no answer): pending again with a backoff, or failed after
    the last attempt. An outcome that arrives after the lease was taken over only adds to the log,
    except a success, which still marks the delivery delivered.
    """
    now = now or timezone.now()
    number = delivery.attempts
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("event", "event__user", "subscription")
        .get(pk=delivery.pk)
    )
    error = outcome.error or (f"HTTP {outcome.status_code}" if not outcome.succeeded else "")
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=delivery.last_attempt_at if delivery.attempts == number else now,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        succeeded=outcome.succeeded,
        error=error,
    )
    fields = ["status", "lease_expires_at", "last_status_code", "last_error"]
    if outcome.succeeded and delivery.status in (Status.SENDING, Status.PENDING):
        delivery.status, delivery.delivered_at = Status.DELIVERED, now
        delivery.lease_expires_at, delivery.last_status_code, delivery.last_error = None, outcome.status_code, ""
        delivery.save(update_fields=[*fields, "delivered_at"])
        return None
    if delivery.status != Status.SENDING or delivery.attempts != number:
        return None  # our lease ran out and another attempt owns the delivery now
    delivery.last_status_code, delivery.last_error = outcome.status_code, error
    if outcome.status_code == 410:
        _give_up(delivery, now=now, reason="410 Gone")
        delivery.save(update_fields=fields)
        webhook_subscription_deactivate(subscription=delivery.subscription, reason="410 Gone from the receiver")
        return None
    if delivery.attempts >= webhook_settings.MAX_ATTEMPTS:
        _give_up(delivery, now=now, reason=error)
        delivery.save(update_fields=fields)
        return None
    delay = retry_delay(delivery.attempts, retry_after=outcome.retry_after)
    delivery.status, delivery.lease_expires_at = Status.PENDING, None
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.save(update_fields=[*fields, "next_attempt_at"])
    return delay


# --- Sweeping --------------------------------------------------------------------------------------


def outbox_sweep(*, now: datetime | None = None) -> int:
    """Publish again the deliveries the broker never got or lost; return how many.

    Due means: pending for ``CONSENT_WEBHOOKS_SWEEP_AFTER_SECONDS`` past ``next_attempt_at``, or in
    flight past the lease (its worker died: the attempt is logged as interrupted). Safe to run
    twice and concurrently: rows are locked with ``SKIP LOCKED`` (PostgreSQL), their
    ``next_attempt_at`` moves to ``now`` so the next sweep leaves them alone for a while, and the
    task's claim lets only one worker send.
    """
    now = now or timezone.now()
    grace = timedelta(seconds=webhook_settings.SWEEP_AFTER_SECONDS)
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "event__user")
            .filter(subscription__is_active=True)
            .filter(
                Q(status=Status.PENDING, next_attempt_at__lte=now - grace)
                | Q(status=Status.SENDING, lease_expires_at__lte=now)
            )
            .order_by("next_attempt_at", "pk")[: webhook_settings.SWEEP_BATCH]
        )
        ids = []
        for delivery in due:
            if delivery.status == Status.SENDING:
                _interrupted(delivery, now=now)
                if delivery.attempts >= webhook_settings.MAX_ATTEMPTS:
                    _give_up(delivery, now=now, reason="interrupted on the last attempt")
                    delivery.save(update_fields=["status", "lease_expires_at", "last_error", "last_status_code"])
                    continue
                delivery.status, delivery.lease_expires_at = Status.PENDING, None
            delivery.next_attempt_at = now
            delivery.save(
                update_fields=["status", "lease_expires_at", "next_attempt_at", "last_error", "last_status_code"]
            )
            ids.append(delivery.pk)
        if ids:
            transaction.on_commit(partial(deliveries_publish, ids), robust=True)
    if ids:
        logger.info("outbox sweep: %d deliveries published again", len(ids))
    return len(ids)


def outbox_purge(*, now: datetime | None = None) -> int:
    """Delete events older than ``CONSENT_WEBHOOKS_RETENTION_DAYS`` with no unfinished delivery."""
    cutoff = (now or timezone.now()) - timedelta(days=webhook_settings.RETENTION_DAYS)
    unfinished = WebhookDelivery.objects.filter(event=OuterRef("pk"), status__in=[Status.PENDING, Status.SENDING])
    with transaction.atomic():
        old = OutboxEvent.objects.filter(created__lt=cutoff).exclude(Exists(unfinished))
        count = old.count()
        old.delete()
    return count


# --- Subscriptions (staff) -------------------------------------------------------------------------


def event_kinds_validate(kinds: Iterable[str]) -> list[str]:
    """Clean a list of event kinds (deduplicated, in order); ``ValidationError`` on a bad one."""
    cleaned: list[str] = []
    for kind in kinds:
        kind = kind.strip()
        if not kind:
            continue
        if not EVENT_KIND_RE.fullmatch(kind) or len(kind) > 100:
            raise ValidationError(
                _("%(kind)s is not an event kind (like consent.changed)."), code="kind", params={"kind": kind}
            )
        if kind not in cleaned:
            cleaned.append(kind)
    return cleaned


def _subscription_audit(kind: str, subscription: WebhookSubscription, actor, **data) -> None:
    audit_record(
        kind=kind,
        user=actor if getattr(actor, "is_authenticated", False) else None,
        data={
            "subscription": subscription.pk,
            "name": subscription.name,
            "url": subscription.url,
            "event_kinds": subscription.event_kinds,
            "is_active": subscription.is_active,
            "secret_fingerprint": subscription.secret_fingerprint,
            **data,
        },
    )


@transaction.atomic
def webhook_subscription_save(*, subscription: WebhookSubscription, actor=None) -> str | None:
    """Save a subscription created or edited by staff. A new one gets a signing secret, returned
    here (and nowhere else, ever): show it once."""
    webhook_url_validate(subscription.url)
    subscription.event_kinds = event_kinds_validate(subscription.event_kinds)
    secret = None
    if subscription.pk is None:
        secret = signing.secret_generate()
        subscription.secret_sealed = signing.secret_seal(secret)
        subscription.secret_fingerprint = signing.secret_fingerprint(secret)
        subscription.save()
        _subscription_audit("webhook.subscription_created", subscription, actor)
    else:
        subscription.save()
        _subscription_audit("webhook.subscription_changed", subscription, actor)
    return secret


def webhook_subscription_create(
    *, name: str, url: str, event_kinds: list[str], is_active: bool = True, actor=None
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (``whsec_…``), shown to nobody else."""
    subscription = WebhookSubscription(name=name, url=url, event_kinds=list(event_kinds), is_active=is_active)
    secret = webhook_subscription_save(subscription=subscription, actor=actor)
    return subscription, secret


@transaction.atomic
def webhook_subscription_rotate_secret(
    *, subscription: WebhookSubscription, actor=None, now: datetime | None = None
) -> str:
    """A new secret; the current one keeps signing too for ``CONSENT_WEBHOOKS_SECRET_OVERLAP_SECONDS``
    (two signatures per delivery), so the receiver switches without losing a delivery."""
    now = now or timezone.now()
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    previous_fingerprint = subscription.secret_fingerprint
    secret = signing.secret_generate()
    subscription.previous_secret_sealed = subscription.secret_sealed
    subscription.previous_secret_expires_at = now + timedelta(seconds=webhook_settings.SECRET_OVERLAP_SECONDS)
    subscription.secret_sealed = signing.secret_seal(secret)
    subscription.secret_fingerprint = signing.secret_fingerprint(secret)
    subscription.save(
        update_fields=[
            "previous_secret_sealed",
            "previous_secret_expires_at",
            "secret_sealed",
            "secret_fingerprint",
            "updated",
        ]
    )
    _subscription_audit(
        "webhook.secret_rotated",
        subscription,
        actor,
        previous_fingerprint=previous_fingerprint,
        previous_signs_until=subscription.previous_secret_expires_at.isoformat(),
    )
    return secret


@transaction.atomic
def webhook_subscription_deactivate(*, subscription: WebhookSubscription, actor=None, reason: str = "") -> None:
    """Stop delivering to a subscription; its pending deliveries wait until it is active again."""
    updated = WebhookSubscription.objects.filter(pk=subscription.pk, is_active=True).update(
        is_active=False, updated=timezone.now()
    )
    if updated:
        subscription.is_active = False
        _subscription_audit("webhook.subscription_deactivated", subscription, actor, reason=reason)


@transaction.atomic
def webhook_subscription_delete(*, subscription: WebhookSubscription, actor=None) -> None:
    """Remove a subscription with its deliveries (pending ones are dropped: deactivate to pause)."""
    _subscription_audit("webhook.subscription_deleted", subscription, actor)
    subscription.delete()


@transaction.atomic
def webhook_deliveries_redeliver(*, delivery_ids: Iterable[int], actor=None, now: datetime | None = None) -> int:
    """Staff: send deliveries again (failed ones, or a replay of delivered ones) with a fresh set of
    attempts; in-flight ones are left alone. Same ``webhook-id``: receivers that already processed
    it will ignore it."""
    now = now or timezone.now()
    deliveries = list(
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("event")
        .filter(pk__in=list(delivery_ids))
        .exclude(status=Status.SENDING)
    )
    for delivery in deliveries:
        delivery.status, delivery.attempts, delivery.next_attempt_at = Status.PENDING, 0, now
        delivery.lease_expires_at = None
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "lease_expires_at"])
        audit_record(
            kind="webhook.delivery_redelivered",
            user=actor if getattr(actor, "is_authenticated", False) else None,
            data={
                "delivery": delivery.pk,
                "event": delivery.event.webhook_id,
                "subscription": delivery.subscription_id,
            },
        )
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(partial(deliveries_publish, ids), robust=True)
    return len(ids)
