"""The member's page /account/profile/attributes: labels in the page's language, validation, CSRF."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.profile import selectors, services
from idp.models import AuditEvent
from tests.conftest import login

pytestmark = pytest.mark.django_db

URL = "/account/profile/attributes"


def post(client, **values):
    data = {f"attr-{k}": v for k, v in values.items()}
    return client.post(URL, data)


def test_login_required(client, attrs):
    resp = client.get(URL)
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_labels_follow_the_language(client, member, attrs):
    login(client, member)
    html = client.get(URL).content.decode()
    assert "Your diet" in html and "Vegetarian" in html and "Cat or dog?" in html
    assert 'href="/account/profile/attributes"' in client.get("/").content.decode()  # linked from home
    client.cookies["django_language"] = "ja"
    html = client.get(URL).content.decode()
    assert "食事の好み" in html and "ベジタリアン" in html and "猫派？犬派？" in html
    assert "Shoe size" in html  # no Japanese label: English


def test_save_change_and_remove(client, member, attrs):
    login(client, member)
    resp = post(client, diet="vegan", premium_fuel="yes", nickname="Hana", shoe_size="24.5", anniversary="2020-02-29")
    assert resp.status_code == 302 and resp["Location"] == URL
    assert selectors.member_data(member) == {
        "diet": "vegan",
        "premium_fuel": True,
        "nickname": "Hana",
        "shoe_size": 24.5,
        "anniversary": "2020-02-29",
    }
    page = client.get(URL)
    assert page.context["form"]["premium_fuel"].value() == "yes"
    # The whole form is posted again: only what changed is written.
    resp = post(client, diet="vegan", premium_fuel="no", nickname="Hana", shoe_size="24.5", anniversary="")
    assert resp.status_code == 302
    assert selectors.member_data(member) == {
        "diet": "vegan",
        "premium_fuel": False,
        "nickname": "Hana",
        "shoe_size": 24.5,
    }
    last = AuditEvent.objects.filter(kind="profile.attributes_updated", user=member).first()
    assert last.data == {"keys": ["anniversary", "premium_fuel"], "source": "member"}


def test_bad_values_are_form_errors(client, member, attrs):
    login(client, member)
    resp = post(client, diet="carnivore", shoe_size="huge", anniversary="2021-02-30", nickname="x" * 30)
    assert resp.status_code == 400
    errors = resp.context["form"].errors
    assert set(errors) == {"diet", "shoe_size", "anniversary", "nickname"}
    assert 'class="errorlist"' in resp.content.decode()
    assert selectors.member_data(member) == {}


def test_a_retired_choice_is_kept_when_the_page_is_saved(client, member, attrs):
    services.profile_attributes_update(user=member, values={"diet": "vegetarian"}, source=services.SOURCE_MEMBER)
    attrs["diet"].choices.filter(value="vegetarian").update(retired=True)
    login(client, member)
    html = client.get(URL).content.decode()
    assert "Vegetarian (no longer offered)" in html and "no longer offered. We keep it" in html
    assert post(client, diet="vegetarian", nickname="Hana").status_code == 302
    assert selectors.member_data(member) == {"diet": "vegetarian", "nickname": "Hana"}


def test_csrf_is_enforced(member, attrs):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    assert browser.post(URL, {"attr-diet": "vegan"}).status_code == 403
    assert selectors.member_data(member) == {}


def test_no_definitions_yet(client, member):
    login(client, member)
    assert "nothing to fill in" in client.get(URL).content.decode()


def test_the_member_edits_their_name(client, member):
    from idp.models import AuditEvent

    client.force_login(member)
    page = client.get("/account/profile/name")
    assert page.status_code == 200 and 'value="Hanako"' in page.content.decode()

    resp = client.post("/account/profile/name", {"given_name": " Aiko ", "family_name": "Yamada", "nickname": "Ai"})

    assert resp.status_code == 302 and resp["Location"] == "/account/"
    member.refresh_from_db()
    assert (member.given_name, member.family_name, member.nickname) == ("Aiko", "Yamada", "Ai")
    event = AuditEvent.objects.get(kind="profile.name_updated", user=member)
    assert event.data == {"fields": ["given_name", "nickname"]}
    assert "Aiko Yamada" in client.get("/account/").content.decode()


def test_a_too_long_name_is_a_form_error(client, member):
    client.force_login(member)
    resp = client.post("/account/profile/name", {"given_name": "x" * 151, "family_name": "", "nickname": ""})
    assert resp.status_code == 400
    member.refresh_from_db()
    assert member.given_name == "Hanako"
