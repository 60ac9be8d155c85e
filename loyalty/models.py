"""Loyalty: programs, memberships, tiers and the points ledger.

The ledger is exact by construction, and the database says so too:

* ``LedgerEntry`` rows are appended, never changed. Each carries the signed points it moves and
  the balance after it.
* ``Membership.balance`` is kept in step with the entries inside the same transaction (the row is
  locked first) and is never negative (CHECK constraint).
* ``EarnLot`` tracks what is left of each credit (earn or positive adjustment), so that redemptions
  consume points first in, first out and expiry knows what is left of each earn. The sum of the
  lots' ``remaining`` equals the balance.
* ``IdempotencyRecord`` remembers every outside posting by (program, caller, key): the unique
  constraint decides a race between two requests with the same key.

``loyalty.management.commands.loyalty_check`` checks all of this against the rows.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MEMBER_NUMBER_LENGTH = 10


class Program(models.Model):
    """A points programme run by a brand or a group of brands."""

    id = models.BigAutoField(primary_key=True)
    slug = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("open for new members"), default=True)
    points_expire_after_days = models.PositiveIntegerField(
        _("points expire after (days)"),
        default=730,
        help_text=_("Earned points expire this many days after they were earned, oldest first. 0: never."),
    )
    tier_window_days = models.PositiveIntegerField(
        _("tier qualification window (days)"),
        default=365,
        help_text=_("Tiers count the points earned in this many days before today."),
    )
    max_points_per_posting = models.PositiveBigIntegerField(
        _("largest single posting"),
        default=1_000_000,
        help_text=_("Postings above this are refused as implausible."),
    )
    redeem_step_up_threshold = models.PositiveBigIntegerField(
        _("redemptions that need a second factor"),
        default=10_000,
        help_text=_("Redeeming more points than this at once needs a recent second factor."),
    )
    redeem_max_per_day = models.PositiveIntegerField(
        _("redemptions per member per day"), default=10, help_text=_("0: no limit.")
    )
    redeem_max_points_per_day = models.PositiveBigIntegerField(
        _("points redeemed per member per day"), default=200_000, help_text=_("0: no limit.")
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    """A status level reached by points earned within the program's window."""

    id = models.BigAutoField(primary_key=True)
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=60)
    min_points = models.PositiveBigIntegerField(_("points needed"), default=0)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["program", "min_points"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="loyalty_tier_code_once"),
            models.UniqueConstraint(fields=["program", "min_points"], name="loyalty_tier_threshold_once"),
        ]

    def __str__(self) -> str:
        return f"{self.program}: {self.name}"


class ProgramClient(models.Model):
    """An OAuth client acting for one program: a partner posting points, or an RP of its brand.

    A client belongs to at most one program, and its tokens act for that program only. Which
    operations it may perform is decided by the scopes of its token (``loyalty:earn``,
    ``loyalty:reverse`` for partners; ``loyalty`` and ``loyalty:redeem`` for members' tokens).
    """

    id = models.BigAutoField(primary_key=True)
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="clients")
    client = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="loyalty_program"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("program client")
        verbose_name_plural = _("program clients (partners and RPs)")

    def __str__(self) -> str:
        return f"{self.client} → {self.program}"


class Membership(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ERASED = "erased", _("Erased")

    id = models.BigAutoField(primary_key=True)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="loyalty_memberships",
        help_text=_("Empty once the member's personal data has been erased; the ledger stays."),
    )
    member_number = models.CharField(_("member number"), max_length=MEMBER_NUMBER_LENGTH, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    balance = models.BigIntegerField(_("balance"), default=0)
    debt = models.BigIntegerField(
        _("points owed"),
        default=0,
        help_text=_("Points reversed after they were spent; settled from the next points earned."),
    )
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        permissions = [("adjust_points", _("Can adjust points with a reason"))]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_balance_not_negative"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="loyalty_debt_not_negative"),
            models.UniqueConstraint(
                fields=["program", "user"], condition=Q(user__isnull=False), name="loyalty_one_membership_per_program"
            ),
        ]

    def __str__(self) -> str:
        return self.member_number


class LedgerEntry(models.Model):
    """One movement of points. Appended, never changed or deleted."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjustment")
        REVERSE = "reverse", _("Reversal")

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    points = models.BigIntegerField(_("points"), help_text=_("Positive for credits, negative for debits."))
    balance_after = models.BigIntegerField(_("balance after"))
    created = models.DateTimeField(_("time"), default=timezone.now)
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The partner or RP that posted it."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The staff member who made an adjustment."),
    )
    reference = models.CharField(_("partner reference"), max_length=64, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversal",
        help_text=_("The earn this reversal undoes (one reversal per earn)."),
    )
    shortfall = models.BigIntegerField(
        _("shortfall"),
        default=0,
        help_text=_("For a reversal: points already spent when it was posted, owed by the member."),
    )
    settles = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlements",
        help_text=_("The reversal whose uncovered points this entry settles."),
    )

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        indexes = [models.Index(fields=["membership", "kind", "created"], name="loyalty_entry_member_kind")]
        constraints = [
            # Only a reversal of points already spent may move nothing (all of it owed as shortfall).
            models.CheckConstraint(condition=~Q(points=0) | Q(kind="reverse"), name="loyalty_entry_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="loyalty_entry_balance_not_negative"),
            models.CheckConstraint(
                condition=(
                    Q(kind="earn", points__gt=0)
                    | Q(kind__in=["redeem", "expire"], points__lt=0)
                    | Q(kind="reverse", points__lte=0)
                    | Q(kind="adjust")
                ),
                name="loyalty_entry_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True) | Q(kind="reverse"), name="loyalty_only_reversals_reverse"
            ),
            models.CheckConstraint(condition=Q(shortfall__gte=0), name="loyalty_shortfall_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"


class EarnLot(models.Model):
    """What is left of one credit: consumed first in, first out; expires as a whole lot."""

    id = models.BigAutoField(primary_key=True)
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="lots")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="lot")
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    earned_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    qualifying = models.BooleanField(default=True, help_text=_("Counts towards tiers (earns, not reversed)."))

    class Meta:
        verbose_name = _("earn lot")
        indexes = [
            models.Index(fields=["membership", "id"], condition=Q(remaining__gt=0), name="loyalty_lot_open"),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="loyalty_lot_expiry"),
            models.Index(fields=["membership", "earned_at"], name="loyalty_lot_earned"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("points")), name="loyalty_lot_remaining_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points}"


class TierChange(models.Model):
    """A member's tier moved (points posted, nightly recomputation, staff)."""

    id = models.BigAutoField(primary_key=True)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    qualifying_points = models.BigIntegerField()
    reason = models.CharField(max_length=32)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tier change")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.from_tier} → {self.to_tier}"


class IdempotencyRecord(models.Model):
    """The result of one posting from outside, by its ``Idempotency-Key``.

    ``scope`` names the caller (``client:<id>`` for an API client, ``member:<id>`` for our own
    pages), so that two partners cannot collide on a key. The same key with the same request
    returns the stored response; with another request it is refused.
    """

    id = models.BigAutoField(primary_key=True)
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    entry = models.ForeignKey(LedgerEntry, null=True, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        constraints = [models.UniqueConstraint(fields=["program", "scope", "key"], name="loyalty_idempotency_key_once")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
