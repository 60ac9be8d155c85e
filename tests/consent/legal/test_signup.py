"""Sign-up accepts the current terms and privacy policy, with evidence; still email + password."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model

from consent.models import LegalAcceptance
from tests.conftest import authorize_params, pkce_pair, query_of
from tests.consent.legal.conftest import publish

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "violet kettle 93 harbour"
UA = "Mozilla/5.0 (iPhone) SignupTest/3.0"


def _signup(client, email: str, **extra):
    data = {"email": email, "password1": NEW_PASSWORD, **extra}
    return client.post("/accounts/signup/", data, HTTP_USER_AGENT=UA, REMOTE_ADDR="198.51.100.20")


def test_without_published_documents_sign_up_has_no_checkbox(client, db):
    page = client.get("/accounts/signup/")
    assert "accept_legal" not in page.context["form"].fields
    resp = _signup(client, "plain@example.com")
    assert resp.status_code == 302
    assert get_user_model().objects.filter(email="plain@example.com").exists()
    assert not LegalAcceptance.objects.exists()


def test_checkbox_is_required_when_documents_are_published(client, documents):
    page = client.get("/accounts/signup/")
    html = page.content.decode()
    assert 'name="accept_legal"' in html
    assert 'href="/legal/terms/1"' in html and 'href="/legal/privacy/1"' in html
    assert set(page.context["form"].fields) >= {"email", "password1", "accept_legal"}

    resp = _signup(client, "new@example.com")

    assert resp.status_code == 200
    assert "accept_legal" in resp.context["form"].errors
    assert not get_user_model().objects.filter(email="new@example.com").exists()
    assert not LegalAcceptance.objects.exists()


def test_sign_up_from_an_rp_records_acceptance_and_is_not_interrupted(client, documents, rp):
    app, _ = rp
    params = authorize_params(app, challenge=pkce_pair()[1])
    next_url = query_of(client.get("/authorize", params)["Location"])["next"]

    resp = _signup(client, "new@example.com", accept_legal="on", next=next_url)

    assert resp.status_code == 302 and resp["Location"] == next_url  # no interstitial after sign-up
    user = get_user_model().objects.get(email="new@example.com")
    assert client.session[SESSION_KEY] == str(user.pk)
    rows = {r.version.document.slug: r for r in LegalAcceptance.objects.filter(user=user)}
    assert set(rows) == {"terms", "privacy"}
    for row in rows.values():
        assert row.version.version == "1"
        assert row.channel == "signup" and row.client == app and row.client_label == app.client_id
        assert row.ip == "198.51.100.20" and row.user_agent == UA and row.language == "en"
        assert row.accepted_at is not None
    assert "code" in query_of(client.get(next_url)["Location"])


def test_sign_up_accepts_the_current_version(client, documents):
    publish("terms", "1.1", material=False)
    _signup(client, "new@example.com", accept_legal="on")
    versions = set(LegalAcceptance.objects.values_list("version__document__slug", "version__version"))
    assert versions == {("terms", "1.1"), ("privacy", "1")}


def test_account_page_lists_what_the_member_accepted(client, documents):
    _signup(client, "new@example.com", accept_legal="on")
    home = client.get("/")
    assert 'href="/account/privacy/legal"' in home.content.decode()

    page = client.get("/account/privacy/legal")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-document="terms" data-version="1"' in html and 'data-document="privacy" data-version="1"' in html
    assert "Terms of use" in html and "Sign-up form" in html
    assert 'id="legal-pending"' not in html

    publish("privacy", "2", material=True)
    html = client.get("/account/privacy/legal").content.decode()
    assert 'id="legal-pending"' in html and 'href="/legal/accept?next=/account/privacy/legal"' in html


def test_accepting_from_the_account_page_returns_there(client, accepted_member):
    from tests.conftest import login

    login(client, accepted_member)
    publish("privacy", "2", material=True)
    page = client.get("/legal/accept?next=/account/privacy/legal")
    ids = [str(d["version"].pk) for d in page.context["documents"]]
    done = client.post(
        "/legal/accept?next=/account/privacy/legal", {"versions": ids, "language": "en", "action": "accept"}
    )
    assert done["Location"] == "/account/privacy/legal"
    row = LegalAcceptance.objects.get(user=accepted_member, version__version="2")
    assert row.channel == "account" and row.client is None
