"""Definitions and validation: each type, bad values, retired choices, frozen key and type."""

from __future__ import annotations

import pytest

from accounts.models import AttributeChoice, AttributeDefinition, MemberAttributes
from accounts.profile import selectors, services, validation
from accounts.profile.validation import AttributeValuesInvalid
from idp.api import DomainError
from idp.models import AuditEvent
from tests.accounts.profile.conftest import define

pytestmark = pytest.mark.django_db


def write(member, **values):
    return services.profile_attributes_update(user=member, values=values, source=services.SOURCE_MEMBER)


def errors_of(member, **values) -> dict:
    with pytest.raises(AttributeValuesInvalid) as caught:
        write(member, **values)
    return caught.value.extra["errors"]


def test_good_values_of_each_type_are_stored_as_json(member, attrs):
    stored = write(
        member,
        diet="vegan",
        premium_fuel=False,
        nickname="  Hana  ",
        shoe_size=24.5,
        anniversary="2020-02-29",
    )
    assert stored == {
        "diet": "vegan",
        "premium_fuel": False,
        "nickname": "Hana",
        "shoe_size": 24.5,
        "anniversary": "2020-02-29",
    }
    assert MemberAttributes.objects.get(user=member).data == stored
    event = AuditEvent.objects.get(kind="profile.attributes_updated", user=member)
    assert event.data == {"keys": sorted(stored), "source": "member"}  # names, never values


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("diet", "carnivore", "invalid_choice"),
        ("diet", 3, "invalid_choice"),
        ("premium_fuel", "yes", "not_boolean"),
        ("premium_fuel", 1, "not_boolean"),
        ("nickname", "", "blank"),
        ("nickname", "x" * 21, "too_long"),
        ("nickname", "bad\x00byte", "control_characters"),
        ("nickname", ["list"], "not_text"),
        ("shoe_size", "24", "not_number"),
        ("shoe_size", True, "not_number"),
        ("shoe_size", 14, "too_small"),
        ("shoe_size", 35.5, "too_large"),
        ("shoe_size", 1e300, "out_of_range"),
        ("anniversary", "2021-02-29", "not_date"),
        ("anniversary", "29/02/2020", "not_date"),
        ("anniversary", 20200229, "not_date"),
    ],
)
def test_bad_values_are_refused_with_a_code_per_attribute(member, attrs, key, value, code):
    errors = errors_of(member, **{key: value})
    assert list(errors) == [key]
    assert errors[key][0]["code"] == code and errors[key][0]["detail"]
    assert not MemberAttributes.objects.filter(user=member).exclude(data={}).exists()


def test_all_errors_at_once_and_nothing_written(member, attrs):
    write(member, diet="vegan")
    errors = errors_of(member, diet="vegetarian", seat="middle", shoe_size="big")
    assert set(errors) == {"seat", "shoe_size"}
    assert selectors.member_data(member) == {"diet": "vegan"}  # all or nothing


def test_unknown_or_inactive_attribute_is_refused(member, attrs):
    with pytest.raises(DomainError) as caught:
        write(member, favourite_colour="blue")
    assert caught.value.code == "unknown_attribute" and caught.value.extra["attributes"] == ["favourite_colour"]
    AttributeDefinition.objects.filter(key="seat").update(active=False)
    with pytest.raises(DomainError):
        write(member, seat="aisle")


def test_none_removes_a_value(member, attrs):
    write(member, diet="vegan", seat="aisle")
    assert write(member, diet=None) == {"seat": "aisle"}


def test_form_text_is_converted_in_one_place(attrs):
    assert validation.value_from_form(attrs["premium_fuel"], "yes") is True
    assert validation.value_from_form(attrs["premium_fuel"], "no") is False
    assert validation.value_from_form(attrs["shoe_size"], "24") == 24
    assert validation.value_from_form(attrs["shoe_size"], "24.5") == 24.5
    assert validation.value_from_form(attrs["nickname"], "   ") is None
    for definition, raw in ((attrs["premium_fuel"], "maybe"), (attrs["shoe_size"], "NaN"), (attrs["shoe_size"], "x")):
        with pytest.raises(validation.ValidationError):
            validation.value_from_form(definition, raw)


def test_retired_choice_keeps_stored_values_readable_and_flagged(member, attrs):
    write(member, diet="vegetarian")
    AttributeChoice.objects.filter(definition=attrs["diet"], value="vegetarian").update(retired=True)

    diet = selectors.definitions()["diet"]
    assert selectors.member_data(member) == {"diet": "vegetarian"}  # never rewritten
    assert validation.value_status(diet, "vegetarian") == validation.STATUS_RETIRED_CHOICE
    assert validation.display_value(diet, "vegetarian") == "Vegetarian"  # the label is still there
    write(member, diet="vegetarian")  # writing it back unchanged is fine
    other, _ = type(member).objects.get_or_create(email="other@example.com")
    assert errors_of(other, diet="vegetarian")["diet"][0]["code"] == "invalid_choice"  # but nobody new picks it
    exported = selectors.attributes_export(member)["attributes"][0]
    assert exported["value"] == "vegetarian" and exported["status"] == "retired_choice"


def test_a_deleted_choice_leaves_the_raw_value_flagged(member, attrs):
    write(member, seat="aisle")
    AttributeChoice.objects.filter(definition=attrs["seat"], value="aisle").delete()
    seat = selectors.definitions()["seat"]
    assert selectors.member_data(member) == {"seat": "aisle"}
    assert validation.value_status(seat, "aisle") == validation.STATUS_UNKNOWN_CHOICE
    assert validation.display_value(seat, "aisle") == "aisle"


def test_narrower_bounds_flag_old_values_without_touching_them(member, attrs):
    write(member, shoe_size=30)
    AttributeDefinition.objects.filter(key="shoe_size").update(max_value=28)
    shoe = selectors.definitions()["shoe_size"]
    assert validation.value_status(shoe, 30) == validation.STATUS_INVALID
    assert selectors.member_data(member) == {"shoe_size": 30}


def test_first_value_freezes_key_and_type(member, attrs):
    diet = attrs["diet"]
    diet.data_type = "text"  # no values yet: allowed
    services.attribute_definition_save(definition=diet)
    diet.data_type = "choice"
    services.attribute_definition_save(definition=diet)

    write(member, diet="vegan")
    diet.refresh_from_db()
    assert diet.has_values
    diet.data_type = "text"
    with pytest.raises(DomainError) as caught:
        services.attribute_definition_save(definition=diet)
    assert caught.value.code == "invalid_definition" and "data_type" in caught.value.extra["errors"]
    diet.refresh_from_db()
    diet.key = "food"
    with pytest.raises(DomainError) as caught:
        services.attribute_definition_save(definition=diet)
    assert "key" in caught.value.extra["errors"]
    diet.refresh_from_db()
    assert (diet.key, diet.data_type) == ("diet", "choice")
    diet.label_en = "What you eat"  # labels may change at any time
    services.attribute_definition_save(definition=diet)


def test_a_write_validated_against_a_type_changed_meanwhile_is_refused(member, attrs):
    """The first write freezes the type only if it is still the type the value was checked against."""
    stale = selectors.definitions()["nickname"]
    AttributeDefinition.objects.filter(pk=stale.pk).update(data_type="number")
    with pytest.raises(DomainError) as caught:
        services._mark_has_values(stale)
    assert caught.value.code == "definition_changed" and caught.value.status == 409


def test_definition_checks(attrs):
    with pytest.raises(DomainError) as caught:
        define("bad_scope", "text", scope="profile:unknown")
    assert "scope" in caught.value.extra["errors"]
    with pytest.raises(DomainError) as caught:
        define("bounds", "number", min_value=10, max_value=1)
    assert "max_value" in caught.value.extra["errors"]
