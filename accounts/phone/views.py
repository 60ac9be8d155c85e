"""The member's phone number: enter a number, get a code by SMS, enter it. Thin: services decide."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.mfa.views import recent_authentication_required
from accounts.phone import services
from accounts.phone.forms import PhoneCodeForm, PhoneNumberForm

PENDING_SESSION_KEY = "accounts_phone_verification"


@never_cache
@recent_authentication_required
def phone_change(request: HttpRequest) -> HttpResponse:
    form = PhoneNumberForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            verification = services.phone_verification_start(
                user=request.user,
                phone_number=form.cleaned_data["phone_number"],
                language=translation.get_language() or "",
            )
        except services.PhoneError as error:
            form.add_error("phone_number" if error.code in ("invalid_number", "same_number") else None, error.message)
        else:
            request.session[PENDING_SESSION_KEY] = verification.pk
            return redirect("accounts:phone_verify")
    return render(request, "accounts/phone/change.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@recent_authentication_required
def phone_verify(request: HttpRequest) -> HttpResponse:
    pending = services.pending_verification(user=request.user, verification_id=request.session.get(PENDING_SESSION_KEY))
    if pending is None:
        return redirect("accounts:phone_change")
    form = PhoneCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.phone_verification_confirm(
                user=request.user, verification_id=pending.pk, code=form.cleaned_data["code"], request=request
            )
        except services.PhoneError as error:
            form.add_error("code", error.message)
        else:
            request.session.pop(PENDING_SESSION_KEY, None)
            messages.success(request, _("Your phone number has been verified and saved."))
            return redirect("account_home")
    return render(
        request,
        "accounts/phone/verify.html",
        {"form": form, "phone_number": pending.phone_number},
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
@recent_authentication_required
def phone_remove(request: HttpRequest) -> HttpResponse:
    services.phone_number_remove(user=request.user, request=request)
    messages.success(request, _("Your phone number has been removed."))
    return redirect("account_home")
