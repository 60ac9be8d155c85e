"""The member's privacy pages: the data we hold, a data export, deleting the account."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.mfa.views import recent_authentication_required
from consent.privacy import selectors, services
from consent.privacy.forms import AccountDeleteForm

LINK_ERROR_STATUS = {"expired": 410, "used": 410, "foreign": 403, "invalid": 404}


@never_cache
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "consent/privacy/overview.html",
        {
            "sections": selectors.data_overview(user=request.user),
            "export": selectors.latest_export_for(user=request.user),
        },
    )


@require_POST
@login_required
def export_request(request: HttpRequest) -> HttpResponse:
    services.export_request_create(user=request.user, language=translation.get_language() or "")
    messages.success(request, _("We are preparing your data. We will email you a download link when it is ready."))
    return redirect("privacy:overview")


@never_cache
@login_required
def export_download(request: HttpRequest, token: str) -> HttpResponse:
    try:
        export, payload = services.export_download(user=request.user, token=token)
    except services.ExportLinkError as error:
        return render(
            request,
            "consent/privacy/export_link.html",
            {"code": error.code, "message": error.message},
            status=LINK_ERROR_STATUS[error.code],
        )
    body = json.dumps(payload, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="member-id-data-{stamp}-{export.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@recent_authentication_required
def delete(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.account_delete(user=request.user, request=request)
        logout(request)
        return redirect("privacy:deleted")
    return render(request, "consent/privacy/delete.html", {"form": form}, status=400 if form.errors else 200)


def deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "consent/privacy/deleted.html")
