"""Re-consent at login (an allauth login stage): on our own pages and in a login started by an RP."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import SESSION_KEY

from consent.models import LegalAcceptance
from tests.conftest import PASSWORD, authorize_params, pkce_pair, query_of
from tests.consent.legal.conftest import publish

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (Macintosh) LegalStage/2.0"


def _login_post(client, user, next_url: str | None = None, **headers):
    data = {"login": user.email, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data, HTTP_USER_AGENT=UA, **headers)


def _pending_ids(page) -> list[str]:
    return [str(d["version"].pk) for d in page.context["documents"]]


def test_login_on_our_pages_asks_before_signing_in_and_records_evidence(client, accepted_member):
    publish("terms", "2", material=True)

    resp = _login_post(client, accepted_member, REMOTE_ADDR="203.0.113.7")

    assert resp.status_code == 302 and resp["Location"] == "/legal/accept"
    assert SESSION_KEY not in client.session  # not signed in before accepting
    page = client.get("/legal/accept")
    assert page.status_code == 200 and page.context["in_login"] is True
    assert client.get("/").status_code == 302  # the account pages still need a login

    done = client.post(
        "/legal/accept",
        {"versions": _pending_ids(page), "language": "en", "action": "accept"},
        HTTP_USER_AGENT=UA,
        REMOTE_ADDR="203.0.113.7",
    )

    assert done.status_code == 302 and done["Location"] == "/"
    assert client.session[SESSION_KEY] == str(accepted_member.pk)
    row = LegalAcceptance.objects.get(user=accepted_member, version__version="2")
    assert (row.channel, row.client, row.client_label) == ("login", None, "")
    assert row.ip == "203.0.113.7" and row.user_agent == UA and row.language == "en"
    assert row.version.document.slug == "terms"


def test_login_from_an_rp_accepts_then_returns_to_authorize_and_gets_a_code(client, accepted_member, rp):
    app, _ = rp
    publish("privacy", "2", material=True)
    params = authorize_params(app, challenge=pkce_pair()[1])
    to_login = client.get("/authorize", params)
    next_url = query_of(to_login["Location"])["next"]

    resp = _login_post(client, accepted_member, next_url)

    assert urlsplit(resp["Location"]).path == "/legal/accept"
    page = client.get(resp["Location"])
    assert page.context["client"] == app  # branded for the RP, named in the text
    done = client.post(
        resp["Location"], {"versions": _pending_ids(page), "language": "en", "action": "accept"}, HTTP_USER_AGENT=UA
    )
    assert done["Location"] == next_url
    final = client.get(next_url)
    q = query_of(final["Location"])
    assert q["code"] and q["state"] == params["state"]
    row = LegalAcceptance.objects.get(user=accepted_member, version__version="2")
    assert row.channel == "login" and row.client == app


def test_nothing_changed_login_is_not_interrupted(client, accepted_member):
    publish("terms", "1.1", material=False)
    resp = _login_post(client, accepted_member)
    assert resp["Location"] == "/" and client.session[SESSION_KEY] == str(accepted_member.pk)


def test_member_who_never_accepted_is_asked_at_login(client, member, documents):
    """Documents published after the member signed up: the first versions are material."""
    resp = _login_post(client, member)
    assert resp["Location"] == "/legal/accept"
    page = client.get(resp["Location"])
    assert {d["version"].document.slug for d in page.context["documents"]} == {"privacy", "terms"}
    assert page.context["reconsent"] is False


def test_decline_at_login_ends_the_login(client, accepted_member, rp):
    app, _ = rp
    publish("terms", "2", material=True)
    params = authorize_params(app, challenge=pkce_pair()[1])
    next_url = query_of(client.get("/authorize", params)["Location"])["next"]
    resp = _login_post(client, accepted_member, next_url)

    declined = client.post(resp["Location"], {"action": "decline"})

    assert urlsplit(declined["Location"]).path == "/legal/declined"
    assert SESSION_KEY not in client.session
    page = client.get(declined["Location"])
    html = page.content.decode()
    assert 'id="declined-signed-out"' in html and 'id="declined-client"' in html
    assert page.context["again_url"].startswith("/accounts/login/?next=")
    # The stage is gone: the interstitial page now wants a login, and nothing was accepted.
    assert client.get("/legal/accept")["Location"].startswith("/accounts/login/")
    assert not LegalAcceptance.objects.filter(version__version="2").exists()


def test_language_shown_is_recorded_with_english_fallback(client, accepted_member):
    """Acceptance is of a version; the language it was read in is evidence."""
    publish("terms", "2", material=True, languages=("en", "ja"))
    publish("privacy", "2", material=True, languages=("en",))  # not translated yet
    client.cookies["django_language"] = "ja"
    _login_post(client, accepted_member)
    page = client.get("/legal/accept")
    shown = {d["version"].document.slug: d["text"].language for d in page.context["documents"]}
    assert shown == {"terms": "ja", "privacy": "en"}
    assert "利用規約" in page.content.decode()

    client.post("/legal/accept", {"versions": _pending_ids(page), "language": "ja", "action": "accept"})

    rows = {r.version.document.slug: r.language for r in LegalAcceptance.objects.filter(version__version="2")}
    assert rows == {"terms": "ja", "privacy": "en"}
