from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User

# Columns that may be forgotten (set to NULL / '') on erasure; nothing else of a row ever changes.
FORGETTABLE = ("member", "actor", "actor_ip", "actor_user_agent", "object_id")


class AppendOnly(Exception):
    """Raised on an attempt to change or delete an audit entry (SQLite's guard; PostgreSQL has a trigger)."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        forgets = all(name in FORGETTABLE and value in (None, "") for name, value in kwargs.items())
        if not forgets:
            raise AppendOnly("staff audit entries are append-only: only personal data may be forgotten")
        return super().update(**kwargs)

    def delete(self):
        raise AppendOnly("staff audit entries are append-only")

    delete.queryset_only = True


class AuditEntry(models.Model):
    """What a staff member saw or changed. Written by :func:`staff.services.audit_write` only.

    Never holds personal data values: the target is named by content type and id, changes by
    field names. ``reason`` is the staff member's own justification (break glass, adjustments).
    """

    class Action(models.TextChoices):
        VIEW_PII = "view_pii", _("Viewed personal data")
        BREAK_GLASS = "break_glass", _("Unmasked personal data")
        ADD = "add", _("Added")
        CHANGE = "change", _("Changed")
        DELETE = "delete", _("Deleted")
        ACTION = "action", _("Ran an admin action")
        EXPORT = "export", _("Exported")

    id = models.BigAutoField(primary_key=True)
    created = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("staff member"),
    )
    actor_ip = models.GenericIPAddressField(_("staff IP address"), null=True, blank=True)
    actor_user_agent = models.CharField(_("staff device"), max_length=300, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices, db_index=True)
    name = models.CharField(
        _("name"), max_length=100, blank=True, help_text=_("The admin action or page, e.g. adjust or end_sessions.")
    )
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("target type")
    )
    object_id = models.CharField(_("target id"), max_length=64, blank=True)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("member"),
        help_text=_("Empty once the member's personal data has been erased; the entry stays."),
    )
    reason = models.TextField(_("reason"), blank=True)
    fields = models.JSONField(_("changed fields"), default=list, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("staff audit entry")
        verbose_name_plural = _("staff audit log")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["member", "-created"]), models.Index(fields=["actor", "-created"])]
        permissions = [
            ("export_auditentry", _("Can export the staff audit log")),
            ("unmask_personal_data", _("Can see members' personal data unmasked")),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.pk}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("staff audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("staff audit entries are append-only")


class Customer(User):
    """The single customer view in the admin (a proxy: same rows as the user model, its own
    ``staff.view_customer`` permission and its own admin page)."""

    class Meta:
        proxy = True
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        default_permissions = ("view",)
