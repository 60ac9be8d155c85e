"""Members imported from an earlier system (``manage.py import_members``, docs/import.md).

* :class:`ImportRun` is one pass over one file: its checkpoint (the last line whose batch was
  committed, in the same transaction as the batch) and its counts. A killed import resumes after
  the checkpoint; rows are also matched by legacy id, so even a fresh run duplicates nobody.
* :class:`ImportedMember` links a legacy id to the account it became, with a digest of the row
  imported. When the account is erased the link goes and the legacy id stays, so a later run of
  the same file does not bring the erased member back.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running or interrupted")
        DONE = "done", _("Done")

    id = models.BigAutoField(primary_key=True)
    source = models.CharField(_("source system"), max_length=64)
    file_name = models.CharField(_("file"), max_length=255)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    last_line = models.PositiveBigIntegerField(_("last committed line"), default=0)
    rows = models.PositiveBigIntegerField(_("rows read"), default=0)
    imported = models.PositiveBigIntegerField(_("members imported"), default=0)
    unchanged = models.PositiveBigIntegerField(_("already imported"), default=0)
    changed = models.PositiveBigIntegerField(
        _("already imported, changed since"), default=0, help_text=_("Left as first imported (see docs/import.md).")
    )
    failed = models.PositiveBigIntegerField(_("bad rows"), default=0)
    # Line number, error code and field only: never the values (they are personal data).
    errors = models.JSONField(_("first errors"), default=list, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("last batch"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.source} {self.file_name} ({self.get_status_display()})"


class ImportedMember(models.Model):
    id = models.BigAutoField(primary_key=True)
    source = models.CharField(_("source system"), max_length=64)
    legacy_id = models.CharField(_("legacy id"), max_length=128)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    line = models.PositiveBigIntegerField(_("line"))
    digest = models.CharField(_("row digest"), max_length=64)
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)

    class Meta:
        verbose_name = _("imported member")
        verbose_name_plural = _("imported members")
        constraints = [models.UniqueConstraint(fields=["source", "legacy_id"], name="imported_member_once")]

    def __str__(self) -> str:
        return f"{self.source}:{self.legacy_id}"
