"""Member pages: memberships, the statement, joining and redeeming. Thin: forms and services."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.mfa import selectors as mfa_selectors
from accounts.selectors import acr_meets
from accounts.services import ACR_MFA, authentication_context
from loyalty import errors, selectors, services
from loyalty.app_settings import loyalty_settings
from loyalty.forms import RedeemForm
from loyalty.models import Membership, Program


def _program(slug: str) -> Program:
    program = selectors.program_by_slug(slug)
    if program is None:
        raise Http404
    return program


def _membership(request: HttpRequest, program: Program) -> Membership:
    membership = selectors.membership_of(user=request.user, program=program)
    if membership is None:
        raise Http404
    return membership


@never_cache
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "loyalty/overview.html",
        {"memberships": selectors.memberships_of(request.user), "programs": selectors.programs_open_to(request.user)},
    )


@login_required
@require_POST
def join(request: HttpRequest, program: str) -> HttpResponse:
    prog = _program(program)
    try:
        services.membership_join(user=request.user, program=prog)
    except errors.LoyaltyError as error:
        messages.error(request, error.title)
        return redirect("loyalty:overview")
    messages.success(request, _("Welcome to %(program)s.") % {"program": prog.name})
    return redirect("loyalty:statement", program=prog.slug)


def _statement_page(request: HttpRequest, membership: Membership, form: RedeemForm, status: int = 200) -> HttpResponse:
    before = request.GET.get("before")
    before_id = int(before) if before and before.isdigit() else None
    limit = 50
    rows = selectors.statement(membership, limit=limit + 1, before_id=before_id)
    return render(
        request,
        "loyalty/statement.html",
        {
            "membership": membership,
            "program": membership.program,
            "entries": rows[:limit],
            "older": rows[limit - 1].pk if len(rows) > limit else None,
            "expiring": selectors.expiring_soon(membership),
            "expiring_days": loyalty_settings.EXPIRING_SOON_DAYS,
            "form": form,
        },
        status=status,
    )


@never_cache
@login_required
def statement(request: HttpRequest, program: str) -> HttpResponse:
    membership = _membership(request, _program(program))
    return _statement_page(request, membership, RedeemForm(max_points=membership.program.max_points_per_posting))


def session_auth_context(request: HttpRequest) -> services.AuthContext:
    """The session's acr, and when it last proved a second factor (a step-up or the login's)."""
    records = get_authentication_records(request, request.user)
    times = [r.get("at", 0) for r in records if r.get("method") in ("mfa", "passkey")]
    mfa_time = datetime.fromtimestamp(max(times), tz=UTC) if times else None
    return services.AuthContext(acr=authentication_context(request)["acr"], mfa_time=mfa_time)


def _step_up_redirect(request: HttpRequest, auth: services.AuthContext, back: str) -> HttpResponse:
    """Below MFA: the step-up page. MFA too long ago: confirm a second factor again."""
    if not acr_meets(auth.acr or "", ACR_MFA):
        url = reverse("accounts:step_up") + "?" + urlencode({"acr": ACR_MFA, "next": back})
    else:
        methods = mfa_selectors.second_factor_methods(request.user, required_acr=ACR_MFA)
        name = (
            "accounts:mfa_reauthenticate_passkey"
            if methods == [mfa_selectors.WEBAUTHN]
            else "accounts:mfa_reauthenticate_code"
        )
        url = reverse(name) + "?" + urlencode({"next": back})
    return HttpResponseRedirect(url)


@never_cache
@login_required
@require_POST
def redeem(request: HttpRequest, program: str) -> HttpResponse:
    prog = _program(program)
    membership = _membership(request, prog)
    form = RedeemForm(request.POST, max_points=prog.max_points_per_posting)
    if not form.is_valid():
        return _statement_page(request, membership, form, status=400)
    points = form.cleaned_data["points"]
    description = form.cleaned_data["description"]
    auth = session_auth_context(request)
    back = reverse("loyalty:statement", args=[prog.slug])
    try:
        posting = services.points_redeem(
            program=prog,
            user=request.user,
            points=points,
            description=description,
            idempotency_key=form.cleaned_data["key"],
            fingerprint=services.request_hash("redeem", {"points": points, "description": description}),
            auth=auth,
        )
    except errors.StepUpRequired:
        messages.info(request, _("Confirm it is you, then redeem again."))
        return _step_up_redirect(request, auth, back)
    except errors.LoyaltyError as error:
        form.add_error(None, error.title)
        status = 400 if error.status < 500 else 500
        return _statement_page(request, membership, form, status=status)
    messages.success(
        request,
        _("You redeemed %(points)s points. Your balance is %(balance)s.")
        % {"points": points, "balance": posting.body["balance"]},
    )
    return redirect(back)
