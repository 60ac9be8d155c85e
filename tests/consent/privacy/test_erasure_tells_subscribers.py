"""Erasure tells the subscribed marketing and CRM systems to forget the member too."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from consent.models import ErasureRequest, OutboxEvent, WebhookDelivery
from consent.outbox import services as outbox
from consent.privacy import services

pytestmark = pytest.mark.django_db


def test_erasure_sends_member_erased_and_unlinks_the_members_events(member, django_capture_on_commit_callbacks):
    subscription, _secret = outbox.webhook_subscription_create(
        name="CRM", url="https://crm.example/hooks", event_kinds=["member.erased", "consent.changed"]
    )
    sub = str(member.sub)
    with django_capture_on_commit_callbacks(execute=False):
        from django.db import transaction

        with transaction.atomic():
            outbox.outbox_event_add(kind="consent.changed", payload={"marketing_email": False}, user=member)
        erasure = services.erasure_request_create(user=member, reason=ErasureRequest.Reason.STAFF)
        services.erasure_run(request_id=erasure.pk)

    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE
    assert not get_user_model().objects.filter(pk=member.pk).exists()
    erased = OutboxEvent.objects.get(kind="member.erased")
    assert erased.subject == sub and erased.user_id is None
    assert WebhookDelivery.objects.filter(event=erased, subscription=subscription).exists()
    # The earlier withdrawal is still to be delivered, without its link to the account.
    earlier = OutboxEvent.objects.get(kind="consent.changed")
    assert earlier.user_id is None and earlier.subject == sub
    assert not OutboxEvent.objects.filter(user_id=member.pk).exists()
