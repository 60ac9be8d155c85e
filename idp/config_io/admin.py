"""The admin page of configuration export/import (linked from the admin index).

Download the export; upload a file, see the plan of a dry run, and confirm to apply it. The
uploaded text waits in the session between the plan and the confirmation, keyed by its SHA-256,
so what is applied is exactly what was planned (and the plan is made again on apply: all or
nothing). Export needs ``idp.export_config``, import ``idp.import_config`` (superusers have both).
"""

from __future__ import annotations

import hashlib

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from idp import config_io
from idp.config_io.base import ConfigError
from idp.services import audit_record

EXPORT_PERMISSION = "idp.export_config"
IMPORT_PERMISSION = "idp.import_config"
SESSION_KEY = "idp_config_import"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ExportForm(forms.Form):
    only = forms.MultipleChoiceField(
        label=_("Sections"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every section."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["only"].choices = [(name, name) for name in config_io.section_names()]


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Configuration file (JSON)"))
    prune = forms.BooleanField(
        label=_("Delete what the file does not list (--prune)"),
        required=False,
        help_text=_("Only within the sections the file has. Without it nothing is ever deleted."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB."))
        return upload


class ApplyForm(forms.Form):
    sha256 = forms.CharField(widget=forms.HiddenInput)


def config_view(model_admin, request: HttpRequest) -> HttpResponse:
    user = request.user
    may_export, may_import = user.has_perm(EXPORT_PERMISSION), user.has_perm(IMPORT_PERMISSION)
    if not (may_export or may_import):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Configuration export and import"),
        "opts": model_admin.model._meta,
        "may_export": may_export,
        "may_import": may_import,
        "export_form": ExportForm(),
        "upload_form": UploadForm(),
    }
    action = request.POST.get("action") if request.method == "POST" else request.GET.get("action")
    if action == "export":
        if not may_export:
            raise PermissionDenied
        form = ExportForm(request.GET)
        if form.is_valid():
            return _download(request, only=form.cleaned_data["only"])
        context["export_form"] = form
    elif action == "plan" and request.method == "POST":
        if not may_import:
            raise PermissionDenied
        form = UploadForm(request.POST, request.FILES)
        context["upload_form"] = form
        if form.is_valid():
            raw = form.cleaned_data["file"].read()
            prune = form.cleaned_data["prune"]
            result = _run(raw, dry_run=True, prune=prune)
            context.update(result=result, prune=prune)
            if result.ok:
                sha = hashlib.sha256(raw).hexdigest()
                request.session[SESSION_KEY] = {"sha256": sha, "text": raw.decode("utf-8"), "prune": prune}
                context["apply_form"] = ApplyForm(initial={"sha256": sha})
    elif action == "apply" and request.method == "POST":
        if not may_import:
            raise PermissionDenied
        form = ApplyForm(request.POST)
        pending = request.session.get(SESSION_KEY) or {}
        if not form.is_valid() or pending.get("sha256") != form.cleaned_data["sha256"]:
            context["stale"] = True
        else:
            request.session.pop(SESSION_KEY, None)
            raw = pending["text"].encode("utf-8")
            result = _run(raw, dry_run=False, prune=pending["prune"], actor=user)
            context.update(result=result, prune=pending["prune"], applied=result.applied)
    return TemplateResponse(request, "admin/idp/config_io.html", context)


def _run(raw: bytes, *, dry_run: bool, prune: bool, actor=None) -> config_io.ImportResult:
    try:
        data = config_io.parse(raw)
    except ConfigError as error:
        return config_io.ImportResult(errors=[error], dry_run=dry_run)
    return config_io.config_import(data, dry_run=dry_run, prune=prune, actor=actor, raw=raw)


def _download(request: HttpRequest, *, only: list[str]) -> HttpResponse:
    data = config_io.config_export(only=only or None)
    audit_record(kind="config.exported", user=request.user, data={"sections": only or config_io.section_names()})
    response = HttpResponse(config_io.dumps(data), content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="ciam-config-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response
