"""The member's security pages: recent security events, and sessions with sign-out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.security import selectors, services
from accounts.security.useragent import describe_device
from accounts.selectors import member_timezone

EVENTS_PER_PAGE = 50


@login_required
@never_cache
def events(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.events_for(user=request.user), EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(event, describe_device(event.user_agent), selectors.event_detail(event)) for event in page]
    tz = member_timezone(request.user)
    with timezone.override(tz):
        return render(request, "accounts/security/events.html", {"page": page, "rows": rows, "tz": str(tz)})


@login_required
@never_cache
def sessions(request: HttpRequest) -> HttpResponse:
    rows = selectors.sessions_for(user=request.user, current_session_id=selectors.current_session_id(request))
    tz = member_timezone(request.user)
    with timezone.override(tz):
        return render(
            request,
            "accounts/security/sessions.html",
            {"sessions": rows, "others": any(not row.is_current for row in rows), "tz": str(tz)},
        )


@login_required
@require_POST
def session_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    if services.session_revoke(
        user=request.user,
        session_id=pk,
        current_session_id=selectors.current_session_id(request),
        request=request,
    ):
        messages.success(request, _("That device has been signed out."))
    return redirect("accounts:security_sessions")


@login_required
@require_POST
def sessions_revoke_others(request: HttpRequest) -> HttpResponse:
    count = services.sessions_revoke_others(
        user=request.user, current_session_id=selectors.current_session_id(request), request=request
    )
    if count:
        messages.success(request, _("You have been signed out on your other devices."))
    return redirect("accounts:security_sessions")


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    services.sign_out_everywhere(user=request.user, request=request)
    logout(request)
    messages.success(request, _("You have been signed out everywhere, and apps must ask you to sign in again."))
    return redirect("account_login")
