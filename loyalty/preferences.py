"""The loyalty app's card on the account page (``idp.preferences``): balances and the latest entries."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

LATEST_ENTRIES = 3


def loyalty_section(request: HttpRequest) -> dict:
    from loyalty import selectors

    memberships = selectors.memberships_of(request.user)
    first = memberships[0] if memberships else None
    entries = selectors.statement(first, limit=LATEST_ENTRIES) if first is not None else []
    return {"memberships": memberships, "first": first, "entries": entries}


def register() -> None:
    from idp.preferences import register_section

    register_section(
        "loyalty",
        title=_("Loyalty points"),
        order=90,
        template="loyalty/preferences/section.html",
        context=loyalty_section,
        url_name="loyalty:overview",
    )
