"""The outbox in one process: events written with the change, signed deliveries to a real
receiver on loopback, retries, failure, the sweeper. Celery runs in-process here; the same paths
through Redis and a worker process are in ``test_worker.py``."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from consent.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from consent.outbox import services
from consent.outbox.app_settings import webhook_settings
from idp.models import AuditEvent
from tests.consent.webhooks.conftest import closed_url

SPEC = "Standard Webhooks 1.0"
Status = WebhookDelivery.Status


@pytest.fixture
def clock(monkeypatch):
    """``clock.move(seconds)``: ``timezone.now()`` runs ahead by that much (time rules under test)."""

    class Clock:
        offset = timedelta(0)
        real_now = staticmethod(timezone.now)

        def now(self):
            return self.real_now() + self.offset

        def move(self, seconds: float):
            self.offset += timedelta(seconds=seconds)

    moved = Clock()
    monkeypatch.setattr(timezone, "now", moved.now)
    return moved


def add(kind="consent.changed", payload=None, user=None, capture=None):
    """Add an event in a transaction and run what it scheduled on commit."""
    with capture(execute=True):
        with transaction.atomic():
            return services.outbox_event_add(kind=kind, payload=payload or {"purpose": "email"}, user=user)


def test_event_goes_only_to_active_subscriptions_of_its_kind(
    receiver, subscribe, member, eager_tasks, django_capture_on_commit_callbacks
):
    crm, loyalty, paused = receiver(), receiver(), receiver()
    crm_sub = subscribe(crm, kinds=["consent.changed", "consent.withdrawn"])
    subscribe(loyalty, kinds=["loyalty.tier_changed"], name="Loyalty")
    paused_sub = subscribe(paused, name="Paused")
    WebhookSubscription.objects.filter(pk=paused_sub.pk).update(is_active=False)

    event = add(payload={"purpose": "email", "granted": True}, user=member, capture=django_capture_on_commit_callbacks)

    [request] = crm.wait_for(1)
    assert request["error"] == "" and request["status"] == 200
    assert request["headers"]["webhook-id"] == event.webhook_id and event.webhook_id.startswith("evt_")
    assert request["headers"]["content-type"] == "application/json"
    body = json.loads(request["body"])
    assert body == {
        "id": event.webhook_id,
        "type": "consent.changed",
        "timestamp": body["timestamp"],
        "subject": str(member.sub),
        "data": {"purpose": "email", "granted": True},
    }
    assert body["timestamp"].endswith("Z")
    assert loyalty.received == [] and paused.received == []
    [delivery] = WebhookDelivery.objects.filter(event=event)
    assert delivery.subscription == crm_sub
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Status.DELIVERED, 1, 200)
    assert delivery.delivered_at is not None and delivery.lease_expires_at is None
    [attempt] = delivery.attempt_log.all()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.number == 1


def test_an_event_with_no_subscriber_is_kept_without_deliveries(db, django_capture_on_commit_callbacks):
    event = add(kind="consent.changed", capture=django_capture_on_commit_callbacks)
    assert OutboxEvent.objects.filter(pk=event.pk).exists()
    assert not event.deliveries.exists()


def test_outside_a_transaction_it_refuses(transactional_db):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        services.outbox_event_add(kind="consent.changed", payload={})
    assert not OutboxEvent.objects.exists()


def test_a_rolled_back_change_sends_nothing(transactional_db, receiver, subscribe, eager_tasks):
    crm = receiver()
    subscribe(crm)
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            services.outbox_event_add(kind="consent.changed", payload={"purpose": "email"})
            raise ZeroDivisionError  # the change fails after the event was written
    assert not OutboxEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert crm.received == []  # in-process delivery would have happened at commit


def test_a_committed_change_is_delivered_at_commit(transactional_db, receiver, subscribe, eager_tasks):
    crm = receiver()
    subscribe(crm)
    with transaction.atomic():
        event = services.outbox_event_add(kind="consent.changed", payload={"purpose": "sms"})
        assert crm.received == []  # not before the commit
    assert crm.wait_for(1)[0]["payload"]["id"] == event.webhook_id
    assert WebhookDelivery.objects.get().status == Status.DELIVERED


@pytest.mark.parametrize(
    "kind, payload, error",
    [
        ("consent.changed", {"at": timezone.now()}, "not plain JSON"),
        ("consent.changed", {"x": float("nan")}, "not plain JSON"),
        ("consent.changed", ["a list"], "JSON object"),
        ("consent.changed", {"blob": "x" * 70_000}, "MAX_PAYLOAD_BYTES"),
        ("consent changed", {}, "invalid event kind"),
        ("consent..changed", {}, "invalid event kind"),
        ("", {}, "invalid event kind"),
    ],
)
def test_bad_events_are_refused_before_anything_is_written(db, kind, payload, error):
    with pytest.raises(ValueError, match=error):
        with transaction.atomic():
            services.outbox_event_add(kind=kind, payload=payload)
    assert not OutboxEvent.objects.exists()


@pytest.mark.spec(f"{SPEC} §Deliverability and reliability")
def test_a_failed_attempt_is_retried_after_a_backoff_and_then_delivered(
    receiver, subscribe, eager_tasks, django_capture_on_commit_callbacks, clock, settings
):
    settings.CONSENT_WEBHOOKS_RETRY_BASE_SECONDS = 10
    crm = receiver([500])
    subscribe(crm)
    event = add(capture=django_capture_on_commit_callbacks)

    crm.wait_for(1)
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Status.PENDING, 1, 500)
    assert delivery.last_error == "HTTP 500"
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 9 < wait <= 10 * 1.25  # base delay plus up to 25 % jitter

    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_sweep() == 0  # not due yet
    clock.move(wait + webhook_settings.SWEEP_AFTER_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_sweep() == 1

    first, second = crm.wait_for(2)
    assert crm.statuses == [500, 200] and not first["error"] and not second["error"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == event.webhook_id
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (Status.DELIVERED, 2, "")
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 200]


def test_backoff_doubles_with_jitter_up_to_a_ceiling(settings):
    settings.CONSENT_WEBHOOKS_RETRY_BASE_SECONDS = 10
    settings.CONSENT_WEBHOOKS_RETRY_MAX_SECONDS = 100
    for attempts, base in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = {services.retry_delay(attempts) for _ in range(20)}
        assert all(base <= d <= base * 1.25 for d in delays), (attempts, delays)
        assert len(delays) > 1  # jittered
    assert services.retry_delay(1, retry_after=60) >= 60  # Retry-After is honoured …
    assert services.retry_delay(1, retry_after=10_000) <= 100  # … up to the ceiling


def test_a_receiver_that_stays_down_fails_the_delivery_after_the_last_attempt(
    subscribe, receiver, eager_tasks, django_capture_on_commit_callbacks, clock, settings, member
):
    settings.CONSENT_WEBHOOKS_MAX_ATTEMPTS = 3
    settings.CONSENT_WEBHOOKS_RETRY_BASE_SECONDS = 1
    subscription = subscribe(receiver(), url=closed_url())
    event = add(user=member, capture=django_capture_on_commit_callbacks)

    for _ in range(2):
        clock.move(120)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.outbox_sweep() == 1
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 3)
    assert "ConnectionRefusedError" in delivery.last_error and delivery.last_status_code is None
    assert list(delivery.attempt_log.values_list("number", flat=True)) == [1, 2, 3]
    audit = AuditEvent.objects.get(kind="webhook.delivery_failed")
    assert audit.user == member
    assert audit.data["subscription"] == subscription.pk and audit.data["attempts"] == 3

    clock.move(3600)
    assert services.outbox_sweep() == 0  # failed is final (until staff deliver it again)


@pytest.mark.spec(f"{SPEC} §Delivery success and failure")
def test_a_redirect_is_a_failure_and_is_not_followed(
    receiver, subscribe, eager_tasks, django_capture_on_commit_callbacks
):
    elsewhere = receiver()
    crm = receiver([(302, {"Location": elsewhere.url}), (307, {"Location": elsewhere.url})])
    subscribe(crm)
    event = add(capture=django_capture_on_commit_callbacks)
    crm.wait_for(1)
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (Status.PENDING, 302, "HTTP 302")
    assert elsewhere.received == []


@pytest.mark.spec(f"{SPEC} §Delivery success and failure")
def test_410_gone_fails_the_delivery_and_deactivates_the_subscription(
    receiver, subscribe, eager_tasks, django_capture_on_commit_callbacks
):
    crm = receiver([410])
    subscription = subscribe(crm)
    event = add(capture=django_capture_on_commit_callbacks)
    crm.wait_for(1)
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 1)
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert AuditEvent.objects.filter(kind="webhook.subscription_deactivated").exists()
    add(capture=django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.count() == 1  # no new deliveries to it


def test_retry_after_from_the_receiver_is_honoured(
    receiver, subscribe, eager_tasks, django_capture_on_commit_callbacks
):
    crm = receiver([(503, {"Retry-After": "120"})])
    subscribe(crm)
    event = add(capture=django_capture_on_commit_callbacks)
    crm.wait_for(1)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == Status.PENDING
    assert (delivery.next_attempt_at - timezone.now()).total_seconds() > 115


@pytest.mark.spec(f"{SPEC} §Request timeouts")
def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    receiver, subscribe, eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.CONSENT_WEBHOOKS_TIMEOUT = 0.5
    hold = threading.Event()
    crm = receiver(hold=hold)
    subscribe(crm)
    event = add(capture=django_capture_on_commit_callbacks)
    hold.set()
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == Status.PENDING and "timed out" in delivery.last_error
    assert delivery.attempt_log.get().duration_ms >= 500


def test_a_paused_subscription_keeps_its_deliveries_until_it_is_active_again(
    receiver, subscribe, db, eager_tasks, django_capture_on_commit_callbacks, clock
):
    crm = receiver()
    subscription = subscribe(crm)
    with transaction.atomic():  # committed in the test's transaction; its on-commit never runs
        event = services.outbox_event_add(kind="consent.changed", payload={})
    services.webhook_subscription_deactivate(subscription=subscription)
    clock.move(3600)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_sweep() == 0
    assert services.webhook_delivery_claim(delivery_id=event.deliveries.get().pk) is None

    subscription.is_active = True
    services.webhook_subscription_save(subscription=subscription)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_sweep() == 1
    assert len(crm.wait_for(1)) == 1 and crm.verified[0]["id"] == event.webhook_id


def test_the_sweeper_publishes_a_forgotten_delivery_once_per_grace_period(
    receiver, subscribe, db, django_capture_on_commit_callbacks, clock, settings
):
    """Its publication never happened (the broker was down): the sweeper finds it, once."""
    subscribe(receiver())
    with transaction.atomic():
        event = services.outbox_event_add(kind="consent.changed", payload={})
    delivery = event.deliveries.get()

    clock.move(webhook_settings.SWEEP_AFTER_SECONDS - 5)
    with django_capture_on_commit_callbacks() as published:
        assert services.outbox_sweep() == 0  # recent: its own publication may still be on the way
    clock.move(10)
    with django_capture_on_commit_callbacks() as published:
        assert services.outbox_sweep() == 1
        assert services.outbox_sweep() == 0  # a second run right after leaves it alone
    assert len(published) == 1
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING and delivery.attempts == 0


def test_a_delivery_left_in_flight_by_a_dead_worker_is_retried_after_its_lease(
    receiver, subscribe, db, eager_tasks, django_capture_on_commit_callbacks, clock, settings
):
    crm = receiver()
    subscribe(crm)
    with transaction.atomic():
        event = services.outbox_event_add(kind="consent.changed", payload={})
    delivery = event.deliveries.get()
    assert services.webhook_delivery_claim(delivery_id=delivery.pk) is not None  # then the worker died
    assert services.webhook_delivery_claim(delivery_id=delivery.pk) is None  # in flight: nobody else sends

    clock.move(webhook_settings.LEASE_SECONDS - 1)
    assert services.outbox_sweep() == 0
    clock.move(2)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_sweep() == 1

    assert len(crm.wait_for(1)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 2)
    interrupted, delivered = delivery.attempt_log.all()
    assert "interrupted" in interrupted.error and delivered.succeeded


def test_only_one_of_two_simultaneous_claims_wins(transactional_db, receiver, subscribe, broker_down):
    """Two workers got the same message (a sweep and a late original): one sends."""
    subscribe(receiver())
    with transaction.atomic():
        event = services.outbox_event_add(kind="consent.changed", payload={})
    delivery_id = event.deliveries.get().pk
    barrier, results = threading.Barrier(2), []

    def claim():
        try:
            barrier.wait(10)
            results.append(services.webhook_delivery_claim(delivery_id=delivery_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2 and sum(r is not None for r in results) == 1
    assert WebhookDelivery.objects.get(pk=delivery_id).attempts == 1


def test_concurrent_sweepers_skip_rows_another_one_holds(transactional_db, receiver, subscribe, clock, broker_down):
    if connection.vendor != "postgresql":
        pytest.skip("SELECT … FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite serializes writers instead")
    subscribe(receiver())
    with transaction.atomic():
        services.outbox_event_add(kind="consent.changed", payload={})
        services.outbox_event_add(kind="consent.changed", payload={})
    first, second = WebhookDelivery.objects.order_by("pk")
    clock.move(3600)
    locked, release, counts = threading.Event(), threading.Event(), []

    def other_sweeper():  # holds the first row, as a sweeper in the middle of its transaction would
        try:
            with transaction.atomic():
                list(WebhookDelivery.objects.select_for_update().filter(pk=first.pk))
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_sweeper)
    thread.start()
    assert locked.wait(30)
    try:
        counts.append(services.outbox_sweep())  # does not wait for the held row: takes the other
        assert WebhookDelivery.objects.get(pk=first.pk).next_attempt_at == first.next_attempt_at
        assert WebhookDelivery.objects.get(pk=second.pk).next_attempt_at != second.next_attempt_at
    finally:
        release.set()
        thread.join(30)
    counts.append(services.outbox_sweep())  # the held row once released; the other is not due again
    assert counts == [1, 1]
    first_after, second_after = WebhookDelivery.objects.order_by("pk")
    assert first_after.next_attempt_at > second_after.next_attempt_at > second.next_attempt_at


def test_finished_events_are_purged_after_the_retention_period(receiver, subscribe, db, settings):
    subscribe(receiver())
    old = timezone.now() - timedelta(days=webhook_settings.RETENTION_DAYS + 1)
    with transaction.atomic():
        done = services.outbox_event_add(kind="consent.changed", payload={}, now=old)
        waiting = services.outbox_event_add(kind="consent.changed", payload={}, now=old)
        recent = services.outbox_event_add(kind="consent.changed", payload={})
    WebhookDelivery.objects.filter(event=done).update(status=Status.DELIVERED)
    WebhookDelivery.objects.filter(event=recent).update(status=Status.FAILED)
    assert services.outbox_purge() == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {waiting.pk, recent.pk}
    assert not WebhookAttempt.objects.filter(delivery__event=done).exists()


@pytest.mark.parametrize(
    "url, allow_http, ok",
    [
        ("https://crm.example/hooks", False, True),
        ("http://crm.example/hooks", False, False),
        ("http://crm.example/hooks", True, True),
        ("http://127.0.0.1:8080/hooks", False, True),
        ("http://[::1]:8080/hooks", False, True),
        ("http://localhost/hooks", False, True),
        ("https://user:pw@crm.example/hooks", False, False),
        ("https://crm.example/hooks#frag", False, False),
        ("ftp://crm.example/hooks", True, False),
        ("crm.example/hooks", True, False),
    ],
)
def test_receiver_urls(url, allow_http, ok, settings):
    from django.core.exceptions import ValidationError

    settings.CONSENT_WEBHOOKS_ALLOW_HTTP = allow_http
    if ok:
        services.webhook_url_validate(url)
    else:
        with pytest.raises(ValidationError):
            services.webhook_url_validate(url)


def test_http_is_refused_outside_the_embedded_set_up_by_default(settings):
    from django.core.exceptions import ValidationError

    settings.EMBEDDED = False
    with pytest.raises(ValidationError, match="https"):
        services.webhook_url_validate("http://crm.example/hooks")
    settings.EMBEDDED = True
    services.webhook_url_validate("http://crm.example/hooks")
