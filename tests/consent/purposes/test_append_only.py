"""Consent records cannot be rewritten: the database refuses it (PostgreSQL trigger), the admin
offers no way to, and forgetting a member is the one change allowed."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from consent.models import ConsentRecord, ConsentState
from consent.purposes import services
from tests.accounts.mfa.conftest import force_login_with_mfa

pytestmark = pytest.mark.django_db
Channel = ConsentRecord.Channel
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


@pytest.fixture
def record(member, purposes, admin_user):
    [record] = services.consent_change(
        user=member,
        changes={"analytics": True},
        channel=Channel.STAFF,
        ip="192.0.2.5",
        user_agent="UA",
        actor=admin_user,
    )
    return record


def _refused(**update) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentRecord.objects.filter(pk=update.pop("pk")).update(**update)


@postgres_only
@pytest.mark.parametrize(
    "change",
    [
        {"granted": False},
        {"channel": "web"},
        {"client_id": "someone-else"},
        {"language": "ja"},
        {"note": "edited"},
        {"ip": "192.0.2.99"},
        {"user_agent": "Other"},
    ],
)
def test_database_refuses_rewriting_evidence(record, change):
    _refused(pk=record.pk, **change)
    record.refresh_from_db()
    assert record.granted is True and record.channel == "staff" and record.ip == "192.0.2.5"


@postgres_only
def test_database_refuses_moving_a_record_to_another_member(record, django_user_model):
    other = django_user_model.objects.create_user(email="other@example.com", password="x")
    _refused(pk=record.pk, user=other)
    _refused(pk=record.pk, granted=False, user=None)  # forgetting cannot smuggle in a change


@postgres_only
def test_database_refuses_deleting_a_members_record(record):
    ConsentState.objects.filter(record=record).delete()  # else the ORM itself refuses (PROTECT)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentRecord.objects.filter(pk=record.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentrecord WHERE id = %s", [record.pk])
    assert ConsentRecord.objects.filter(pk=record.pk).exists()


@postgres_only
def test_database_allows_forgetting_personal_data_then_purging(record):
    ConsentState.objects.filter(record=record).delete()
    ConsentRecord.objects.filter(pk=record.pk).update(user=None, actor=None, ip=None, user_agent="")
    record.refresh_from_db()
    assert (record.user_id, record.actor_id, record.ip, record.user_agent, record.granted) == (
        None,
        None,
        None,
        "",
        True,
    )
    ConsentRecord.objects.filter(pk=record.pk).delete()
    assert not ConsentRecord.objects.filter(pk=record.pk).exists()


def test_admin_cannot_add_change_or_delete_records(client, admin_user, record):
    force_login_with_mfa(client, admin_user)
    assert client.get("/admin/consent/consentrecord/").status_code == 200
    found = client.get("/admin/consent/consentrecord/", {"q": "member@example.com"})
    assert found.status_code == 200 and found.context["cl"].result_count == 1
    assert client.get("/admin/consent/consentstate/", {"q": "member"}).status_code == 200
    page = client.get(f"/admin/consent/consentrecord/{record.pk}/change/")
    assert page.status_code == 200 and b'name="granted"' not in page.content
    assert client.get("/admin/consent/consentrecord/add/").status_code == 403
    assert client.post(f"/admin/consent/consentrecord/{record.pk}/change/", {"granted": ""}).status_code == 403
    assert client.post(f"/admin/consent/consentrecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    record.refresh_from_db()
    assert record.granted is True


def test_admin_withdraws_on_a_members_request_through_the_service(client, admin_user, record, member):
    force_login_with_mfa(client, admin_user)
    state = member.consent_states.get()
    resp = client.post(
        "/admin/consent/consentstate/", {"action": "withdraw", "_selected_action": [state.pk]}, follow=True
    )
    assert resp.status_code == 200
    latest = ConsentRecord.objects.filter(user=member).order_by("-id").first()
    assert latest.granted is False and latest.channel == "staff" and latest.actor == admin_user
    assert ConsentRecord.objects.filter(user=member).count() == 2  # the grant is still there


def test_staff_without_permission_cannot_withdraw(client, django_user_model, record, member):
    staff = django_user_model.objects.create_user(email="cs@example.com", password="x", is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_consentstate"))
    force_login_with_mfa(client, staff)
    state = member.consent_states.get()
    page = client.get("/admin/consent/consentstate/")
    assert page.status_code == 200 and b'value="withdraw"' not in page.content
    client.post("/admin/consent/consentstate/", {"action": "withdraw", "_selected_action": [state.pk]})
    assert ConsentRecord.objects.filter(user=member).count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_changes_record_once(django_user_model):
    """Two devices grant the same purpose at the same moment: the second waits on the member lock,
    then sees the grant and adds nothing (idempotency holds under concurrency)."""
    import threading
    import time

    from django.db import connections

    from tests.consent.purposes.conftest import purpose_make

    purpose_make("analytics", category="analytics")
    user = django_user_model.objects.create_user(email="race@example.com", password=None)
    results: dict[str, object] = {}

    def second_device():
        try:
            results["second"] = services.consent_change(user=user, changes={"analytics": True}, channel="kiosk")
        finally:
            connections.close_all()

    with transaction.atomic():
        first = services.consent_change(user=user, changes={"analytics": True}, channel="app")
        thread = threading.Thread(target=second_device)
        thread.start()
        deadline = time.monotonic() + 10
        with connection.cursor() as cursor:
            while True:  # wait until the second transaction is blocked on our row lock
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the view is frozen in a transaction
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                if cursor.fetchone()[0] >= 1:
                    break
                assert time.monotonic() < deadline, "the second change never waited for the first"
    thread.join(timeout=10)
    assert len(first) == 1 and results["second"] == []
    assert ConsentRecord.objects.filter(user=user).count() == 1
