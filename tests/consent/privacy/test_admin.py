"""The privacy officer's queue in the admin: requests with their state and steps, legal holds,
actions through the services (audited), Django's model permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from consent.models import ErasureRequest, ExportRequest, LegalHold
from consent.privacy import services
from idp.models import AuditEvent
from tests.accounts.mfa.conftest import force_login_with_mfa
from tests.consent.privacy.conftest import rich_member_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client, admin_user):
    force_login_with_mfa(client, admin_user)
    return admin_user


@pytest.fixture
def held_erasure(member, django_capture_on_commit_callbacks):
    rich_member_data(Client(), member)  # the member's own browser, not the officer's
    services.legal_hold_place(
        user_ref=member.pk, category="security_log", reason="fraud case 42", ends_at=timezone.now() + timedelta(days=9)
    )
    with django_capture_on_commit_callbacks(execute=True):
        erasure = services.erasure_request_create(user=member, reason=ErasureRequest.Reason.MEMBER)
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.HELD
    return erasure


def test_the_queue_lists_requests_with_state_steps_and_holds(client, officer, held_erasure):
    listing = client.get("/admin/consent/erasurerequest/?state=held")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert f">{held_erasure.pk}<" in html and "Waiting for a legal hold to end" in html

    page = client.get(f"/admin/consent/erasurerequest/{held_erasure.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "accounts.security_events" in html and "fraud case 42" in html
    assert f"/admin/consent/legalhold/add/?user_ref={held_erasure.user_ref}" in html
    assert held_erasure.notify_email not in html  # the officer needs the state, not the address


def test_retry_is_an_audited_action(client, officer, held_erasure, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post("/admin/consent/erasurerequest/", {"action": "retry", "_selected_action": [held_erasure.pk]})
    assert resp.status_code == 302
    assert AuditEvent.objects.filter(kind="privacy.erasure_retried", user=officer).count() == 1
    held_erasure.refresh_from_db()
    assert held_erasure.state == ErasureRequest.State.HELD  # ran again; the hold still holds


def test_staff_place_a_hold_on_the_add_form_and_lift_it(client, officer, member, django_capture_on_commit_callbacks):
    form = client.get(f"/admin/consent/legalhold/add/?user_ref={member.pk}")
    assert form.status_code == 200 and form.context["adminform"].form.initial["user_ref"] == member.pk
    ends = timezone.now() + timedelta(days=60)
    post = {
        "user_ref": member.pk,
        "category": "security_log",
        "reason": "Regulator inquiry 7",
        "ends_at_0": ends.strftime("%Y-%m-%d"),
        "ends_at_1": ends.strftime("%H:%M:%S"),
    }
    bad = client.post("/admin/consent/legalhold/add/", {**post, "ends_at_0": "2001-01-01"})
    assert bad.status_code == 200 and "must be in the future" in bad.content.decode()
    unknown = client.post("/admin/consent/legalhold/add/", {**post, "user_ref": 999999})
    assert unknown.status_code == 200 and "No account" in unknown.content.decode()
    assert not LegalHold.objects.exists()

    resp = client.post("/admin/consent/legalhold/add/", post)
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    hold = LegalHold.objects.get()
    assert hold.placed_by == officer and hold.user == member and hold.is_active()
    assert AuditEvent.objects.filter(kind="privacy.hold_placed", user=officer, data__hold=hold.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/consent/legalhold/", {"action": "lift", "_selected_action": [hold.pk]})
    hold.refresh_from_db()
    assert hold.lifted_by == officer and not hold.is_active()
    assert AuditEvent.objects.filter(kind="privacy.hold_lifted", user=officer).exists()


def test_the_export_payload_is_not_shown_to_staff(client, officer, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_request_create(user=member)
    export.refresh_from_db()
    assert export.state == ExportRequest.State.READY
    page = client.get(f"/admin/consent/exportrequest/{export.pk}/change/")
    assert page.status_code == 200 and str(member.sub) not in page.content.decode()


def test_permissions_are_the_model_permissions(client, django_user_model, held_erasure):
    staff = django_user_model.objects.create_user(email="clerk@example.com", password="x" * 12, is_staff=True)
    force_login_with_mfa(client, staff)
    assert client.get("/admin/consent/erasurerequest/").status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_erasurerequest"))
    assert client.get("/admin/consent/erasurerequest/").status_code == 200
    client.post("/admin/consent/erasurerequest/", {"action": "retry", "_selected_action": [held_erasure.pk]})
    assert not AuditEvent.objects.filter(kind="privacy.erasure_retried").exists()  # needs "change"
    assert client.get("/admin/consent/legalhold/add/").status_code == 403
    assert client.post(f"/admin/consent/erasurerequest/{held_erasure.pk}/delete/").status_code == 403
