"""Staff manage subscriptions in the admin: the secret is shown once, stored sealed, rotated with an
overlap; deliveries and their attempts are visible and can be sent again."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from consent.models import WebhookDelivery, WebhookSubscription
from consent.outbox import selectors, services, signing
from consent.outbox.signing import verify
from idp.models import AuditEvent
from tests.accounts.mfa.conftest import force_login_with_mfa
from tests.consent.webhooks.conftest import closed_url

pytestmark = pytest.mark.django_db

ADD = "/admin/consent/webhooksubscription/add/"
CHANGELIST = "/admin/consent/webhooksubscription/"
SECRET_RE = re.compile(r'<code class="webhook-secret">(whsec_[A-Za-z0-9+/=]+)</code>')


@pytest.fixture
def staff_client(client, admin_user):
    force_login_with_mfa(client, admin_user)
    return client


def form(**overrides) -> dict:
    data = {
        "name": "Marketing cloud",
        "url": "https://crm.example/hooks/consent",
        "kinds": "consent.changed\nconsent.withdrawn",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_staff_creates_a_subscription_and_sees_its_secret_once(staff_client, admin_user):
    resp = staff_client.post(ADD, form())

    assert resp.status_code == 200
    assert "no-store" in resp["Cache-Control"]
    [secret] = SECRET_RE.findall(resp.content.decode())
    subscription = WebhookSubscription.objects.get()
    assert subscription.event_kinds == ["consent.changed", "consent.withdrawn"]
    assert subscription.secret_fingerprint == signing.secret_fingerprint(secret)
    assert secret not in subscription.secret_sealed and secret[6:] not in subscription.secret_sealed
    assert selectors.signing_secrets(subscription) == [secret]

    page = staff_client.get(f"{CHANGELIST}{subscription.pk}/change/").content.decode()
    assert secret not in page and secret[6:] not in page
    assert subscription.secret_fingerprint in page
    assert "consent.changed\nconsent.withdrawn" in page
    listing = staff_client.get(CHANGELIST).content.decode()
    assert secret[6:] not in listing and "Marketing cloud" in listing

    audit = AuditEvent.objects.get(kind="webhook.subscription_created")
    assert audit.user == admin_user and audit.data["subscription"] == subscription.pk
    assert secret[6:] not in str(audit.data)


def test_editing_keeps_the_secret_and_is_audited(staff_client):
    subscription, secret = services.webhook_subscription_create(
        name="CRM", url="https://crm.example/hooks", event_kinds=["consent.changed"]
    )
    resp = staff_client.post(f"{CHANGELIST}{subscription.pk}/change/", form(name="CRM EU", kinds="consent.changed"))
    assert resp.status_code == 302
    subscription.refresh_from_db()
    assert subscription.name == "CRM EU" and selectors.signing_secrets(subscription) == [secret]
    assert AuditEvent.objects.filter(kind="webhook.subscription_changed").exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("url", "http://crm.example/hooks", "https"),
        ("url", "https://user:pw@crm.example/hooks", "credentials"),
        ("url", "ftp://crm.example/hooks", "valid URL"),
        ("kinds", "consent changed!", "not an event kind"),
        ("kinds", "", "required"),
    ],
)
def test_bad_input_is_a_form_error(staff_client, settings, field, value, message):
    settings.EMBEDDED = False  # http:// is accepted in the embedded set-up
    resp = staff_client.post(ADD, form(**{field: value}))
    assert resp.status_code == 200
    errors = resp.context["adminform"].form.errors
    assert field in errors and message in str(errors[field]), errors
    assert not WebhookSubscription.objects.exists()


def test_http_to_loopback_is_accepted(staff_client, settings):
    settings.EMBEDDED = False
    resp = staff_client.post(ADD, form(url="http://127.0.0.1:9000/hooks"))
    assert resp.status_code == 200 and SECRET_RE.search(resp.content.decode())


def test_rotating_the_secret_shows_the_new_one_and_signs_with_both_during_the_overlap(
    staff_client, receiver, eager_tasks, django_capture_on_commit_callbacks, settings
):
    old_only = receiver()
    subscription, old = services.webhook_subscription_create(
        name="CRM", url=old_only.url, event_kinds=["consent.changed"]
    )
    old_only.secrets = [old]

    resp = staff_client.post(CHANGELIST, {"action": "rotate_secret", "_selected_action": [subscription.pk]})

    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    [new] = SECRET_RE.findall(resp.content.decode())
    assert new != old
    subscription.refresh_from_db()
    assert subscription.secret_fingerprint == signing.secret_fingerprint(new)
    assert selectors.signing_secrets(subscription) == [new, old]
    overlap_end = subscription.previous_secret_expires_at
    assert overlap_end - timezone.now() > timedelta(hours=23)
    assert selectors.signing_secrets(subscription, now=overlap_end + timedelta(seconds=1)) == [new]
    assert AuditEvent.objects.get(kind="webhook.secret_rotated").data["previous_fingerprint"] == (
        signing.secret_fingerprint(old)
    )

    # A receiver still on the old secret accepts the next delivery, and so would one on the new secret.
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            services.outbox_event_add(kind="consent.changed", payload={})
    [request] = old_only.wait_for(1)
    assert request["error"] == "" and len(request["headers"]["webhook-signature"].split()) == 2
    assert verify(secret=new, body=request["body"], headers=request["headers"])


def test_deliveries_show_their_attempts_and_can_be_sent_again(
    staff_client, receiver, eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.CONSENT_WEBHOOKS_MAX_ATTEMPTS = 1
    crm = receiver()
    subscription, secret = services.webhook_subscription_create(
        name="CRM", url=closed_url(), event_kinds=["consent.changed"]
    )
    crm.secrets = [secret]
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            event = services.outbox_event_add(kind="consent.changed", payload={"purpose": "email"})
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == WebhookDelivery.Status.FAILED

    listing = staff_client.get("/admin/consent/webhookdelivery/", {"status": "failed"}).content.decode()
    assert event.webhook_id in listing and "ConnectionRefusedError" in listing
    detail = staff_client.get(f"/admin/consent/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "ConnectionRefusedError" in detail and 'name="_save"' not in detail
    event_page = staff_client.get(f"/admin/consent/outboxevent/{event.pk}/change/").content.decode()
    assert "consent.changed" in event_page and "purpose" in event_page

    WebhookSubscription.objects.filter(pk=subscription.pk).update(url=crm.url)  # the receiver is fixed
    with django_capture_on_commit_callbacks(execute=True):
        resp = staff_client.post(
            "/admin/consent/webhookdelivery/", {"action": "redeliver", "_selected_action": [delivery.pk]}
        )
    assert resp.status_code == 302
    [request] = crm.wait_for(1)
    assert request["error"] == "" and request["headers"]["webhook-id"] == event.webhook_id
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert AuditEvent.objects.filter(kind="webhook.delivery_redelivered").exists()
    assert staff_client.get("/admin/consent/webhookdelivery/add/").status_code == 403


def test_deleting_a_subscription_is_audited(staff_client, admin_user):
    subscription, _secret = services.webhook_subscription_create(
        name="Old CRM", url="https://old-crm.example/hooks", event_kinds=["consent.changed"]
    )
    resp = staff_client.post(f"{CHANGELIST}{subscription.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302 and not WebhookSubscription.objects.exists()
    audit = AuditEvent.objects.get(kind="webhook.subscription_deleted")
    assert audit.user == admin_user and audit.data["name"] == "Old CRM"


def test_members_cannot_reach_the_webhook_admin(client, member):
    client.force_login(member)
    assert client.get(CHANGELIST).status_code == 302
    assert client.get("/admin/consent/webhookdelivery/").status_code == 302
