"""The transactional outbox and outgoing webhooks (Standard Webhooks 1.0).

An :class:`OutboxEvent` is written in the same database transaction as the change it reports,
together with one :class:`WebhookDelivery` per subscribed receiver; the delivery rows *are* the
outbox (pending until a worker has had a 2xx answer). Each attempt leaves a :class:`WebhookAttempt`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookSubscription(models.Model):
    """A receiver (marketing or CRM system) and the event kinds it wants.

    The signing secret is never stored in clear: ``secret_sealed`` is encrypted with a key derived
    from ``SECRET_KEY`` (see ``consent.outbox.signing``), so a copy of the database alone cannot
    forge deliveries. Staff see the secret once, when it is generated; afterwards only its
    fingerprint.
    """

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=2000, help_text=_("Deliveries are POSTed here (https)."))
    event_kinds = models.JSONField(_("event kinds"), default=list, blank=True)
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive: no new deliveries; pending ones wait and are sent when it is active again."),
    )
    secret_sealed = models.TextField(editable=False)
    secret_fingerprint = models.CharField(_("secret fingerprint"), max_length=16, editable=False)
    previous_secret_sealed = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret signs until"), null=True, blank=True, editable=False
    )
    created = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("webhook subscription")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class OutboxEvent(models.Model):
    """Something that happened, to be told to every subscription that wants its ``kind``."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=100, db_index=True)
    payload = models.JSONField(_("payload"), default=dict)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbox_events",
    )
    subject = models.CharField(_("subject"), max_length=64, blank=True, help_text=_("The user's ``sub``."))
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("outbox event")
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        """``webhook-id``: the same for every attempt and every receiver; receivers dedupe by it."""
        return f"evt_{self.uuid.hex}"


class WebhookDelivery(models.Model):
    """One event to one subscription: the unit of work of the delivery task."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("in flight")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    lease_expires_at = models.DateTimeField(_("in flight until"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="consent_delivery_once_per_subscription")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="consent_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery (or an attempt cut short by a worker that died)."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    succeeded = models.BooleanField(_("succeeded"), default=False)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error}"
