"""examples/webhook_receiver.py, the receiver docs/webhooks.md shows: it accepts our deliveries,
processes each event id once, and refuses a tampered one."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import pytest
import requests
from django.db import transaction

from consent.models import WebhookDelivery
from consent.outbox import services
from tests.consent.webhooks.test_signing import (
    VECTOR_BODY,
    VECTOR_ID,
    VECTOR_SECRET,
    VECTOR_SIGNATURE,
    VECTOR_TIMESTAMP,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "webhook_receiver.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_verifies_the_specification_vector(example):
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert example.verify([VECTOR_SECRET], headers, VECTOR_BODY, now=VECTOR_TIMESTAMP) == {"test": 2432232314}
    with pytest.raises(example.Invalid):
        example.verify([VECTOR_SECRET], headers, VECTOR_BODY + b" ", now=VECTOR_TIMESTAMP)
    with pytest.raises(example.Invalid):
        example.verify([VECTOR_SECRET], headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 301)


def test_the_example_processes_a_delivery_once_and_refuses_a_forgery(
    example, db, eager_tasks, django_capture_on_commit_callbacks
):
    events, secrets = [], []
    server = example.make_server(secrets, events.append)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        _subscription, secret = services.webhook_subscription_create(
            name="Example", url=url, event_kinds=["consent.changed"]
        )
        secrets.append(secret)
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                event = services.outbox_event_add(kind="consent.changed", payload={"purpose": "email"})
        delivery = WebhookDelivery.objects.get(event=event)
        assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.last_status_code == 204
        with django_capture_on_commit_callbacks(execute=True):
            services.webhook_deliveries_redeliver(delivery_ids=[delivery.pk])  # the same id again
        assert len(events) == 1 and events[0]["id"] == event.webhook_id
        assert delivery.attempt_log.count() == 2

        forged = requests.post(
            url,
            data=b'{"type":"consent.changed","data":{"purpose":"everything"}}',
            headers={
                "webhook-id": "evt_forged",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,AAAA",
            },
            timeout=5,
        )
        assert forged.status_code == 400 and len(events) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_the_verification_snippet_in_the_docs_works():
    import re

    from consent.outbox import signing

    source = (EXAMPLE.parents[1] / "docs" / "webhooks.md").read_text()
    snippet = re.search(r"```python\n(import base64.*?)```", source, re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation
    secret, body = signing.secret_generate(), b'{"type":"consent.changed"}'
    headers = signing.signed_headers(keys=[secret], msg_id="evt_1", timestamp=int(time.time()), body=body)
    assert namespace["verify"](secret, headers, body) == {"type": "consent.changed"}
    with pytest.raises(ValueError):
        namespace["verify"](secret, headers, body + b" ")
    with pytest.raises(ValueError):
        namespace["verify"](signing.secret_generate(), headers, body)
