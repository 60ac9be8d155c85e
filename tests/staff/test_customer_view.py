"""The single customer view: everything about one member on one page, in a bounded number of
queries, masked by role, audited; the audit log on erasure and in the member's export."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import SecurityEvent, UserSession
from consent.models import ErasureRequest
from consent.privacy import registry
from consent.privacy import services as privacy_services
from idp.models import ClientAuthorization
from loyalty import services as loyalty_services
from staff import services
from staff.models import AuditEntry
from tests.conftest import make_client
from tests.consent.privacy.conftest import rich_member_data
from tests.loyalty.conftest import make_program
from tests.staff.conftest import leaked

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager_celery():
    from idp.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def rich(member):
    data = rich_member_data(Client(), member)
    membership = loyalty_services.membership_join(user=member, program=make_program())
    loyalty_services.points_adjust(membership_id=membership.pk, points=120, reason="welcome", actor=None)
    member.refresh_from_db()
    return member, data, membership


def test_the_page_shows_every_part_masked_for_a_support_agent(staff_as, rich):
    member, data, membership = rich
    browser, agent = staff_as("support_agent")
    response = browser.get(f"/admin/staff/customer/{member.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    for shown in (
        "m•••@example.com",  # identity, masked
        "h•••@example.com",  # the second, unverified address
        "google",  # linked account
        "127.0.x.x",  # the session's IP, masked
        "Fuel Rewards",  # the client used
        membership.member_number,
        "120",  # the balance
        "Recovery codes left",
        "Email address changed",  # a security event
        "Show personal data",  # the break-glass form
    ):
        assert shown in html, shown
    assert leaked(html) == [] and "1234567890" not in html and "127.0.0.1" not in html
    overview = response.context["overview"]
    [use] = overview.clients
    assert use.name == "Fuel Rewards" and use.last_code and use.last_token and use.authorized
    [entry] = AuditEntry.objects.filter(action="view_pii", name="customer_view")
    assert (entry.actor, entry.member, entry.details) == (agent, member, {"masked": True})


def test_the_page_answers_in_a_bounded_number_of_queries(staff_as, rich, django_assert_max_num_queries):
    member, data, membership = rich
    browser, _agent = staff_as("privacy_officer")
    url = f"/admin/staff/customer/{member.pk}/change/"
    browser.get(url)  # warm the content-type cache and the session
    with CaptureQueriesContext(connection) as first:
        browser.get(url)
    # More of everything: sessions, events, clients, ledger entries, consents.
    for i in range(8):
        UserSession.objects.create(user=member, session_key=f"k{i}", ip="10.0.0.1")
        SecurityEvent.objects.create(user=member, kind=SecurityEvent.Kind.LOGIN)
        loyalty_services.points_adjust(membership_id=membership.pk, points=1, reason="r", actor=None)
        other, _secret = make_client(name=f"RP {i}")
        ClientAuthorization.objects.create(user=member, client=other, scope="openid")
    with django_assert_max_num_queries(len(first.captured_queries)):
        response = browser.get(url)
    assert len(response.context["overview"].clients) == 9
    assert len(first.captured_queries) <= 45


def test_the_privacy_officer_sees_it_unmasked_and_a_client_administrator_not_at_all(staff_as, rich):
    member, _data, _membership = rich
    officer, _user = staff_as("privacy_officer")
    html = officer.get(f"/admin/staff/customer/{member.pk}/change/").content.decode()
    assert "member@example.com" in html and "Show personal data" not in html
    clients, _user = staff_as("client_administrator")
    assert clients.get(f"/admin/staff/customer/{member.pk}/change/").status_code == 403
    assert clients.post(f"/admin/staff/customer/{member.pk}/unmask/", {"reason": "x" * 20}).status_code == 403


def test_erasure_keeps_the_entries_and_drops_the_member_link(staff_as, member, django_capture_on_commit_callbacks):
    browser, agent = staff_as("support_agent")
    browser.post(f"/admin/staff/customer/{member.pk}/unmask/", {"reason": "Ticket 12 about the account"})
    browser.get(f"/admin/accounts/user/{member.pk}/change/")
    assert AuditEntry.objects.filter(member=member).count() == 2

    exported = registry.plans()  # the member's export names the staff access, not the staff member
    [plan] = [p for p in exported if p.name == "staff"]
    rows = plan.export(member)["staff_access"]
    assert [r["action"] for r in rows] == ["break_glass", "view_pii"] and "actor" not in rows[0]

    with django_capture_on_commit_callbacks(execute=True):
        privacy_services.erasure_request_create(user=member, reason=ErasureRequest.Reason.MEMBER)
    assert ErasureRequest.objects.get().state == ErasureRequest.State.DONE
    kept = list(AuditEntry.objects.filter(action__in=["break_glass", "view_pii"], actor=agent).order_by("id"))
    assert len(kept) == 2
    assert all(e.member_id is None and e.object_id == "" for e in kept)
    assert kept[0].reason == "Ticket 12 about the account"


def test_erasing_a_staff_member_forgets_their_link_ip_and_device(staff_as, member, django_capture_on_commit_callbacks):
    browser, agent = staff_as("support_agent")
    browser.get(f"/admin/staff/customer/{member.pk}/change/")
    with django_capture_on_commit_callbacks(execute=True):
        privacy_services.erasure_request_create(user=agent, reason=ErasureRequest.Reason.STAFF)
    entry = AuditEntry.objects.get(name="customer_view")
    assert (entry.actor_id, entry.actor_ip, entry.actor_user_agent) == (None, None, "")
    assert entry.member == member  # the member's side is untouched


def test_roles_sync_is_idempotent_through_the_service(db):
    first = services.roles_sync()
    assert services.roles_sync() == first


def test_a_member_without_data_and_an_unknown_id(staff_as, member):
    browser, _agent = staff_as("support_agent")
    response = browser.get(f"/admin/staff/customer/{member.pk}/change/")
    assert response.status_code == 200 and "m•••@example.com" in response.content.decode()
    assert browser.get("/admin/staff/customer/999999/change/").status_code == 404
    assert browser.post("/admin/staff/customer/999999/unmask/", {"reason": "x" * 20}).status_code == 404
    assert browser.get(f"/admin/staff/customer/{member.pk}/unmask/").status_code == 302
