from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PASSWORD_MAX_LENGTH = 256


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """One identity per customer. ``sub`` is the stable public identifier given to relying parties."""

    sub = models.UUIDField(_("subject identifier"), default=uuid.uuid4, unique=True, editable=False)
    # Wider than Django's 128: some imported hashes are longer (passlib's PBKDF2-SHA512 is 130+).
    password = models.CharField(_("password"), max_length=PASSWORD_MAX_LENGTH)
    email = models.EmailField(_("email address"), unique=True)
    given_name = models.CharField(_("given name"), max_length=150, blank=True)
    family_name = models.CharField(_("family name"), max_length=150, blank=True)
    nickname = models.CharField(_("nickname"), max_length=150, blank=True)
    phone_number = models.CharField(_("phone number"), max_length=32, blank=True)
    phone_number_verified = models.BooleanField(_("phone number verified"), default=False)
    address = models.JSONField(_("address"), default=dict, blank=True)
    locale = models.CharField(_("locale"), max_length=16, blank=True)
    zoneinfo = models.CharField(_("time zone"), max_length=64, blank=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]
        # Sign-ups per day and members at a date (the dashboard's rollup, docs/dashboard.md).
        indexes = [models.Index(fields=["date_joined"], name="user_date_joined_idx")]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)

    def get_short_name(self) -> str:
        return self.given_name or self.email


class SecurityEvent(models.Model):
    """Append-only record of what happened to an account (OWASP ASVS V7.1).

    Rows are written by ``accounts.security.services.security_event_record`` and never changed.
    """

    class Kind(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGIN_FAILED = "login_failed", _("Failed sign-in")
        LOGOUT = "logout", _("Signed out")
        SIGNUP = "signup", _("Account created")
        NEW_DEVICE = "new_device", _("Sign-in from a new device")
        MFA_CHALLENGE_FAILED = "mfa_failed", _("Wrong verification code")
        MFA_ADDED = "mfa_added", _("Sign-in method added")
        MFA_REMOVED = "mfa_removed", _("Sign-in method removed")
        RECOVERY_CODE_USED = "recovery_code_used", _("Recovery code used")
        PASSKEY_ADDED = "passkey_added", _("Passkey added")
        PASSKEY_REMOVED = "passkey_removed", _("Passkey removed")
        PASSKEY_RENAMED = "passkey_renamed", _("Passkey renamed")
        PASSKEY_REJECTED = "passkey_rejected", _("Passkey rejected")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        PASSWORD_RESET = "password_reset", _("Password reset")
        EMAIL_CHANGED = "email_changed", _("Email address changed")
        PHONE_CHANGED = "phone_changed", _("Phone number changed")
        SOCIAL_LINKED = "social_linked", _("Account linked")
        SOCIAL_UNLINKED = "social_unlinked", _("Account unlinked")
        SOCIAL_REJECTED = "social_rejected", _("Sign-in with another service refused")
        SESSION_REVOKED = "session_revoked", _("Signed out of a session")
        SIGNED_OUT_EVERYWHERE = "signed_out_everywhere", _("Signed out everywhere")
        STEP_UP = "step_up", _("Identity confirmed again")
        THROTTLED = "throttled", _("Too many attempts")

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="security_events")
    kind = models.CharField(_("event"), max_length=32, choices=Kind.choices, db_index=True)
    created = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("device"), max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["user", "-created"]),
            # The dashboard's rollup counts one kind over one day (idp/dashboard, docs/dashboard.md).
            # The member is the last key column: counting active members is an index-only scan.
            models.Index(fields=["kind", "created", "user"], name="security_event_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created:%Y-%m-%d %H:%M})"


class WebAuthnCredential(models.Model):
    """A passkey or security key registered with py_webauthn (W3C WebAuthn Level 2)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="webauthn_credentials")
    name = models.CharField(_("name"), max_length=64)
    credential_id = models.BinaryField(unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    discoverable = models.BooleanField(default=True)
    backup_eligible = models.BooleanField(default=False)
    backup_state = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    flagged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Set when the sign counter went backwards (a possible cloned key)."),
    )

    class Meta:
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")

    def __str__(self) -> str:
        return self.name


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as a hash; shown to the member once."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=128)
    created = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")

    def __str__(self) -> str:
        return f"recovery code {self.pk}"


class UserSession(models.Model):
    """A signed-in browser session, listed on the account page and revocable from there."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="user_sessions")
    session_key = models.CharField(max_length=64, unique=True)
    sid = models.CharField(max_length=64, blank=True, db_index=True)
    created = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    location = models.CharField(_("approximate location"), max_length=100, blank=True)
    amr = models.JSONField(default=list, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("session")
        indexes = [models.Index(fields=["user", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.user} since {self.created:%Y-%m-%d %H:%M}"


class KnownDevice(models.Model):
    """A browser that has completed a sign-in for this account (risk-based step-up)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="known_devices")
    device_hash = models.CharField(max_length=64)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "device_hash"], name="known_device_once")]

    def __str__(self) -> str:
        return f"{self.user}: {self.user_agent[:40]}"


class PhoneVerification(models.Model):
    """A 6-digit code sent by SMS to a number the member wants to use (``accounts.phone``).

    The number becomes the member's only once the code is entered; the code is kept as a keyed
    hash, lives ``ACCOUNTS_PHONE_CODE_SECONDS`` and allows ``ACCOUNTS_PHONE_MAX_ATTEMPTS`` tries.
    Rows also count the sends for the rate limit; they are deleted with the account.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="phone_verifications")
    phone_number = models.CharField(_("phone number"), max_length=32)
    code_hash = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("phone verification")
        verbose_name_plural = _("phone verifications")
        indexes = [models.Index(fields=["user", "-created"])]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.phone_number[-4:]} ({self.created:%Y-%m-%d %H:%M})"


# --- flexible profile attributes (accounts.profile) ------------------------------------------------


class AttributeDefinition(models.Model):
    """A profile attribute staff define in the admin ("diet", "pet", "seat", "fuel", ...).

    ``key`` and ``data_type`` are frozen once a value has ever been stored (``has_values``, set by
    the first write, see ``accounts.profile.services``): stored values are never reinterpreted.
    Validation lives in ``accounts.profile.validation``; this model holds data only.
    """

    class Type(models.TextChoices):
        BOOLEAN = "boolean", _("Yes / no")
        CHOICE = "choice", _("Choice")
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(
        _("key"),
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(r"^[a-z][a-z0-9_]{0,63}$", _("Use lower-case letters, digits and underscores.")),
        ],
        help_text=_("The claim and API name, e.g. diet. Cannot change once members have values."),
    )
    data_type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    scope = models.CharField(
        _("scope"), max_length=64, help_text=_("The OAuth scope under which clients read and write it.")
    )
    label_en = models.CharField(_("label (English)"), max_length=200)
    label_ja = models.CharField(_("label (Japanese)"), max_length=200, blank=True)
    help_en = models.CharField(_("help text (English)"), max_length=300, blank=True)
    help_ja = models.CharField(_("help text (Japanese)"), max_length=300, blank=True)
    personal_data = models.BooleanField(
        _("personal data"),
        default=True,
        help_text=_("Values describe the member; exports and privacy records show this flag."),
    )
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive attributes keep their values but are not shown or released.")
    )
    max_length = models.PositiveSmallIntegerField(_("maximum length (text)"), default=200)
    min_value = models.DecimalField(_("minimum (number)"), max_digits=18, decimal_places=6, null=True, blank=True)
    max_value = models.DecimalField(_("maximum (number)"), max_digits=18, decimal_places=6, null=True, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    has_values = models.BooleanField(_("has stored values"), default=False, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("profile attribute")
        verbose_name_plural = _("profile attributes")
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.key


class AttributeChoice(models.Model):
    """One allowed value of a choice attribute. Retired choices stay so stored values keep a label."""

    id = models.BigAutoField(primary_key=True)
    definition = models.ForeignKey(AttributeDefinition, on_delete=models.CASCADE, related_name="choices")
    value = models.CharField(
        _("value"),
        max_length=64,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9_-]{0,63}$", _("Use lower-case letters, digits, - and _."))],
    )
    label_en = models.CharField(_("label (English)"), max_length=200)
    label_ja = models.CharField(_("label (Japanese)"), max_length=200, blank=True)
    retired = models.BooleanField(
        _("retired"), default=False, help_text=_("No longer offered; members who chose it keep it.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("choice")
        verbose_name_plural = _("choices")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["definition", "value"], name="attribute_choice_once")]

    def __str__(self) -> str:
        return self.value


class AttributeAccess(models.Model):
    """What one client may do with one attribute; ``ask_position`` puts it on the client's
    progressive-profiling list (asked in that order, one per sign-in)."""

    id = models.BigAutoField(primary_key=True)
    definition = models.ForeignKey(AttributeDefinition, on_delete=models.CASCADE, related_name="access")
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="attribute_access"
    )
    can_read = models.BooleanField(_("may read"), default=True)
    can_write = models.BooleanField(_("may write"), default=False)
    ask_position = models.PositiveSmallIntegerField(
        _("ask at sign-in (order)"),
        null=True,
        blank=True,
        help_text=_("Empty: never asked. Otherwise members missing it are asked, lowest number first."),
    )

    class Meta:
        verbose_name = _("client access to an attribute")
        verbose_name_plural = _("client access to attributes")
        constraints = [models.UniqueConstraint(fields=["definition", "client"], name="attribute_access_once")]
        indexes = [models.Index(fields=["client", "ask_position"])]

    def __str__(self) -> str:
        return f"{self.client} → {self.definition}"


class MemberAttributes(models.Model):
    """A member's attribute values: one row per member, ``data`` = {key: value}.

    A row of its own, not a column on the user: the user row is read on every request and
    written at every sign-in, so it stays narrow and its updates stay cheap; attribute writes
    do not churn the user table or its indexes; erasure is one DELETE. On PostgreSQL ``data`` is
    ``jsonb`` with a GIN ``jsonb_path_ops`` index (created in migration 0004, PostgreSQL only):
    lookups by value use containment (``data @> '{"diet": "vegetarian"}'``). See
    docs/profile-attributes.md.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="profile_attributes")
    data = models.JSONField(default=dict, blank=True)
    skipped = models.JSONField(
        default=dict, blank=True, help_text=_("Attributes the member skipped at sign-in, with when.")
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member attributes")
        verbose_name_plural = _("member attributes")

    def __str__(self) -> str:
        return str(self.user)
