"""Staff define attributes in the admin: choices, client access, frozen key and type, retired choices."""

from __future__ import annotations

import pytest

from accounts.models import AttributeAccess, AttributeChoice, AttributeDefinition
from accounts.profile import selectors, services
from accounts.profile.admin import AttributeDefinitionForm
from idp.models import AuditEvent
from tests.accounts.profile.conftest import force_login_with_mfa, grant

pytestmark = pytest.mark.django_db

BASE = "/admin/accounts/attributedefinition/"


@pytest.fixture
def staff(client, admin_user):
    force_login_with_mfa(client, admin_user)
    return admin_user


def form_data(definition=None, *, choices=(), access=(), **fields) -> dict:
    data = {
        "key": "diet",
        "data_type": "choice",
        "scope": "profile:preferences",
        "personal_data": "on",
        "active": "on",
        "position": "0",
        "label_en": "Your diet",
        "label_ja": "食事の好み",
        "max_length": "200",
    }
    if definition is not None:
        data.update(
            key=definition.key,
            data_type=definition.data_type,
            scope=definition.scope,
            label_en=definition.label_en,
            label_ja=definition.label_ja,
        )
    data.update(fields)
    data.update({"choices-TOTAL_FORMS": str(len(choices)), "choices-INITIAL_FORMS": "0"})
    initial = 0
    for i, choice in enumerate(choices):
        for name, value in choice.items():
            data[f"choices-{i}-{name}"] = value
        if "id" in choice:
            initial += 1
    data["choices-INITIAL_FORMS"] = str(initial)
    data.update({"access-TOTAL_FORMS": str(len(access)), "access-INITIAL_FORMS": "0"})
    for i, row in enumerate(access):
        for name, value in row.items():
            data[f"access-{i}-{name}"] = value
    return {k: v for k, v in data.items() if v is not None}


def test_staff_define_an_attribute_with_choices_and_client_access(client, staff, rp):
    app, _ = rp
    resp = client.post(
        BASE + "add/",
        form_data(
            choices=[
                {"value": "vegetarian", "label_en": "Vegetarian", "label_ja": "ベジタリアン", "position": "0"},
                {"value": "vegan", "label_en": "Vegan", "label_ja": "ヴィーガン", "position": "1"},
            ],
            access=[{"client": str(app.pk), "can_read": "on", "can_write": "on", "ask_position": "1"}],
        ),
    )
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    diet = AttributeDefinition.objects.get(key="diet")
    assert [c.value for c in diet.choices.all()] == ["vegetarian", "vegan"]
    access = AttributeAccess.objects.get(definition=diet)
    assert (access.client, access.can_read, access.can_write, access.ask_position) == (app, True, True, 1)
    event = AuditEvent.objects.get(kind="profile.definition_created")
    assert event.data["access"] == {app.client_id: {"read": True, "write": True, "ask": 1}}
    assert event.data["by"] == staff.pk


def test_bad_definitions_are_form_errors(client, staff, rp):
    app, _ = rp
    resp = client.post(BASE + "add/", form_data(key="Diet Type", scope="email"))
    assert resp.status_code == 200
    assert set(resp.context["adminform"].form.errors) == {"key", "scope"}
    resp = client.post(
        BASE + "add/",
        form_data(access=[{"client": str(app.pk), "ask_position": "1"}]),  # asks but may not read
    )
    assert resp.status_code == 200 and not AttributeDefinition.objects.exists()


def test_type_and_key_are_frozen_once_values_exist(client, staff, member, attrs):
    diet = attrs["diet"]
    resp = client.post(f"{BASE}{diet.pk}/change/", form_data(diet, data_type="text"))  # no values yet: allowed
    assert resp.status_code == 302
    diet.refresh_from_db()
    assert diet.data_type == "text"
    diet.data_type = "choice"
    services.attribute_definition_save(definition=diet)

    services.profile_attributes_update(user=member, values={"diet": "vegan"}, source=services.SOURCE_MEMBER)
    page = client.get(f"{BASE}{diet.pk}/change/")
    assert {"key", "data_type"} <= set(page.context["adminform"].readonly_fields)
    client.post(f"{BASE}{diet.pk}/change/", form_data(diet, data_type="text", key="food", label_en="Food"))
    diet.refresh_from_db()
    assert (diet.key, diet.data_type, diet.label_en) == ("diet", "choice", "Food")  # labels change, type not

    # The form refuses it too (a stale page posted the fields).
    form = AttributeDefinitionForm(form_data(diet, data_type="text"), instance=diet)
    assert not form.is_valid() and "data_type" in form.errors
    assert client.post(f"{BASE}{diet.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AttributeDefinition.objects.filter(pk=diet.pk).exists()


def test_a_chosen_choice_can_be_retired_but_not_deleted_or_renamed(client, staff, member, attrs):
    diet = attrs["diet"]
    services.profile_attributes_update(user=member, values={"diet": "vegan"}, source=services.SOURCE_MEMBER)
    diet.refresh_from_db()
    rows = list(diet.choices.all())

    def choices(**changes):
        out = []
        for row in rows:
            data = {"id": str(row.pk), "definition": str(diet.pk), "value": row.value, "label_en": row.label_en}
            data.update({"label_ja": row.label_ja, "position": str(row.position)})
            data.update(changes.get(row.value, {}))
            out.append(data)
        return out

    for change in ({"vegan": {"DELETE": "on"}}, {"vegan": {"value": "plant_based"}}):
        resp = client.post(f"{BASE}{diet.pk}/change/", form_data(diet, choices=choices(**change)))
        assert resp.status_code == 200
        assert "retire it instead" in str(resp.context["inline_admin_formsets"][0].formset.non_form_errors())
    resp = client.post(
        f"{BASE}{diet.pk}/change/", form_data(diet, choices=choices(vegan={"retired": "on"}, any={"DELETE": "on"}))
    )
    assert resp.status_code == 302
    assert set(AttributeChoice.objects.filter(definition=diet).values_list("value", "retired")) == {
        ("vegetarian", False),
        ("vegan", True),
    }
    assert selectors.member_data(member) == {"diet": "vegan"}


def test_member_values_in_the_admin_search_by_attribute_and_validated_edits(
    client, staff, member, attrs, django_user_model
):
    other = django_user_model.objects.create_user(email="other@example.com")
    services.profile_attributes_update(user=member, values={"diet": "vegan"}, source=services.SOURCE_MEMBER)
    services.profile_attributes_update(
        user=other, values={"diet": "any", "premium_fuel": True}, source=services.SOURCE_MEMBER
    )
    listing = "/admin/accounts/memberattributes/"
    assert [r.user for r in client.get(listing, {"q": "diet=vegan"}).context["cl"].result_list] == [member]
    assert [r.user for r in client.get(listing, {"q": "premium_fuel=true"}).context["cl"].result_list] == [other]

    change = f"{listing}{member.pk}/change/"
    resp = client.post(change, {"data": '{"diet": "carnivore"}'})
    assert resp.status_code == 200 and "diet" in str(resp.context["adminform"].form.errors["data"])
    resp = client.post(change, {"data": '{"seat": "aisle"}'})
    assert resp.status_code == 302
    assert selectors.member_data(member) == {"seat": "aisle"}
    event = AuditEvent.objects.filter(kind="profile.attributes_updated", user=member).first()
    assert event.data == {"keys": ["diet", "seat"], "source": "staff", "by": staff.pk}
    assert client.post(f"{listing}{member.pk}/delete/", {"post": "yes"}).status_code == 302
    assert AuditEvent.objects.filter(kind="profile.attributes_erased", user=member).exists()


def test_client_access_list(client, staff, rp, attrs):
    app, _ = rp
    grant(app, attrs["seat"], ask=2)
    grant(app, attrs["diet"], ask=1)
    resp = client.get("/admin/accounts/attributeaccess/", {"client__id__exact": app.pk})
    assert [a.definition.key for a in resp.context["cl"].result_list] == ["diet", "seat"]


def test_a_client_cannot_ask_for_what_it_may_not_read(client, staff, rp, attrs):
    app, _ = rp
    add = "/admin/accounts/attributeaccess/add/"
    data = {"definition": attrs["diet"].pk, "client": app.pk, "ask_position": "1"}
    resp = client.post(add, data)
    assert resp.status_code == 200 and "can_read" in resp.context["adminform"].form.errors
    assert client.post(add, {**data, "can_read": "on"}).status_code == 302
    assert AuditEvent.objects.filter(kind="profile.definition_changed", data__key="diet").exists()
