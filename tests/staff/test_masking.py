"""Support agents and loyalty operations see members' personal data masked in every admin page,
search and action; "Show personal data" with a reason unmasks one member for a limited time."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from loyalty import services as loyalty_services
from staff import masking
from staff.models import AuditEntry
from tests.consent.privacy.conftest import rich_member_data
from tests.loyalty.conftest import make_program
from tests.staff.conftest import MEMBER_SECRETS, leaked

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich(member):
    data = rich_member_data(Client(), member)  # the member's own browser
    member.refresh_from_db()
    return member, data


def test_mask_functions():
    assert masking.mask_email("member@example.com") == "m•••@example.com"
    assert masking.mask_name("Hanako") == "H•••"
    assert masking.mask_phone("+81 90 1234 5678") == "•••78"
    assert masking.mask_ip("203.0.113.7") == "203.0.x.x"
    assert masking.mask_ip("2001:db8::1") == "2001:•••"
    assert masking.mask_text({"street": "x"}) == "•••" and masking.mask_text({}) == ""


def test_support_agent_sees_users_masked_in_list_and_change_view(staff_as, rich):
    member, _data = rich
    browser, agent = staff_as("support_agent")
    listing = browser.get("/admin/accounts/user/")
    html = listing.content.decode()
    assert listing.status_code == 200
    assert "m•••@example.com" in html and "H•••" in html
    assert leaked(html) == []

    page = browser.get(f"/admin/accounts/user/{member.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "m•••@example.com" in html and "•••78" in html
    assert leaked(html) == []
    assert f"/admin/staff/customer/{member.pk}/change/" in html  # the link to the customer view
    entry = AuditEntry.objects.get(action="view_pii", actor=agent, member=member)
    assert entry.details == {"masked": True} and entry.target_type.model == "user"
    assert entry.actor_user_agent == "StaffBrowser/1.0" and entry.actor_ip == "127.0.0.1"


def test_sessions_and_security_events_are_masked(staff_as, rich):
    member, _data = rich
    browser, _agent = staff_as("support_agent")
    for url in ("/admin/accounts/usersession/", "/admin/accounts/securityevent/"):
        html = browser.get(url).content.decode()
        assert "127.0.x.x" in html or url.endswith("securityevent/")
        assert leaked(html) == [] and "127.0.0.1" not in html, url
    event = member.security_events.filter(kind="email_changed").get()
    html = browser.get(f"/admin/accounts/securityevent/{event.pk}/change/").content.decode()
    assert "old@example.com" not in html and leaked(html) == []
    session = member.user_sessions.get()
    html = browser.get(f"/admin/accounts/usersession/{session.pk}/change/").content.decode()
    assert "127.0.x.x" in html and "127.0.0.1" not in html and leaked(html) == []


def test_masked_search_matches_whole_values_only_and_shows_masked_results(staff_as, rich):
    browser, _agent = staff_as("support_agent")
    partial = browser.get("/admin/accounts/user/", {"q": "member@"}).content.decode()
    assert "m•••@example.com" not in partial  # no prefix oracle
    exact = browser.get("/admin/accounts/user/", {"q": "member@example.com"}).content.decode()
    typed = 'value="member@example.com"'  # the search box shows what the agent typed, nothing more
    assert "m•••@example.com" in exact and typed in exact and leaked(exact.replace(typed, "")) == []
    by_name = browser.get("/admin/staff/customer/", {"q": "Hanak"}).content.decode()
    assert "m•••@example.com" not in by_name


def test_loyalty_operations_see_memberships_with_the_member_masked(staff_as, member):
    membership = loyalty_services.membership_join(user=member, program=make_program())
    browser, _ops = staff_as("loyalty_operations")
    for url in ("/admin/loyalty/membership/", f"/admin/loyalty/membership/{membership.pk}/change/"):
        response = browser.get(url)
        html = response.content.decode()
        assert response.status_code == 200
        assert membership.member_number in html and "m•••@example.com" in html
        assert leaked(html) == [], url


def test_privacy_officer_sees_personal_data_unmasked(staff_as, rich):
    member, _data = rich
    browser, _officer = staff_as("privacy_officer")
    html = browser.get(f"/admin/accounts/user/{member.pk}/change/").content.decode()
    assert "member@example.com" in html and "Hanako" in html
    assert AuditEntry.objects.get(action="view_pii", member=member).details == {"masked": False}


def test_break_glass_needs_a_reason_unmasks_one_member_and_is_recorded(staff_as, rich, django_user_model):
    member, _data = rich
    other = django_user_model.objects.create_user(email="other@example.com", given_name="Taro")
    browser, agent = staff_as("support_agent")
    url = f"/admin/staff/customer/{member.pk}/unmask/"

    refused = browser.post(url, {"reason": "because"})
    assert refused.status_code == 400 and "at least 10 characters" in refused.content.decode()
    assert leaked(refused.content.decode()) == []
    assert not AuditEntry.objects.filter(action="break_glass").exists()

    done = browser.post(url, {"reason": "Ticket 4711: member cannot sign in"})
    assert done.status_code == 302
    entry = AuditEntry.objects.get(action="break_glass")
    assert (entry.actor, entry.member, entry.reason) == (agent, member, "Ticket 4711: member cannot sign in")

    html = browser.get(f"/admin/staff/customer/{member.pk}/change/").content.decode()
    assert "member@example.com" in html and "Hanako" in html and "Unique-cho" in html
    html = browser.get(f"/admin/accounts/user/{member.pk}/change/").content.decode()
    assert "member@example.com" in html
    assert AuditEntry.objects.filter(action="view_pii", member=member, details={"masked": False}).count() == 2
    # Lists stay masked, and so does every other member.
    assert "member@example.com" not in browser.get("/admin/accounts/user/").content.decode()
    assert "other@example.com" not in browser.get(f"/admin/accounts/user/{other.pk}/change/").content.decode()

    # The grant ends: the session's expiry is in the past (no waiting in tests).
    session = browser.session
    session[masking.SESSION_KEY] = {str(member.pk): time.time() - 1}
    session.save()
    html = browser.get(f"/admin/staff/customer/{member.pk}/change/").content.decode()
    assert leaked(html, MEMBER_SECRETS) == [] and "Show personal data" in html


def test_a_masked_role_cannot_change_members(staff_as, rich):
    member, _data = rich
    browser, _agent = staff_as("support_agent")
    response = browser.post(f"/admin/accounts/user/{member.pk}/change/", {"email": "evil@example.com"})
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.email == "member@example.com"


def test_lists_of_members_are_audited_without_the_search_term(staff_as, rich):
    browser, agent = staff_as("support_agent")
    browser.get("/admin/accounts/user/")
    browser.get("/admin/accounts/user/", {"q": "member@example.com"})
    browser.get("/admin/accounts/user/", {"q": "nobody@example.com"})  # no rows shown: nothing seen
    listed = list(AuditEntry.objects.filter(action="view_pii", name="changelist", actor=agent).order_by("id"))
    assert [e.details["searched"] for e in listed] == [False, True]
    assert listed[0].target_type.model == "user" and listed[0].member is None and listed[0].details["masked"]
    assert all("member@example.com" not in str((e.details, e.reason, e.fields, e.object_id)) for e in listed)


def test_history_and_popups_are_masked_too(staff_as, rich):
    member, _data = rich
    browser, _agent = staff_as("support_agent")
    history = browser.get(f"/admin/accounts/user/{member.pk}/history/")
    assert history.status_code == 200 and leaked(history.content.decode()) == []
    popup = browser.get("/admin/accounts/user/", {"_popup": "1", "_to_field": "id"})
    assert popup.status_code == 200 and leaked(popup.content.decode()) == []


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/user/?email__startswith=mem",
        "/admin/accounts/user/?given_name__startswith=H",
        "/admin/accounts/user/?phone_number__contains=5678",
        "/admin/staff/customer/?email__startswith=mem",
        "/admin/accounts/usersession/?ip__startswith=127",
        "/admin/accounts/usersession/?user__email__startswith=mem",
    ],
)
def test_url_filters_on_personal_fields_are_no_oracle_for_masked_roles(staff_as, rich, url):
    browser, _agent = staff_as("support_agent")
    resp = browser.get(url)
    assert resp.status_code == 400
    assert leaked(resp.content.decode()) == []


def test_masked_roles_may_follow_a_link_to_a_member_by_id(staff_as, rich):
    member, _data = rich
    browser, _agent = staff_as("support_agent")
    assert browser.get(f"/admin/accounts/usersession/?user__id__exact={member.pk}").status_code == 200
    # The unmasking role filters as the admin always allowed.
    officer, _ = staff_as("privacy_officer")
    assert officer.get("/admin/accounts/user/?email__startswith=mem").status_code == 200


def test_bad_ids_and_bad_export_filters_are_not_errors(staff_as, member):
    browser, _agent = staff_as("support_agent")
    assert browser.get("/admin/staff/customer/abc/change/").status_code == 404
    officer, _ = staff_as("privacy_officer")
    resp = officer.get("/admin/staff/auditentry/export/?created__gte=notadate")
    assert resp.status_code == 302 and resp["Location"].endswith("?e=1")
