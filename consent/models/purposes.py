"""Purposes of processing and the member's consent to them.

* :class:`Purpose` is what staff define (marketing by email, personalisation, …), with texts per
  language in :class:`PurposeText`, which are versioned and never edited (a record points at the
  exact text the member saw).
* :class:`ConsentRecord` is the evidence: one row per grant or withdrawal, append-only. On
  PostgreSQL a trigger (migration ``0002``) refuses any UPDATE except one that *forgets* personal
  data (the member link, the staff actor, IP and user agent) and any DELETE of a row still linked
  to a member.
* :class:`ConsentState` is the current state per (member, purpose): the latest record, kept in the
  same transaction as the record for fast audience queries. It is derived data and can always be
  rebuilt from the records (``consent.purposes.selectors.consent_state_mismatches`` checks it).

All writes go through ``consent.purposes.services``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def forget_member(collector, field, sub_objs, using) -> None:
    """``on_delete`` for the member link of a record: keep the evidence, forget the person.

    Deleting a user unlinks their records and clears IP and user agent, the only kind of UPDATE
    the append-only trigger lets through. Not lazy: Django then updates the rows by primary key,
    so each of the three updates finds its rows after the member link is gone.
    """
    model = field.model
    collector.add_field_update(field, None, sub_objs)
    collector.add_field_update(model._meta.get_field("ip"), None, sub_objs)
    collector.add_field_update(model._meta.get_field("user_agent"), "", sub_objs)


class Purpose(models.Model):
    """Something we may do with a member's data only if they opted in (off by default)."""

    class Category(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        PERSONALISATION = "personalisation", _("Personalisation")
        ANALYTICS = "analytics", _("Analytics")
        SHARING = "sharing", _("Sharing with partners")
        OTHER = "other", _("Other")

    class ContactChannel(models.TextChoices):
        NONE = "", _("None")
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        PHONE = "phone", _("Phone")
        PUSH = "push", _("Push notifications")

    code = models.CharField(
        _("code"),
        max_length=64,
        unique=True,
        validators=[RegexValidator(CODE_PATTERN, _("Use lower-case letters, digits, '_' and '-'."))],
        help_text=_("Stable identifier used by apps, the consents claim and exports. Cannot be changed later."),
    )
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    contact_channel = models.CharField(
        _("contact channel"),
        max_length=16,
        choices=ContactChannel.choices,
        blank=True,
        help_text=_("How members who agree may be contacted, if this purpose is about contacting them."),
    )
    brand = models.CharField(_("brand"), max_length=64, blank=True, help_text=_("Empty for every brand."))
    regions = models.CharField(
        _("regions"),
        max_length=200,
        blank=True,
        help_text=_("Space-separated country codes (ISO 3166-1, e.g. 'JP DE'). Empty for everywhere."),
    )
    offer_at_signup = models.BooleanField(
        _("offer at sign-up"), default=False, help_text=_("Show an unticked box for it on the sign-up page.")
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Retired purposes can no longer be granted; members can still withdraw them."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")
        ordering = ["position", "code"]
        permissions = [("export_audience", _("Can export the members contactable for a purpose"))]

    def __str__(self) -> str:
        return self.code

    @property
    def region_set(self) -> set[str]:
        return {r.upper() for r in self.regions.split()}

    def applies_to(self, *, brand: str | None = None, region: str | None = None) -> bool:
        """Offered for this brand and region? An unknown brand or region matches every purpose."""
        if brand and self.brand and self.brand != brand:
            return False
        return not (region and self.region_set and region.upper() not in self.region_set)


class PurposeText(models.Model):
    """What a purpose says in one language. Texts are never edited: a change is a new version."""

    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(_("language"), max_length=16, choices=settings.LANGUAGES)
    version = models.PositiveIntegerField(_("version"), editable=False)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"))
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("purpose text")
        verbose_name_plural = _("purpose texts")
        ordering = ["purpose", "language", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "language", "version"], name="purpose_text_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.purpose.code} [{self.language}] v{self.version}"


class ConsentRecord(models.Model):
    """One grant or withdrawal, with its evidence. Append-only: see the module docstring."""

    class Channel(models.TextChoices):
        SIGNUP = "signup", _("Sign-up")
        WEB = "web", _("Privacy settings")
        APP = "app", _("App")
        KIOSK = "kiosk", _("In-store kiosk")
        DEVICE = "device", _("Device")
        API = "api", _("Partner system")
        STAFF = "staff", _("Customer service")
        IMPORT = "import", _("Imported from an earlier system")

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=forget_member,
        related_name="consent_records",
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="records")
    granted = models.BooleanField(_("granted"))
    created = models.DateTimeField(_("time"), default=timezone.now)
    channel = models.CharField(_("collected through"), max_length=16, choices=Channel.choices)
    # The OAuth client_id as a string, not a foreign key: the evidence outlives the client.
    client_id = models.CharField(_("client"), max_length=100, blank=True)
    text = models.ForeignKey(
        PurposeText, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("text shown")
    )
    language = models.CharField(_("language"), max_length=16, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("device"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "purpose", "id"], name="consent_record_user_idx")]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrawn"
        return f"{self.purpose_id} {verb} at {self.created:%Y-%m-%d %H:%M:%S}"


class ConsentState(models.Model):
    """The current state of one member's consent to one purpose: their latest record."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_states")
    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="states")
    granted = models.BooleanField(_("granted"))
    since = models.DateTimeField(_("since"))
    record = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("current consent")
        verbose_name_plural = _("current consents")
        constraints = [models.UniqueConstraint(fields=["user", "purpose"], name="consent_state_unique")]
        indexes = [
            # Audience queries: granted members of one purpose, walked in user order by a cursor.
            models.Index(fields=["purpose", "user"], condition=models.Q(granted=True), name="consent_state_granted_idx")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.purpose_id} {'on' if self.granted else 'off'}"
