"""The member's privacy rights: data exports, erasure requests with their steps, legal holds and
inactivity notices. Rules live in :mod:`consent.privacy.services`; these are data and constraints.

Erasure requests and legal holds outlive the person they are about: once the account is erased
they keep ``user_ref`` (the primary key the account had, which names nobody once the row is gone)
and lose their link and contact fields.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportRequest(models.Model):
    """A machine-readable copy of everything we hold about a member, built by a Celery job."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Being prepared")
        READY = "ready", _("Ready to download")
        DOWNLOADED = "downloaded", _("Downloaded")
        EXPIRED = "expired", _("Expired")
        FAILED = "failed", _("Failed")

    OPEN_STATES = (State.QUEUED, State.RUNNING)

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="privacy_exports")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    language = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The export itself, kept in the database (never under MEDIA_ROOT) until downloaded or expired.
    payload = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    expires_at = models.DateTimeField(_("link expires"), null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("data export request")
        verbose_name_plural = _("data export requests")
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(state__in=["queued", "running"]), name="one_open_export_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"export #{self.pk} ({self.state})"


class ErasureRequest(models.Model):
    """Erase or pseudonymise every piece of a member's personal data, one recorded step at a time."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        HELD = "held", _("Waiting for a legal hold to end")
        FAILED = "failed", _("Failed")
        DONE = "done", _("Done")

    class Reason(models.TextChoices):
        MEMBER = "member", _("Deleted by the member")
        INACTIVE = "inactive", _("Inactive account")
        STAFF = "staff", _("Requested through staff")

    OPEN_STATES = (State.QUEUED, State.RUNNING, State.HELD, State.FAILED)

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="privacy_erasures",
    )
    user_ref = models.BigIntegerField(_("account number"), db_index=True)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    created = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    # Only what the two emails need; cleared once the completion email is sent.
    notify_email = models.EmailField(blank=True)
    notify_language = models.CharField(max_length=16, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    completion_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user_ref"],
                condition=Q(state__in=["queued", "running", "held", "failed"]),
                name="one_open_erasure_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"erasure #{self.pk} of account {self.user_ref} ({self.state})"


class ErasureStep(models.Model):
    """One step of one plan for one request; done steps are never run again."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        HELD = "held", _("Held")
        FAILED = "failed", _("Failed")
        DONE = "done", _("Done")

    id = models.BigAutoField(primary_key=True)
    request = models.ForeignKey(ErasureRequest, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(_("step"), max_length=128)
    position = models.PositiveIntegerField(default=0)
    action = models.CharField(max_length=16, blank=True)
    hold_category = models.CharField(max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("erasure step")
        ordering = ["request", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "key"], name="erasure_step_once")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class LegalHold(models.Model):
    """Data of one category that must be kept until ``ends_at`` although erasure was asked for."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="legal_holds"
    )
    user_ref = models.BigIntegerField(_("account number"), db_index=True)
    category = models.CharField(_("data held"), max_length=64)
    reason = models.TextField(_("reason"))
    ends_at = models.DateTimeField(_("ends"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.CharField(_("placed by rule"), max_length=64, blank=True)
    rule_key = models.CharField(max_length=128, blank=True)
    created = models.DateTimeField(_("placed"), default=timezone.now)
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lift_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user_ref", "rule", "rule_key"], condition=~Q(rule=""), name="legal_hold_rule_once"
            )
        ]

    def __str__(self) -> str:
        return f"hold on {self.category} of account {self.user_ref} until {self.ends_at:%Y-%m-%d}"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.lifted_at is None and self.ends_at > now


class InactivityNotice(models.Model):
    """ "We will delete your account unless you sign in": sent after a period without a login."""

    class State(models.TextChoices):
        SENT = "sent", _("Notice sent")
        CANCELLED = "cancelled", _("Cancelled by a sign-in")
        ERASED = "erased", _("Erasure requested")

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inactivity_notices")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.SENT)
    sent_at = models.DateTimeField(_("notice sent"))
    last_login_at = models.DateTimeField(_("last sign-in"), null=True, blank=True)
    erasure_due_at = models.DateTimeField(_("erasure due"))
    email_sent_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    erasure = models.ForeignKey(ErasureRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("inactivity notice")
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(state="sent"), name="one_open_inactivity_notice")
        ]

    def __str__(self) -> str:
        return f"inactivity notice #{self.pk} ({self.state})"
