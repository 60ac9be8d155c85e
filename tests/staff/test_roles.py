"""Roles are groups with exact permission sets (staff/roles.py), kept by ``manage.py staff_roles``;
each role sees only its admin sections."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from staff import roles, services

pytestmark = pytest.mark.django_db

SECTIONS = {
    "users": "/admin/accounts/user/",
    "sessions": "/admin/accounts/usersession/",
    "security_events": "/admin/accounts/securityevent/",
    "customers": "/admin/staff/customer/",
    "member_attributes": "/admin/accounts/memberattributes/",
    "access_tokens": "/admin/oauth2_provider/accesstoken/",
    "erasure_requests": "/admin/consent/erasurerequest/",
    "legal_documents": "/admin/consent/legaldocument/",
    "purposes": "/admin/consent/purpose/",
    "consent_records": "/admin/consent/consentrecord/",
    "audit_log": "/admin/staff/auditentry/",
    "programs": "/admin/loyalty/program/",
    "memberships": "/admin/loyalty/membership/",
    "ledger": "/admin/loyalty/ledgerentry/",
    "clients": "/admin/idp/client/",
    "webhooks": "/admin/consent/webhooksubscription/",
    "attributes": "/admin/accounts/attributedefinition/",
    "groups": "/admin/auth/group/",
}
ALLOWED = {
    "support_agent": {"users", "sessions", "security_events", "customers"},
    "privacy_officer": {
        "users",
        "customers",
        "erasure_requests",
        "legal_documents",
        "purposes",
        "consent_records",
        "audit_log",
    },
    "loyalty_operations": {"programs", "memberships", "ledger"},
    "client_administrator": {"clients", "webhooks", "attributes"},
    "superuser": set(SECTIONS),
}


@pytest.mark.parametrize("role_key", sorted(ALLOWED))
def test_each_role_sees_only_its_admin_sections(staff_as, role_key):
    browser, _user = staff_as(role_key)
    assert browser.get("/admin/").status_code == 200
    answers = {name: browser.get(url).status_code for name, url in SECTIONS.items()}
    assert {name for name, status in answers.items() if status == 200} == ALLOWED[role_key], answers
    assert {status for name, status in answers.items() if name not in ALLOWED[role_key]} <= {403}


def test_the_command_sets_exact_permission_sets_and_is_idempotent(db):
    call_command("staff_roles", stdout=open("/dev/null", "w"))
    group = Group.objects.get(name=roles.SUPPORT_AGENT.name)
    stray = Permission.objects.get(codename="delete_user")
    group.permissions.add(stray)  # drift: somebody added a permission by hand
    call_command("staff_roles", stdout=open("/dev/null", "w"))
    call_command("staff_roles", stdout=open("/dev/null", "w"))
    assert Group.objects.filter(name__in=[r.name for r in roles.ROLES.values()]).count() == len(roles.ROLES)
    have = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert have == set(roles.SUPPORT_AGENT.permissions)
    superuser = Group.objects.get(name=roles.SUPERUSER.name)
    assert superuser.permissions.count() == Permission.objects.count()


def test_only_the_privacy_officer_and_superuser_may_unmask(db):
    services.roles_sync()
    unmask = Permission.objects.get(codename="unmask_personal_data")
    assert set(unmask.group_set.values_list("name", flat=True)) == {"Privacy officer", "Superuser"}


def test_an_unknown_permission_in_a_role_fails_loudly(db, monkeypatch):
    broken = roles.Role(key="x", name="X", title="X", permissions=("accounts.view_nothing",))
    monkeypatch.setitem(roles.ROLES, "x", broken)
    with pytest.raises(services.UnknownPermission, match="accounts.view_nothing"):
        services.roles_sync()


def test_the_superuser_opens_add_pages_of_every_kind_unmasked(staff_as, member):
    browser, _user = staff_as("superuser")
    for url in (
        "/admin/accounts/user/add/",
        "/admin/idp/client/add/",
        "/admin/consent/legalhold/add/",
        "/admin/otp_totp/totpdevice/add/",
        f"/admin/accounts/user/{member.pk}/history/",
        "/admin/oauth2_provider/accesstoken/",
    ):
        assert browser.get(url).status_code == 200, url
    assert "member@example.com" in browser.get("/admin/accounts/user/").content.decode()


@pytest.mark.parametrize(
    "role,status",
    [("support_agent", 403), ("loyalty_operations", 403), ("client_administrator", 403), ("privacy_officer", 200)],
)
def test_only_roles_that_need_the_figures_see_the_dashboard(staff_as, role, status):
    browser, _user = staff_as(role)
    assert browser.get("/admin/dashboard/").status_code == status
