"""The one change service, the records it appends and the current state derived from them."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from consent.models import ConsentRecord, ConsentState
from consent.purposes import selectors, services
from idp.api import DomainError
from idp.models import AuditEvent
from tests.conftest import make_client
from tests.consent.purposes.conftest import purpose_make

pytestmark = pytest.mark.django_db
Channel = ConsentRecord.Channel


def test_everything_is_off_by_default(member, purposes):
    assert selectors.granted_codes(user=member) == []
    assert selectors.consents_derived(user=member) == {}
    assert ConsentRecord.objects.count() == 0


def test_grant_and_withdraw_append_records_with_evidence(member, purposes):
    client, _ = make_client(client_id="kiosk-tokyo-1")
    request = RequestFactory().post("/", HTTP_USER_AGENT="Kiosk/1.0", REMOTE_ADDR="203.0.113.7")
    [grant] = services.consent_change(
        user=member,
        changes={"marketing_email": True},
        channel=Channel.KIOSK,
        client=client,
        request=request,
        language="ja",
    )
    assert grant.granted is True and grant.channel == "kiosk" and grant.client_id == "kiosk-tokyo-1"
    assert grant.ip == "203.0.113.7" and grant.user_agent == "Kiosk/1.0"
    assert grant.language == "ja" and grant.text.name == "メールでのお知らせ" and grant.text.version == 1
    assert selectors.granted_codes(user=member) == ["marketing_email"]

    [withdrawal] = services.consent_change(user=member, changes={"marketing_email": False}, channel=Channel.WEB)
    assert withdrawal.granted is False and withdrawal.client_id == ""
    assert selectors.granted_codes(user=member) == []
    assert list(ConsentRecord.objects.filter(user=member).order_by("id").values_list("granted", flat=True)) == [
        True,
        False,
    ]


def test_setting_the_current_state_adds_no_record(member, purposes):
    assert services.consent_change(user=member, changes={"analytics": False}, channel=Channel.WEB) == []
    assert len(services.consent_change(user=member, changes={"analytics": True}, channel=Channel.WEB)) == 1
    assert services.consent_change(user=member, changes={"analytics": True}, channel=Channel.APP) == []
    assert ConsentRecord.objects.filter(user=member).count() == 1
    assert AuditEvent.objects.filter(kind="consent.changed").count() == 1


def test_a_change_is_all_or_nothing(member, purposes):
    with pytest.raises(DomainError) as exc:
        services.consent_change(user=member, changes={"analytics": True, "no_such_thing": True}, channel=Channel.WEB)
    assert exc.value.code == "unknown_purpose" and exc.value.extra["purposes"] == ["no_such_thing"]
    with pytest.raises(DomainError) as exc:
        services.consent_change(user=member, changes={"analytics": True, "sharing": "yes"}, channel=Channel.WEB)
    assert exc.value.code == "invalid_value"
    with pytest.raises(DomainError) as exc:
        services.consent_change(user=member, changes={"analytics": True}, channel="carrier-pigeon")
    assert exc.value.code == "invalid_channel"
    assert ConsentRecord.objects.count() == 0 and ConsentState.objects.count() == 0


def test_retired_purposes_cannot_be_granted_but_can_be_withdrawn(member, purposes):
    services.consent_change(user=member, changes={"sharing": True}, channel=Channel.WEB)
    sharing = purposes["sharing"]
    sharing.is_active = False
    services.purpose_save(purpose=sharing)
    assert selectors.granted_codes(user=member) == []  # not released to anyone any more
    assert "sharing" in [p.code for p in selectors.purposes_offered(user=member)]  # still withdrawable
    with pytest.raises(DomainError) as exc:
        services.consent_change(user=member, changes={"sharing": True, "analytics": True}, channel=Channel.WEB)
    assert exc.value.code == "purpose_retired" and exc.value.status == 409
    [record] = services.consent_change(user=member, changes={"sharing": False}, channel=Channel.WEB)
    assert record.granted is False
    assert "sharing" not in [p.code for p in selectors.purposes_offered(user=member)]


def test_audit_event_carries_the_event_payload(member, purposes):
    records = services.consent_change(
        user=member, changes={"analytics": True, "marketing_email": True}, channel=Channel.SIGNUP, language="en"
    )
    event = AuditEvent.objects.get(kind="consent.changed")
    assert event.user == member
    assert event.data["sub"] == str(member.sub)
    assert event.data["consents"] == ["analytics", "marketing_email"]
    assert [c["purpose"] for c in event.data["changes"]] == ["analytics", "marketing_email"]
    assert event.data["changes"][0] == {
        "id": str(records[0].uuid),
        "purpose": "analytics",
        "granted": True,
        "at": records[0].created.isoformat(),
        "channel": "signup",
        "client_id": None,
        "language": "en",
        "text_version": 1,
    }
    assert member.email not in str(event.data)  # no contact data in the event


def test_a_new_text_version_is_what_later_records_point_to(member, purposes):
    [first] = services.consent_change(user=member, changes={"analytics": True}, channel=Channel.WEB, language="en")
    v2 = services.purpose_text_add(
        purpose=purposes["analytics"], language="en", name="Analytics", description="Now also in stores."
    )
    assert v2.version == 2
    [second] = services.consent_change(user=member, changes={"analytics": False}, channel=Channel.WEB, language="en")
    first.refresh_from_db()
    assert first.text.version == 1 and second.text == v2
    # A language without its own text falls back to the site language.
    [third] = services.consent_change(user=member, changes={"analytics": True}, channel=Channel.WEB, language="de")
    assert third.text == v2 and third.language == "en"


def test_purpose_codes_are_fixed_once_created(db):
    purpose = purpose_make("marketing_push", contact_channel="push")
    purpose.code = "push_marketing"
    with pytest.raises(DomainError) as exc:
        services.purpose_save(purpose=purpose)
    assert exc.value.code == "purpose_code_fixed"


def test_purposes_offered_follow_brand_and_region(member, purposes):
    codes = lambda **kw: [p.code for p in selectors.purposes_offered(**kw)]  # noqa: E731
    assert codes(user=member) == ["marketing_email", "marketing_sms", "analytics", "sharing"]  # region unknown
    member.address = {"country": "DE"}
    member.save()
    assert "marketing_sms" not in codes(user=member)  # JP only
    assert "marketing_sms" in codes(user=member, region="jp")
    purpose_make("brand_b_news", contact_channel="email", brand="brand-b")
    assert "brand_b_news" in codes(user=member)
    assert "brand_b_news" not in codes(user=member, brand="brand-a")


def test_current_state_table_equals_the_derivation_from_records(django_user_model, purposes):
    """Random grants and withdrawals through every channel: the fast table always equals the fold
    of the records (the latest record per purpose wins, no record means off)."""
    rng = random.Random(4)
    members = [django_user_model.objects.create_user(email=f"m{i}@example.com", password="x") for i in range(6)]
    codes = list(purposes)
    start = timezone.now()
    for step in range(120):
        user = rng.choice(members)
        changes = {code: rng.random() < 0.5 for code in rng.sample(codes, rng.randint(1, len(codes)))}
        services.consent_change(
            user=user, changes=changes, channel=rng.choice(Channel.values), now=start + timedelta(seconds=step)
        )
    for user in members:
        stored = {pid: s.granted for pid, s in selectors.consent_states(user=user).items()}
        assert stored == selectors.consents_derived(user=user)
    assert selectors.consent_state_mismatches() == []
    assert selectors.consent_state_mismatches(user_ids=[members[0].pk]) == []


def test_mismatch_check_finds_a_corrupted_state(member, purposes):
    services.consent_change(user=member, changes={"analytics": True}, channel=Channel.WEB)
    ConsentState.objects.filter(user=member).update(granted=False)
    assert selectors.consent_state_mismatches() == [(member.pk, purposes["analytics"].pk, True, False)]


def test_erasure_forgets_the_member_and_keeps_anonymous_evidence(member, purposes, admin_user):
    request = RequestFactory().post("/", HTTP_USER_AGENT="Phone", REMOTE_ADDR="198.51.100.1")
    services.consent_change(user=member, changes={"analytics": True}, channel=Channel.APP, request=request)
    services.consent_change(user=member, changes={"analytics": False}, channel=Channel.STAFF, actor=admin_user)
    assert services.consent_records_erase(user=member) == 2
    assert not ConsentRecord.objects.filter(user=member).exists()
    assert not ConsentState.objects.filter(user=member).exists()
    kept = ConsentRecord.objects.order_by("id")
    assert [(r.user_id, r.ip, r.user_agent, r.granted, r.channel) for r in kept] == [
        (None, None, "", True, "app"),
        (None, None, "", False, "staff"),
    ]
    assert kept[1].actor == admin_user  # the staff member is not the one erased here
    assert services.consent_records_erase(user=admin_user) == 0
    assert ConsentRecord.objects.get(pk=kept[1].pk).actor is None


def test_erasure_without_evidence_deletes_the_records(member, purposes):
    services.consent_change(user=member, changes={"analytics": True}, channel=Channel.WEB)
    assert services.consent_records_erase(user=member, keep_evidence=False) == 1
    assert ConsentRecord.objects.count() == 0


def test_deleting_a_member_pseudonymises_their_records(member, purposes):
    request = RequestFactory().post("/", HTTP_USER_AGENT="Phone", REMOTE_ADDR="198.51.100.1")
    services.consent_change(user=member, changes={"analytics": True}, channel=Channel.APP, request=request)
    member.delete()
    record = ConsentRecord.objects.get()
    assert (record.user_id, record.ip, record.user_agent, record.granted) == (None, None, "", True)
    assert ConsentState.objects.count() == 0
