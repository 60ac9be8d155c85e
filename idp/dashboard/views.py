from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from idp.dashboard import selectors


PERMISSION = "idp.view_dailymetric"


def dashboard(request: HttpRequest) -> TemplateResponse:
    """The staff dashboard. Wrapped in ``admin.site.admin_view`` (active staff with a second factor);
    only roles that need the figures (``idp.view_dailymetric``: privacy officer, superuser) see it."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
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
