"""Legal documents (terms of use, privacy policy), their versions and texts, and acceptances.

A document has versions; a version has one text per language. A published version is never
edited: a change is a new version (a new row). A member accepts a *version*, whatever the
language it was shown in; the language shown is recorded with the acceptance as evidence.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LegalDocument(models.Model):
    """One legal document, e.g. the terms of use or the privacy policy (all languages, all versions)."""

    slug = models.SlugField(
        _("slug"),
        max_length=40,
        unique=True,
        help_text=_("Its public address is /legal/<slug>, e.g. terms or privacy."),
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("For staff; members see each text's title."))
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("legal document")
        verbose_name_plural = _("legal documents")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class LegalDocumentVersion(models.Model):
    """A version of a document. Draft until published; immutable once published.

    ``material``: the change needs every member's acceptance again (an interstitial at their
    next login or SSO). The first published version of a document always is material.
    """

    document = models.ForeignKey(
        LegalDocument, on_delete=models.PROTECT, related_name="versions", verbose_name=_("document")
    )
    version = models.CharField(_("version"), max_length=32, help_text=_("A label members see, e.g. 2025-06 or 3."))
    material = models.BooleanField(
        _("material change"),
        default=False,
        help_text=_("Members must accept this version before they can sign in to any site or app again."),
    )
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, db_index=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("legal document version")
        verbose_name_plural = _("legal document versions")
        ordering = ["document", "-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="legal_version_unique_per_document"),
        ]
        permissions = [("publish_legaldocumentversion", _("Can publish legal document versions"))]

    def __str__(self) -> str:
        return f"{self.document} {self.version}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class LegalDocumentText(models.Model):
    """The text of a version in one language."""

    version = models.ForeignKey(
        LegalDocumentVersion, on_delete=models.CASCADE, related_name="texts", verbose_name=_("version")
    )
    language = models.CharField(_("language"), max_length=16, choices=settings.LANGUAGES)
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(
        _("what changed"), blank=True, help_text=_("Shown to members asked to accept this version.")
    )
    body = models.TextField(_("text"), help_text=_("Plain text; blank lines separate paragraphs."))

    class Meta:
        verbose_name = _("text")
        verbose_name_plural = _("texts")
        ordering = ["language"]
        constraints = [
            models.UniqueConstraint(fields=["version", "language"], name="legal_text_unique_per_language"),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.language})"


class LegalAcceptance(models.Model):
    """Evidence that a member accepted a version: when, where (client, channel) and from what device."""

    class Channel(models.TextChoices):
        SIGNUP = "signup", _("Sign-up form")
        LOGIN = "login", _("Sign-in")
        SSO = "sso", _("Single sign-on to a site or app")
        ACCOUNT = "account", _("Account pages")

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="legal_acceptances")
    version = models.ForeignKey(
        LegalDocumentVersion, on_delete=models.PROTECT, related_name="acceptances", verbose_name=_("version")
    )
    language = models.CharField(_("language shown"), max_length=16)
    accepted_at = models.DateTimeField(_("accepted at"), default=timezone.now)
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("client"),
    )
    client_label = models.CharField(
        _("client ID"), max_length=100, blank=True, help_text=_("Kept when the client is deleted.")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("legal acceptance")
        verbose_name_plural = _("legal acceptances")
        ordering = ["-accepted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="legal_acceptance_once_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.user} accepted {self.version}"
