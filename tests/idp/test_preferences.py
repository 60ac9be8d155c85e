"""The preference center: the section registry, the composed page, its queries, the back link."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.test import RequestFactory

from idp import preferences
from idp.views import BACK_CLIENT_SESSION_KEY
from tests.conftest import PASSWORD, login, make_client
from tests.preference_data import populate

pytestmark = pytest.mark.django_db

SECTION_KEYS = [
    "profile",
    "contact",
    "password",
    "sign-in-methods",
    "linked-accounts",
    "devices",
    "apps",
    "consents",
    "loyalty",
    "your-data",
]


@pytest.fixture
def scratch_sections():
    """Registry entries a test adds are removed again."""
    added: list[str] = []
    yield added
    for key in added:
        preferences.unregister_section(key)


def test_every_app_registers_its_sections_in_order():
    assert [s.key for s in preferences.sections()] == SECTION_KEYS


def test_sections_are_ordered_replaced_and_left_out_when_they_have_nothing(scratch_sections, member, rf):
    scratch_sections += ["zz-late", "aa-early", "zz-hidden"]
    preferences.register_section(
        "zz-late",
        title="Late",
        order=1000,
        template="idp/preferences/apps.html",
        context=lambda r: {"apps": []},
        url_name="connected_apps",
    )
    preferences.register_section(
        "aa-early",
        title="Early",
        order=-1,
        template="idp/preferences/apps.html",
        context=lambda r: {"apps": []},
        url_name="connected_apps",
    )
    preferences.register_section(
        "zz-hidden",
        title="Hidden",
        order=5,
        template="idp/preferences/apps.html",
        context=lambda r: None,
        url_name="connected_apps",
    )
    # Registering a key again replaces it.
    preferences.register_section(
        "aa-early",
        title="Early again",
        order=-1,
        template="idp/preferences/apps.html",
        context=lambda r: {"apps": []},
        url_name="connected_apps",
    )
    request = RequestFactory().get("/account/")
    request.user = member
    request.session = {}

    rendered = [s for s in preferences.compose(request) if s.key in scratch_sections]

    assert [(s.key, s.title) for s in rendered] == [("aa-early", "Early again"), ("zz-late", "Late")]
    assert rendered[0].url == "/apps/"
    assert 'id="apps-summary-empty"' in rendered[0].html

    preferences.unregister_section("zz-late")
    assert "zz-late" not in [s.key for s in preferences.sections()]


def test_the_page_composes_every_section_with_the_members_own_data(client, member):
    data = populate(member)
    client.force_login(member)

    for url in ("/account/", "/"):
        resp = client.get(url)
        assert resp.status_code == 200
        html = resp.content.decode()
        positions = [html.index(f'id="section-{key}"') for key in SECTION_KEYS]
        assert positions == sorted(positions)
        for key in SECTION_KEYS:
            assert f'id="{key}-link"' in html

    assert "Vegan" in html and "Aisle" in html  # profile answers
    assert "pending-new@example.com" in html  # email change waiting for confirmation
    assert "2 passkeys" in html and "Authenticator app: on" in html
    assert "g0@x.jp" in html  # linked account
    assert "Partner Shop" in html and f'data-revoke="{data.third_party.client_id}"' in html
    assert "Offers by email" in html
    assert "Sky Miles" in html and "600 points" in html and "Purchase" not in html
    assert 'id="export-action"' in html and 'id="delete-account-link"' in html
    assert resp["Cache-Control"].startswith("max-age=0") or "no-cache" in resp["Cache-Control"]


def test_other_members_data_is_not_shown(client, member, django_user_model):
    other = django_user_model.objects.create_user(email="other@example.com")
    populate(other)
    client.force_login(member)

    html = client.get("/account/").content.decode()

    assert "Partner Shop" not in html and "pending-new@example.com" not in html and "Sky Miles" not in html
    assert 'id="apps-summary-empty"' in html and 'id="loyalty-none"' in html


def test_the_page_needs_a_sign_in(client):
    resp = client.get("/account/")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("rows", [1, 5])
def test_the_number_of_queries_does_not_grow_with_the_members_data(client, member, rows, django_assert_max_num_queries):
    populate(member, passkeys=rows, rows=rows)
    client.force_login(member)
    client.get("/account/")  # warm per-process caches (clients, sessions)

    with django_assert_max_num_queries(18):  # 16 today; one per section, bounded
        assert client.get("/account/").status_code == 200


def test_revoking_an_app_from_the_page(client, member):
    data = populate(member)
    client.force_login(member)

    resp = client.post(f"/apps/{data.third_party.pk}/revoke", {"next": "account_home"})

    assert resp.status_code == 302 and resp["Location"] == "/account/"
    html = client.get("/account/").content.decode()
    assert f'data-revoke="{data.third_party.client_id}"' not in html


def test_revoke_ignores_any_other_next(client, member):
    data = populate(member)
    client.force_login(member)
    resp = client.post(f"/apps/{data.third_party.pk}/revoke", {"next": "https://evil.example/"})
    assert resp["Location"] == "/apps/"


# --- "Back to <client>" ------------------------------------------------------------------------------


def test_a_known_client_gets_a_back_link_to_its_own_origin(client, member):
    rp, _ = make_client(name="Miles Shop", redirect_uris="https://miles.example/oidc/callback https://other.example/cb")
    client.force_login(member)

    html = client.get("/account/", {"client_id": rp.client_id}).content.decode()

    assert 'id="back-to-client"' in html
    assert 'href="https://miles.example/"' in html and "Back to Miles Shop" in html
    # Remembered while the member moves around the page.
    assert 'href="https://miles.example/"' in client.get("/account/").content.decode()


@pytest.mark.parametrize("client_id", ["nobody", "", "x" * 300, "a\x00b"])
def test_an_unknown_client_id_shows_no_back_link(client, member, client_id):
    client.force_login(member)
    resp = client.get("/account/", {"client_id": client_id})
    assert resp.status_code == 200
    assert 'id="back-to-client"' not in resp.content.decode()
    assert BACK_CLIENT_SESSION_KEY not in client.session


def test_the_back_link_never_takes_a_url_from_the_request(client, member):
    rp, _ = make_client(name="Miles Shop", redirect_uris="https://miles.example/cb")
    client.force_login(member)

    html = client.get(
        "/account/",
        {
            "client_id": rp.client_id,
            "next": "https://evil.example/",
            "redirect_uri": "https://evil.example/",
            "return_to": "//evil.example",
        },
    ).content.decode()

    assert re.findall(r'href="[^"]*evil[^"]*"', html) == []
    assert 'href="https://miles.example/"' in html


def test_a_client_without_a_web_redirect_uri_gets_no_back_link(client, member):
    rp, _ = make_client(name="Native App", redirect_uris="com.example.app:/callback")
    client.force_login(member)
    html = client.get("/account/", {"client_id": rp.client_id}).content.decode()
    assert 'id="back-to-client"' not in html


def test_an_unknown_client_id_does_not_replace_a_known_one(client, member):
    rp, _ = make_client(name="Miles Shop", redirect_uris="https://miles.example/cb")
    client.force_login(member)
    client.get("/account/", {"client_id": rp.client_id})
    html = client.get("/account/", {"client_id": "nobody"}).content.decode()
    assert 'href="https://miles.example/"' in html


# --- the email section and allauth's email page -----------------------------------------------------


def test_an_unverified_address_never_becomes_primary(client, django_user_model):
    """Even for an account whose only address is unverified (allauth would allow it)."""
    user = django_user_model.objects.create_user(email="old@example.com", password="pw-1234567890-xyz")
    EmailAddress.objects.create(user=user, email="old@example.com", verified=False, primary=True)
    EmailAddress.objects.create(user=user, email="new@example.com", verified=False, primary=False)
    client.post("/accounts/login/", {"login": user.email, "password": "pw-1234567890-xyz"})
    client.post("/accounts/reauthenticate/", {"password": "pw-1234567890-xyz"})

    resp = client.post("/accounts/email/", {"email": "new@example.com", "action_primary": ""})

    assert resp.status_code == 302 and resp["Location"] == "/accounts/email/"
    user.refresh_from_db()
    assert user.email == "old@example.com"
    assert EmailAddress.objects.get(email="new@example.com").primary is False


def test_a_verified_address_can_still_become_primary(client, member):
    EmailAddress.objects.create(user=member, email="second@example.com", verified=True, primary=False)
    login(client, member)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})

    client.post("/accounts/email/", {"email": "second@example.com", "action_primary": ""})

    member.refresh_from_db()
    assert member.email == "second@example.com"


def test_an_added_address_waits_for_confirmation(client, member, mailoutbox):
    login(client, member)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})

    client.post("/accounts/email/", {"email": "added@example.com", "action_add": ""})

    member.refresh_from_db()
    assert member.email == "member@example.com"
    added = EmailAddress.objects.get(email="added@example.com")
    assert not added.verified and not added.primary
    assert "added@example.com" in client.get("/account/").content.decode()
