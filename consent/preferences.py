"""The consent app's cards on the account page (``idp.preferences``)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


def consents_section(request: HttpRequest) -> dict:
    from consent.models import ConsentRecord, ConsentState
    from consent.purposes.selectors import texts_for

    states = list(
        ConsentState.objects.filter(user=request.user, purpose__is_active=True)
        .select_related("purpose")
        .order_by("purpose__code")
    )
    texts = texts_for([s.purpose for s in states])  # one query for every purpose's text
    last = ConsentRecord.objects.filter(user=request.user).order_by("-id").values_list("created", flat=True).first()
    rows = [(texts[s.purpose_id].name if s.purpose_id in texts else s.purpose.code, s.granted) for s in states]
    return {"consents": rows, "last_change": last}


def data_section(request: HttpRequest) -> dict:
    from consent.models import ExportRequest

    export = (
        ExportRequest.objects.filter(user=request.user).only("state", "created").order_by("-created", "-pk").first()
    )
    return {"export": export}


def register() -> None:
    from idp.preferences import register_section

    register_section(
        "consents",
        title=_("Privacy choices"),
        order=80,
        template="consent/preferences/consents.html",
        context=consents_section,
        url_name="consent:consents",
    )
    register_section(
        "your-data",
        title=_("Your data"),
        order=100,
        template="consent/preferences/data.html",
        context=data_section,
        url_name="privacy:overview",
    )
