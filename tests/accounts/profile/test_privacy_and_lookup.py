"""Attribute values are personal data: export and erasure; and looking members up by an attribute."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import MemberAttributes
from accounts.profile import selectors, services
from idp.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_export_lists_every_value_with_labels_and_flags(member, attrs):
    assert selectors.attributes_export(member) == {"attributes": [], "skipped": {}, "updated": None}
    services.profile_attributes_update(
        user=member, values={"diet": "vegan", "shoe_size": 24}, source=services.SOURCE_MEMBER
    )
    services.profile_question_skip(user=member, key="seat")
    attrs["shoe_size"].active = False
    services.attribute_definition_save(definition=attrs["shoe_size"])

    export = selectors.attributes_export(member)
    assert export["attributes"] == [
        {
            "key": "diet",
            "value": "vegan",
            "type": "choice",
            "label_en": "Your diet",
            "label_ja": "食事の好み",
            "personal_data": True,
            "status": None,
        },
        {
            "key": "shoe_size",
            "value": 24,
            "type": "number",
            "label_en": "Shoe size",
            "label_ja": "",
            "personal_data": True,
            "status": None,
        },
    ]
    assert set(export["skipped"]) == {"seat"} and export["updated"]


def test_erase_removes_values_and_skips_and_is_audited(member, attrs, django_user_model):
    other = django_user_model.objects.create_user(email="other@example.com")
    for user in (member, other):
        services.profile_attributes_update(user=user, values={"diet": "vegan"}, source=services.SOURCE_MEMBER)
    assert services.profile_attributes_erase(user=member) == 1
    assert not MemberAttributes.objects.filter(user=member).exists()
    assert selectors.member_data(other) == {"diet": "vegan"}
    event = AuditEvent.objects.get(kind="profile.attributes_erased", user=member)
    assert event.data == {"count": 1}
    assert services.profile_attributes_erase(user=member) == 0  # idempotent


def test_members_are_looked_up_by_an_attribute(member, attrs, django_user_model):
    users = [member] + [django_user_model.objects.create_user(email=f"m{i}@example.com") for i in range(3)]
    values = [{"diet": "vegan", "premium_fuel": True}, {"diet": "vegan"}, {"diet": "any", "premium_fuel": True}, {}]
    for user, value in zip(users, values, strict=True):
        if value:
            services.profile_attributes_update(user=user, values=value, source=services.SOURCE_MEMBER)
    assert set(selectors.members_with_attribute(key="diet", value="vegan")) == {users[0], users[1]}
    assert set(selectors.members_with_attribute(key="premium_fuel", value=True)) == {users[0], users[2]}
    assert not selectors.members_with_attribute(key="diet", value="vegetarian").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index exists on PostgreSQL only")
def test_postgresql_lookup_is_a_containment_query_on_the_gin_index(member, attrs):
    sql = str(selectors.members_with_attribute(key="diet", value="vegan").query)
    assert "@>" in sql
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'accounts_memberattributes' AND indexname = %s",
            ["accounts_memberattributes_data_gin"],
        )
        (indexdef,) = cursor.fetchone()
    assert "USING gin (data jsonb_path_ops)" in indexdef


def test_the_privacy_job_exports_and_erases_attribute_values(member, attrs, django_capture_on_commit_callbacks):
    from consent.models import ErasureRequest
    from consent.privacy import registry
    from consent.privacy import services as privacy_services

    services.profile_attributes_update(user=member, values={"diet": "vegan"}, source=services.SOURCE_MEMBER)
    plan = next(p for p in registry.plans() if p.name == "profile_attributes")
    assert plan.export(member)["about_you"]["attributes"][0]["value"] == "vegan"

    with django_capture_on_commit_callbacks(execute=False):
        erasure = privacy_services.erasure_request_create(user=member, reason=ErasureRequest.Reason.STAFF)
        privacy_services.erasure_run(request_id=erasure.pk)
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE
    assert not MemberAttributes.objects.filter(user_id=member.pk).exists()
