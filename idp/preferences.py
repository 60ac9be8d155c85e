"""The preference center: one account page composed of sections that each app builds itself.

An app registers its sections once, in its AppConfig.ready()::

    from idp.preferences import register_section

    register_section(
        "loyalty",
        title=_("Loyalty points"),
        order=80,
        template="loyalty/preferences/section.html",
        context=loyalty_section,          # (request) -> dict | None
        url_name="loyalty:overview",      # the app's full page
    )

How :func:`idp.views.home` uses them:

- Sections are shown by ``order`` (then key); the key becomes the card's id (``section-<key>``).
- ``context(request)`` returns the template's context, or ``None`` to leave the card out for
  this member. It runs on every visit of the account page: at most a couple of queries, no
  query per row (``tests/idp/test_preferences.py`` counts the page's queries).
- The template renders the card's body (a summary and its main action); the page adds the
  heading and the link to ``url_name`` (``section.url`` in the template).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

SectionContext = Callable[[HttpRequest], "dict | None"]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    order: int
    template: str
    context: SectionContext
    url_name: str


@dataclass(frozen=True)
class RenderedSection:
    key: str
    title: str
    url: str
    html: SafeString


_sections: dict[str, Section] = {}


def register_section(key: str, *, title, order: int, template: str, context: SectionContext, url_name: str) -> Section:
    """Add (or replace: registering a key again replaces it) a section of the account page."""
    section = Section(key=key, title=title, order=order, template=template, context=context, url_name=url_name)
    _sections[key] = section
    return section


def unregister_section(key: str) -> None:
    """Remove a section (for tests and for deployments that switch one off)."""
    _sections.pop(key, None)


def sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.key))


def compose(request: HttpRequest) -> list[RenderedSection]:
    """Every section that has something to show this member, rendered, in order."""
    rendered = []
    for section in sections():
        context = section.context(request)
        if context is None:
            continue
        url = reverse(section.url_name)
        html = render_to_string(section.template, {**context, "section": section, "section_url": url}, request=request)
        rendered.append(RenderedSection(key=section.key, title=section.title, url=url, html=html))
    return rendered


# --- the identity provider's own card: apps with access ------------------------------------------------

MAX_APPS = 10


def apps_section(request: HttpRequest) -> dict:
    from idp.selectors import client_authorizations_for

    return {"apps": client_authorizations_for(request.user)[:MAX_APPS]}


def register() -> None:
    from django.utils.translation import gettext_lazy as _

    register_section(
        "apps",
        title=_("Apps with access"),
        order=70,
        template="idp/preferences/apps.html",
        context=apps_section,
        url_name="connected_apps",
    )
