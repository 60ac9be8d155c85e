"""Every consent change is an outbox event in the same transaction, for the subscribed systems."""

from __future__ import annotations

import pytest

from consent.models import ConsentRecord, OutboxEvent, WebhookDelivery
from consent.outbox import services as outbox
from consent.purposes import services
from idp.api import DomainError

pytestmark = pytest.mark.django_db


def test_a_change_is_one_consent_changed_event_for_each_subscriber(member, purposes):
    crm, _ = outbox.webhook_subscription_create(
        name="CRM", url="https://crm.example/h", event_kinds=["consent.changed"]
    )
    outbox.webhook_subscription_create(name="Other", url="https://other.example/h", event_kinds=["member.erased"])

    services.consent_change(user=member, changes={"marketing_email": True, "analytics": True}, channel="web")
    event = OutboxEvent.objects.get(kind="consent.changed")
    assert event.subject == str(member.sub) and event.user_id == member.pk
    assert sorted(c["purpose"] for c in event.payload["changes"]) == ["analytics", "marketing_email"]
    assert sorted(event.payload["consents"]) == ["analytics", "marketing_email"]
    assert list(WebhookDelivery.objects.filter(event=event).values_list("subscription", flat=True)) == [crm.pk]

    # Setting a purpose to its current state changes nothing and tells nobody.
    services.consent_change(user=member, changes={"marketing_email": True}, channel="web")
    assert OutboxEvent.objects.count() == 1


def test_a_refused_change_leaves_neither_record_nor_event(member, purposes):
    with pytest.raises(DomainError):
        services.consent_change(user=member, changes={"marketing_email": True, "no_such_purpose": True}, channel="web")
    assert not ConsentRecord.objects.exists() and not OutboxEvent.objects.exists()
