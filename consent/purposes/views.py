"""The preference center: the member's purposes with a switch each, and the full history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from accounts.selectors import member_timezone
from consent.models import ConsentRecord
from consent.purposes import selectors, services
from consent.purposes.app_settings import app_settings
from consent.purposes.forms import ConsentToggleForm
from idp.api import DomainError


@login_required
@never_cache
def consents(request: HttpRequest) -> HttpResponse:
    user = request.user
    purposes = selectors.purposes_offered(user=user)
    form = ConsentToggleForm(request.POST if request.method == "POST" else None, purposes=purposes)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            code, granted = form.cleaned_data["purpose"], form.cleaned_data["granted"]
            try:
                changed = services.consent_change(
                    user=user, changes={code: granted}, channel=ConsentRecord.Channel.WEB, request=request
                )
            except DomainError as error:
                form.add_error(None, error.title)
            else:
                if changed:
                    messages.success(
                        request, _("Your choice has been saved.") if granted else _("You have withdrawn your consent.")
                    )
                return redirect("consent:consents")
        status = 400

    texts = selectors.texts_for(purposes)
    states = selectors.consent_states(user=user)
    rows = [(p, texts.get(p.pk), states.get(p.pk)) for p in purposes]
    page = Paginator(selectors.consent_history(user=user), app_settings.HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    names = selectors.client_names(r.client_id for r in page)
    current_texts = selectors.texts_for({r.purpose for r in page})
    history = [
        (
            r,
            current_texts[r.purpose_id].name if r.purpose_id in current_texts else r.purpose.code,
            names.get(r.client_id, ""),
        )
        for r in page
    ]
    tz = member_timezone(user)
    with timezone.override(tz):
        return render(
            request,
            "consent/purposes/consents.html",
            {
                "rows": rows,
                "form": form,
                "history": history,
                "page": page,
                "tz": str(tz),
            },
            status=status,
        )
