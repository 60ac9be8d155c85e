from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from idp.dashboard import selectors


def dashboard(request: HttpRequest) -> TemplateResponse:
    """The staff dashboard. Wrapped in ``admin.site.admin_view`` (active staff with a second factor)."""
    try:
        days = int(request.GET.get("days", selectors.PERIODS[0]))
    except ValueError:
        days = selectors.PERIODS[0]
    context = {
        **admin.site.each_context(request),
        "title": _("Dashboard"),
        **selectors.dashboard(days=days),
    }
    return TemplateResponse(request, "idp/dashboard/dashboard.html", context)
