"""The provider buttons on the hosted login and sign-up pages."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.test import Client

from tests.accounts.social.conftest import LOGIN_URL


def provider_form(html: str, provider_login: str) -> str:
    match = re.search(
        r'<form method="post" action="' + re.escape(provider_login) + r'[^"]*">.*?</form>', html, re.S
    )
    assert match, html
    return match.group(0)


@pytest.mark.parametrize("page", ["/accounts/login/", "/accounts/signup/"])
def test_pages_show_a_post_button_per_configured_provider(client, partner_app, page):
    next_url = "/authorize?client_id=rp-1&response_type=code"
    html = client.get(page, {"next": next_url}).content.decode()
    form = provider_form(html, LOGIN_URL)
    assert "csrfmiddlewaretoken" in form
    assert "Continue with Partner ID" in form
    assert "process=login" in form and f"next={quote(next_url, safe='')}" in form.replace("&amp;", "&")
    assert 'class="topbar"' in html  # our layout (templates/base.html)


def test_no_buttons_without_providers(client, db):
    assert b'class="providers"' not in client.get("/accounts/login/").content


def test_provider_login_is_a_post_with_csrf(partner_app, upstream):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(LOGIN_URL, {"process": "login"}).status_code == 403
    assert not upstream.authorize_requests

    # A GET (a link, a prefetch) only shows a confirmation page that posts.
    page = browser.get(LOGIN_URL, {"process": "login"})
    assert page.status_code == 200 and not upstream.authorize_requests
    assert b'<form method="post">' in page.content and b"csrfmiddlewaretoken" in page.content

    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    response = browser.post(LOGIN_URL, {"process": "login", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"].startswith(upstream.issuer + "/authorize?")


def test_pages_render_in_japanese(client, partner_app):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="ja">' in html
    assert "Partner ID" in provider_form(html, LOGIN_URL)
