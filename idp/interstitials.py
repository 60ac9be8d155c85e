"""Interstitials: pages a signed-in member must pass before ``/authorize`` issues a code.

Other apps stop the authorization endpoint without knowing its internals (re-consent to
changed terms, a progressive-profiling question, ...). Register a check once, in your
AppConfig.ready()::

    from idp.interstitials import Interstitial, register_interstitial

    def terms_check(request, user, client) -> Interstitial | None:
        if not something_pending(user):
            return None
        return Interstitial(url=reverse("legal:accept"), error="consent_required")

    register_interstitial(terms_check)

How :class:`idp.oauth.views.AuthorizeView` uses them, for a signed-in member, after the
login, ``max_age`` and step-up rules and before the consent page and the code:

- Checks run in registration order; the first that returns an :class:`Interstitial` wins.
  A check gets ``(request, user, client)`` and must be cheap (it runs on every authorization
  request) and must not change state except for the request's own session.
- ``prompt=none``: no page may be shown, so the RP gets ``error`` (OIDC Core §3.1.2.6:
  ``consent_required``, ``interaction_required``, ...) with ``state`` and ``iss``.
- Otherwise the member is redirected to ``url`` with ``next=<the /authorize request>``
  appended (:func:`redirect_url`). The page does its work and sends the member back to
  ``next`` (check it with ``url_has_allowed_host_and_scheme``); ``/authorize`` then runs the
  checks again, so a page cannot be skipped by going back to ``next`` directly.
- ``url=None``: no page; the RP gets ``error`` at once (e.g. ``access_denied`` after the
  member refused at the interstitial).

A consent-page POST (third-party clients) also runs the checks: if one is pending (it
appeared after the consent page was shown, or the POST was forged), the RP gets ``error``
and starts again; its new request shows the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest


@dataclass(frozen=True)
class Interstitial:
    """Where to send the member (``url``), or ``None`` to answer the RP with ``error`` now."""

    url: str | None
    error: str = "interaction_required"
    description: str | None = None


Check = Callable[[HttpRequest, object, object], "Interstitial | None"]

_checks: list[Check] = []


def register_interstitial(check: Check) -> None:
    """Add ``check`` (idempotent: a check registered twice runs once)."""
    if check not in _checks:
        _checks.append(check)


def unregister_interstitial(check: Check) -> None:
    """Remove ``check`` (for tests and for apps that switch a check off)."""
    if check in _checks:
        _checks.remove(check)


def pending_interstitial(request: HttpRequest, user, client) -> Interstitial | None:
    """The first interstitial a registered check asks for, or None when the code may be issued."""
    for check in list(_checks):
        interstitial = check(request, user, client)
        if interstitial is not None:
            return interstitial
    return None


def redirect_url(interstitial: Interstitial, return_to: str) -> str:
    """``interstitial.url`` with ``next=return_to`` added to its query string."""
    parts = urlsplit(interstitial.url or "")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "next"]
    query.append(("next", return_to))
    return urlunsplit(parts._replace(query=urlencode(query)))
