"""Account pages of our own in front of allauth's."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.account.views import email as allauth_email
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _


@login_required
def email(request: HttpRequest) -> HttpResponse:
    """allauth's email page, except that an unverified address never becomes the primary one.

    allauth lets an unverified address become primary when the account has no verified one
    (``can_mark_as_primary``); the account's email (login name, ``email`` claim, where resets
    go) must only ever change to an address its owner proved, so we refuse that here.
    """
    if request.method == "POST" and "action_primary" in request.POST:
        address = EmailAddress.objects.filter(user=request.user, email__iexact=request.POST.get("email", "")).first()
        if address is not None and not address.verified:
            messages.error(request, _("Confirm this address first: open the link we emailed to it."))
            return redirect("account_email")
    return allauth_email(request)
