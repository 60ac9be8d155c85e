from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication


class Client(AbstractApplication):
    """A relying party. Swapped in for django-oauth-toolkit's Application."""

    first_party = models.BooleanField(
        _("first party"), default=False, help_text=_("First-party clients skip the consent screen.")
    )
    require_pkce = models.BooleanField(
        _("require PKCE"),
        default=True,
        help_text=_("Always enforced for public clients; may be relaxed for legacy confidential clients."),
    )
    allowed_scopes = models.TextField(
        _("allowed scopes"),
        blank=True,
        help_text=_("Space-separated scopes this client may request. Empty means every registered scope."),
    )
    logo = models.FileField(_("logo"), upload_to="client-logos/", blank=True)
    require_mfa = models.BooleanField(
        _("require MFA"),
        default=False,
        help_text=_("Members signing in to this client must use a second factor."),
    )
    backchannel_logout_uri = models.URLField(
        _("back-channel logout URI"),
        blank=True,
        help_text=_("OpenID Connect Back-Channel Logout 1.0: told when a member signs out."),
    )
    brand_color = models.CharField(
        _("brand colour"),
        max_length=7,
        default="#1f4b99",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f4b99."))],
    )

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        # Configuration export/import (idp.config_io): a page in the admin, see docs/config.md.
        permissions = [
            ("export_config", _("Can export the configuration")),
            ("import_config", _("Can import the configuration")),
        ]

    def redirect_uri_allowed(self, uri: str) -> bool:
        """RFC 9700 §4.1.3: redirect URIs are compared as exact strings, query string included."""
        return uri in self.redirect_uris.split()

    def post_logout_redirect_uri_allowed(self, uri: str) -> bool:
        return uri in self.post_logout_redirect_uris.split()

    @property
    def allowed_scope_set(self) -> set[str] | None:
        scopes = set(self.allowed_scopes.split())
        return scopes or None


class ClientAuthorization(models.Model):
    """A member's consent to a client for a set of scopes, remembered until revoked."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_authorizations")
    client = models.ForeignKey(settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE)
    scope = models.TextField(_("scope"))
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("client authorization")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_active_authorization_per_client",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.client}"

    def covers(self, scopes: set[str]) -> bool:
        return scopes <= set(self.scope.split())


class CodeIssuance(models.Model):
    """How the user authenticated when an authorization code was issued, and what it became.

    Kept after the code is redeemed so that a replayed code can revoke the tokens issued
    from it (RFC 6749 §4.1.2), and so that refreshed ID tokens carry the original
    ``auth_time``, ``acr`` and ``amr`` (OIDC Core §12.2).
    """

    id = models.BigAutoField(primary_key=True)
    code_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    auth_time = models.DateTimeField()
    acr = models.CharField(max_length=64)
    amr = models.JSONField(default=list)
    sid = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    token_family = models.UUIDField(null=True, blank=True, db_index=True)
    access_token_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("code issuance")

    def __str__(self) -> str:
        return f"code for {self.client} at {self.created:%Y-%m-%d %H:%M:%S}"


class AuditEvent(models.Model):
    """Append-only record of security-relevant protocol events."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.created:%Y-%m-%d %H:%M:%S}"


class DailyMetric(models.Model):
    """One figure of the staff dashboard for one day (``idp.dashboard``), e.g. sign-ups by passkey.

    Filled by the rollup (``idp.dashboard.services.metrics_rollup``): recomputing a day replaces
    all of that day's rows, so the table holds aggregates only, never a member.
    ``dimension`` is "" for a metric without a breakdown.
    """

    id = models.BigAutoField(primary_key=True)
    day = models.DateField(_("day"))
    metric = models.CharField(_("metric"), max_length=64)
    dimension = models.CharField(_("breakdown"), max_length=100, blank=True)
    value = models.BigIntegerField(_("value"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("daily metric")
        verbose_name_plural = _("daily metrics")
        constraints = [
            models.UniqueConstraint(fields=["day", "metric", "dimension"], name="daily_metric_once"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric}[{self.dimension}] = {self.value}"
