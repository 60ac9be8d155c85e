"""Progressive profiling at sign-in: an :mod:`idp.interstitials` check.

On the way to a code for a client that asks for attributes (``AttributeAccess.ask_position``),
a member lacking the first wanted attribute is sent to one short, skippable question. Never
blocking:

- ``prompt=none`` (and any non-GET, i.e. the consent form's POST): no question, the code is issued;
  a skippable question is not "interaction required".
- At most one question per client per sign-in session: once answered, skipped, or found
  unaskable, the session remembers it and ``/authorize`` goes straight on.
- A skipped attribute is not asked again for ``ACCOUNTS_PROFILE_SKIP_DAYS``.
"""

from __future__ import annotations

from django.urls import reverse

from accounts.profile import selectors
from idp.interstitials import Interstitial

SESSION_ASKED = "profile_question_asked"  # client_ids asked (or passed) in this session


def asked_in_session(request, client) -> bool:
    return client.client_id in request.session.get(SESSION_ASKED, [])


def mark_asked(request, client) -> None:
    asked = list(request.session.get(SESSION_ASKED, []))
    if client.client_id not in asked:
        asked.append(client.client_id)
        request.session[SESSION_ASKED] = asked[-50:]


def progressive_profile_interstitial(request, user, client) -> Interstitial | None:
    if request.method != "GET" or "none" in request.GET.get("prompt", "").split():
        return None
    if client is None or asked_in_session(request, client):
        return None
    scopes = request.GET.get("scope", "").split()
    if selectors.next_question(user=user, client=client, scopes=scopes) is None:
        return None
    return Interstitial(url=reverse("accounts:profile_question"), error="interaction_required")
