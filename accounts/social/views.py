"""Pages for linking (proving an existing account) and the member's linked accounts."""

from __future__ import annotations

from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.social import selectors, services
from accounts.social.forms import LinkCodeForm, LinkPasswordForm


def _refused(request: HttpRequest, error: services.SocialAccountError) -> HttpResponse:
    messages.error(request, error.message)
    if selectors.pending_link(request) is None:
        return redirect("account_login")
    return redirect("accounts:social_link")


def _render_link(request: HttpRequest, pending: dict, *, password_form=None, code_form=None, status=200):
    user = selectors.pending_link_user(pending)
    context = {
        "provider_name": pending["provider_name"],
        "email": pending["email"],
        "password_allowed": bool(user and user.has_usable_password()),
        "code_allowed": pending["code_allowed"],
        "code_sent": bool(pending.get("code")),
        "password_form": password_form or LinkPasswordForm(),
        "code_form": code_form or LinkCodeForm(),
    }
    return render(request, "accounts/social/link.html", context, status=status)


@require_http_methods(["GET", "POST"])
def link(request: HttpRequest) -> HttpResponse:
    """Prove the existing account is yours (password here; emailed code below) to link and sign in."""
    pending = selectors.pending_link(request)
    if pending is None:
        messages.error(request, _("This sign-in has expired. Please start again."))
        return redirect("account_login")
    if request.method == "GET":
        return _render_link(request, pending)
    form = LinkPasswordForm(request.POST)
    if not form.is_valid():
        return _render_link(request, pending, password_form=form, status=400)
    try:
        if services.social_link_prove_password(request=request, password=form.cleaned_data["password"]):
            return services.social_link_complete(request=request, proof="password")
    except services.SocialAccountError as e:
        return _refused(request, e)
    form.add_error("password", _("That password is not right."))
    return _render_link(request, selectors.pending_link(request) or pending, password_form=form, status=400)


@require_POST
def link_code_send(request: HttpRequest) -> HttpResponse:
    try:
        services.social_link_code_send(request=request)
    except services.SocialAccountError as e:
        return _refused(request, e)
    minutes = services.LINK_CODE_SECONDS // 60
    messages.info(request, _("We have emailed you a code. It is valid for %(minutes)d minutes.") % {"minutes": minutes})
    return redirect("accounts:social_link")


@require_POST
def link_code_verify(request: HttpRequest) -> HttpResponse:
    pending = selectors.pending_link(request)
    if pending is None:
        messages.error(request, _("This sign-in has expired. Please start again."))
        return redirect("account_login")
    form = LinkCodeForm(request.POST)
    if not form.is_valid():
        return _render_link(request, pending, code_form=form, status=400)
    try:
        if services.social_link_prove_code(request=request, code=form.cleaned_data["code"]):
            return services.social_link_complete(request=request, proof="email_code")
    except services.SocialAccountError as e:
        return _refused(request, e)
    form.add_error("code", _("That code is not right, or it has expired."))
    return _render_link(request, selectors.pending_link(request) or pending, code_form=form, status=400)


@require_POST
def link_decline(request: HttpRequest) -> HttpResponse:
    """Not this account: sign up with another email address (allauth's social sign-up form)."""
    try:
        services.social_link_decline(request=request)
    except services.SocialAccountError as e:
        return _refused(request, e)
    return redirect("socialaccount_signup")


@require_POST
def link_cancel(request: HttpRequest) -> HttpResponse:
    services.social_link_discard(request=request)
    return redirect("account_login")


@login_required
def connections(request: HttpRequest) -> HttpResponse:
    providers = get_social_adapter(request).list_providers(request)
    context = {
        "linked": selectors.linked_accounts_for(request.user),
        "providers": providers,
        "connections_url": reverse("accounts:social_connections"),
    }
    return render(request, "accounts/social/connections.html", context)


@login_required
@require_POST
def unlink(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.social_account_unlink(request=request, user=request.user, account_id=pk)
    except services.SocialAccountError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("The account is unlinked. You can no longer sign in with it."))
    return redirect("accounts:social_connections")
