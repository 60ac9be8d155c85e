"""Webhooks through a real broker and a real Celery worker process.

The broker is a private ``redis-server`` on a free port (so a test can stop it); the worker runs
``tests/consent/webhooks/worker_settings.py``: the project's settings with a retry schedule of
fractions of a second, three attempts, and a sweep every second when it runs beat (``-B``).
"""

from __future__ import annotations

import re
import threading
import time

from django.db import connection, transaction

from consent.models import WebhookDelivery
from consent.outbox import services
from consent.outbox.tasks import deliver
from idp.models import AuditEvent
from tests.consent.webhooks.conftest import closed_url, needs_redis_server

pytestmark = needs_redis_server
Status = WebhookDelivery.Status


def add_event(user=None, kind="consent.changed", payload=None):
    with transaction.atomic():  # committed (transactional test): published on commit
        return services.outbox_event_add(kind=kind, payload=payload or {"purpose": "email"}, user=user)


def add_event_timed(limit: float, **kwargs):
    """``add_event`` in another thread, bounded: a commit stuck on the broker fails the test
    instead of hanging it. Returns the event and how long the commit took."""
    done, box = threading.Event(), {}

    def run():
        try:
            started = time.monotonic()
            box["event"] = add_event(**kwargs)
            box["elapsed"] = time.monotonic() - started
        finally:
            connection.close()
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(limit), f"the commit did not return within {limit}s"
    assert "event" in box, "the commit failed"
    return box["event"], box["elapsed"]


def delivery_reaches(processes, proc, log, delivery: WebhookDelivery, status: str, timeout: float = 60):
    def check():
        delivery.refresh_from_db()
        return delivery.status == status

    processes.wait_until(proc, log, check, f"delivery {delivery.pk} {status}", timeout=timeout)
    return delivery


def finished(log, task: str) -> int:
    """How many runs of ``task`` the worker has reported finished."""
    return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", log.read_text()))


def test_worker_delivers_a_signed_event_to_its_subscribers_only_and_ignores_duplicates(
    start_worker, receiver, subscribe, member
):
    crm, loyalty = receiver(), receiver()
    subscribe(crm)
    subscribe(loyalty, kinds=["loyalty.tier_changed"], name="Loyalty")
    processes, proc, log = start_worker()

    event = add_event(user=member, payload={"purpose": "email", "granted": False})

    [request] = crm.wait_for(1)
    assert request["error"] == "", request["error"]
    assert request["payload"]["data"] == {"purpose": "email", "granted": False}
    assert request["payload"]["subject"] == str(member.sub)
    assert request["headers"]["webhook-id"] == event.webhook_id
    delivery = delivery_reaches(processes, proc, log, event.deliveries.get(), Status.DELIVERED)
    assert delivery.attempts == 1 and delivery.last_status_code == 200

    # The same message twice more (as a sweep racing a slow worker would send it): no second POST.
    before = finished(log, "consent.outbox.deliver")
    deliver.delay(delivery.pk)
    deliver.delay(delivery.pk)
    processes.wait_until(
        proc, log, lambda: finished(log, "consent.outbox.deliver") >= before + 2, "the duplicate messages handled"
    )
    assert len(crm.received) == 1
    assert loyalty.received == [] and event.deliveries.count() == 1


def test_worker_retries_a_failed_delivery_with_backoff(start_worker, receiver, subscribe):
    crm = receiver([500])
    subscribe(crm)
    processes, proc, log = start_worker()

    event = add_event()

    first, second = crm.wait_for(2, timeout=60)
    assert crm.statuses == [500, 200]
    assert first["error"] == second["error"] == ""
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == event.webhook_id
    delivery = delivery_reaches(processes, proc, log, event.deliveries.get(), Status.DELIVERED)
    assert delivery.attempts == 2
    assert [(a.number, a.status_code) for a in delivery.attempt_log.all()] == [(1, 500), (2, 200)]
    assert "retry in" in log.read_text()


def test_worker_gives_up_on_a_receiver_that_stays_down(start_worker, subscribe, receiver, member):
    subscription = subscribe(receiver(), url=closed_url())
    processes, proc, log = start_worker()

    event = add_event(user=member)

    delivery = delivery_reaches(processes, proc, log, event.deliveries.get(), Status.FAILED)
    assert delivery.attempts == 3  # worker_settings: CONSENT_WEBHOOKS_MAX_ATTEMPTS = 3
    assert "ConnectionRefusedError" in delivery.last_error
    assert [a.number for a in delivery.attempt_log.all()] == [1, 2, 3]
    assert not any(a.succeeded for a in delivery.attempt_log.all())
    audit = AuditEvent.objects.get(kind="webhook.delivery_failed")
    assert audit.data["subscription"] == subscription.pk and audit.user == member


def test_an_event_written_while_the_broker_is_down_is_delivered_once_when_it_is_back(
    broker, start_worker, receiver, subscribe, member
):
    from idp.tasks import ping

    crm = receiver()
    subscribe(crm)
    ping.delay("before the outage")  # the producer pool holds a live connection to the broker
    broker.stop()

    event, elapsed = add_event_timed(10, user=member)  # commits; publishing on commit fails

    assert elapsed < 2, f"the commit took {elapsed:.1f}s with the broker down"
    delivery = event.deliveries.get()
    assert (delivery.status, delivery.attempts) == (Status.PENDING, 0)
    assert crm.received == []

    broker.start()  # an empty broker: the message was never published
    processes, proc, log = start_worker(beat=True)  # beat runs the sweeper every second

    [request] = crm.wait_for(1, timeout=60)
    assert request["error"] == "" and request["headers"]["webhook-id"] == event.webhook_id
    delivery = delivery_reaches(processes, proc, log, delivery, Status.DELIVERED)
    assert delivery.attempts == 1
    # Let the sweeper run twice more: a delivered event is not sent again.
    sweeps = finished(log, "consent.outbox.sweep")
    processes.wait_until(proc, log, lambda: finished(log, "consent.outbox.sweep") >= sweeps + 2, "two more sweeps")
    assert len(crm.received) == 1


def test_a_hung_broker_does_not_hold_the_commit_and_each_event_is_delivered_once(
    broker, start_worker, receiver, subscribe
):
    """A broker that accepts connections but never answers (SIGSTOP): the publish gives up after
    ``CONSENT_WEBHOOKS_PUBLISH_TIMEOUT``. Its message may still reach the broker when it wakes up,
    and the sweeper publishes it too: the receiver still gets it once."""
    crm = receiver()
    subscribe(crm)
    before = add_event(payload={"n": 1})  # published: the connection is live when the broker hangs
    broker.pause()

    during, elapsed = add_event_timed(10, payload={"n": 2})

    assert elapsed < 3, f"the commit took {elapsed:.1f}s with a hung broker"
    assert during.deliveries.get().status == Status.PENDING

    broker.resume()
    processes, proc, log = start_worker(beat=True)
    crm.wait_for(2, timeout=60)
    for event in (before, during):
        delivery_reaches(processes, proc, log, event.deliveries.get(), Status.DELIVERED)
    sweeps = finished(log, "consent.outbox.sweep")
    processes.wait_until(proc, log, lambda: finished(log, "consent.outbox.sweep") >= sweeps + 2, "two more sweeps")
    assert sorted(r["headers"]["webhook-id"] for r in crm.received) == sorted([before.webhook_id, during.webhook_id])
    assert all(r["error"] == "" for r in crm.received)
