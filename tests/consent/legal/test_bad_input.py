"""Bad input at the legal pages: forged or stale versions, CSRF, anonymous visitors, foreign next URLs."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from consent.models import LegalAcceptance, LegalDocumentVersion
from tests.conftest import login
from tests.consent.legal.conftest import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(client, accepted_member):
    """A signed-in member with terms version 2 (material) to accept."""
    login(client, accepted_member)
    return publish("terms", "2", material=True)


def test_forged_version_id_is_a_form_error_and_records_nothing(client, pending, documents):
    other = documents["privacy"]  # a real, published version, but not the one pending
    for forged in (str(other.pk), "999999", "not-a-number", ""):
        resp = client.post("/legal/accept", {"versions": [forged], "language": "en", "action": "accept"})
        assert resp.status_code == 400, forged
        assert 'id="legal-errors"' in resp.content.decode()
        assert "not the current versions" in resp.content.decode()
    assert not LegalAcceptance.objects.filter(version=pending).exists()


def test_a_version_published_while_reading_must_be_read_first(client, pending):
    page = client.get("/legal/accept")
    shown = [str(d["version"].pk) for d in page.context["documents"]]
    newer = publish("terms", "3", material=False)

    resp = client.post("/legal/accept", {"versions": shown, "language": "en", "action": "accept"})

    assert resp.status_code == 400
    assert [d["version"] for d in resp.context["documents"]] == [newer]
    assert not LegalAcceptance.objects.filter(version__in=[pending, newer]).exists()


def test_unknown_language_is_refused(client, pending):
    resp = client.post("/legal/accept", {"versions": [str(pending.pk)], "language": "xx", "action": "accept"})
    assert resp.status_code == 400
    assert not LegalAcceptance.objects.filter(version=pending).exists()


def test_posts_without_csrf_token_are_refused(accepted_member, rp):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(accepted_member)
    version = publish("terms", "2", material=True)
    for action in ("accept", "decline"):
        resp = browser.post("/legal/accept", {"versions": [str(version.pk)], "language": "en", "action": action})
        assert resp.status_code == 403
    assert not LegalAcceptance.objects.filter(version=version).exists()


def test_anonymous_visitor_is_sent_to_login_and_cannot_accept(client, documents):
    resp = client.get("/legal/accept?next=/")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/?next=")
    version = documents["terms"]
    resp = client.post("/legal/accept", {"versions": [str(version.pk)], "language": "en", "action": "accept"})
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")
    assert not LegalAcceptance.objects.exists()
    assert client.get("/account/privacy/legal")["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_foreign_next_is_ignored(client, pending, target):
    resp = client.post(
        "/legal/accept", {"versions": [str(pending.pk)], "language": "en", "action": "accept", "next": target}
    )
    assert resp.status_code == 302 and resp["Location"] == "/account/privacy/legal"
    declined = client.get("/legal/declined", {"next": target})
    assert target not in declined.content.decode()


def test_decline_with_foreign_next_revokes_nothing_and_stays_here(client, pending, rp):
    resp = client.post("/legal/accept", {"action": "decline", "next": "https://evil.example/authorize?client_id=x"})
    assert resp.status_code == 302 and resp["Location"] == "/legal/declined"


def test_nothing_pending_the_page_just_continues(client, accepted_member):
    login(client, accepted_member)
    resp = client.get("/legal/accept?next=/apps/")
    assert resp.status_code == 302 and resp["Location"] == "/apps/"


def test_public_documents_in_the_visitors_language_with_english_fallback(client, documents):
    en = client.get("/legal/terms")
    assert en.status_code == 200 and en.context["text"].language == "en"
    assert "Terms of use 1 (en)." in en.content.decode()

    ja = client.get("/legal/terms", HTTP_ACCEPT_LANGUAGE="ja")
    assert ja.context["text"].language == "ja" and "利用規約" in ja.content.decode()

    publish("privacy", "2", material=True, languages=("en",))
    fallback = client.get("/legal/privacy", HTTP_ACCEPT_LANGUAGE="ja")
    assert fallback.context["text"].language == "en" and fallback.context["version"].version == "2"

    old = client.get("/legal/privacy/1")
    assert old.status_code == 200 and 'id="not-current"' in old.content.decode()


def test_unknown_or_draft_documents_are_not_found(client, documents):
    draft = LegalDocumentVersion.objects.create(document=documents["terms"].document, version="draft-9")
    assert client.get(f"/legal/terms/{draft.version}").status_code == 404
    assert client.get("/legal/nonexistent").status_code == 404
    assert client.get("/legal/terms/999").status_code == 404


def test_body_is_escaped(client, db):
    from consent.legal import services
    from consent.models import LegalDocument, LegalDocumentText

    document = LegalDocument.objects.create(slug="terms", name="Terms")
    version = LegalDocumentVersion.objects.create(document=document, version="1")
    LegalDocumentText.objects.create(version=version, language="en", title="<b>T</b>", body="<script>x()</script>")
    services.legal_version_publish(version=version, by=None)
    html = client.get("/legal/terms").content.decode()
    assert "<script>x()" not in html and "&lt;script&gt;" in html and "<b>T</b>" not in html
