"""The staff audit log: every admin change, deletion, action and custom page, once; field names
and never values; append-only; exported as JSON Lines from the admin and for a SIEM."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.forms import MultiWidget
from django.test import Client

from idp.models import Client as OAuthClient
from loyalty import services as loyalty_services
from loyalty.models import Program
from staff import services
from staff.models import AppendOnly, AuditEntry
from tests.conftest import login
from tests.loyalty.conftest import make_program

pytestmark = pytest.mark.django_db


def form_data(form) -> dict:
    """What a browser would post for an admin form as it was shown (initial values)."""
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        widget = getattr(field.widget, "widget", field.widget)
        if isinstance(widget, MultiWidget):
            for i, part in enumerate(widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else part
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    return data


def entries(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def test_a_change_records_field_names_never_values(staff_as, member):
    browser, root = staff_as("superuser")
    page = browser.get(f"/admin/accounts/user/{member.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if k in form.fields and v is not None}
    data.update(email=member.email, given_name="Hanako", family_name="Renamed-Secret", groups=[], user_permissions=[])
    data.update({"user_sessions-TOTAL_FORMS": 0, "user_sessions-INITIAL_FORMS": 0})
    response = browser.post(f"/admin/accounts/user/{member.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    [change] = entries(action="change")
    assert (change.actor, change.member, change.object_id) == (root, member, str(member.pk))
    assert change.fields == ["family_name"]
    stored = json.dumps([change.reason, change.fields, change.details, change.name])
    assert "Renamed-Secret" not in stored


def test_adds_and_deletions_in_any_app_are_recorded_once(staff_as):
    browser, admin_user = staff_as("client_administrator")
    client = OAuthClient.objects.create(
        client_id="rp-x", name="Doomed", client_type="public", authorization_grant_type="authorization-code"
    )
    response = browser.post(f"/admin/idp/client/{client.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    [deleted] = entries(action="delete")
    assert (deleted.actor, deleted.target_type.model, deleted.object_id) == (admin_user, "client", str(client.pk))

    ops, _user = staff_as("loyalty_operations")
    data = form_data(ops.get("/admin/loyalty/program/add/").context["adminform"].form)
    data.update(name="Fuel", slug="fuel")
    data.update({f"{p}-{k}": 0 for p in ("tiers", "clients") for k in ("TOTAL_FORMS", "INITIAL_FORMS")})
    response = ops.post("/admin/loyalty/program/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    program = Program.objects.get(slug="fuel")
    [added] = entries(action="add")
    assert added.object_id == str(program.pk) and "name" in added.fields and added.member is None


def test_admin_actions_and_custom_pages_are_recorded_with_the_member(staff_as, member):
    login(Client(), member)  # one open session
    browser, agent = staff_as("support_agent")
    session = member.user_sessions.get()
    response = browser.post(
        "/admin/accounts/usersession/", {"action": "end_sessions", "_selected_action": [session.pk]}
    )
    assert response.status_code == 302
    [ended] = entries(action="action")
    assert (ended.name, ended.member, ended.actor, ended.object_id) == ("end_sessions", member, agent, str(session.pk))

    membership = loyalty_services.membership_join(user=member, program=make_program())
    ops, operator = staff_as("loyalty_operations")
    url = f"/admin/loyalty/membership/{membership.pk}/adjust/"
    assert ops.post(url, {"points": 0, "reason": ""}).status_code == 400
    assert len(entries(action="action")) == 1  # a refused form is not an action
    response = ops.post(url, {"points": 250, "reason": "Goodwill for ticket 99"})
    assert response.status_code == 302
    adjusted = entries(action="action")[-1]
    assert (adjusted.name, adjusted.member, adjusted.actor) == ("loyalty_membership_adjust", member, operator)
    assert adjusted.reason == "Goodwill for ticket 99"


def test_the_log_is_append_only_in_the_model_and_the_admin(staff_as, member):
    browser, _root = staff_as("superuser")
    entry = services.audit_write(request=None, action="view_pii", target=member, reason="r")
    entry.reason = "rewritten"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.filter(pk=entry.pk).update(member=None) == 1  # forgetting the person is allowed

    assert browser.get(f"/admin/staff/auditentry/{entry.pk}/change/").status_code == 200
    assert browser.post(f"/admin/staff/auditentry/{entry.pk}/change/", {"reason": "x"}).status_code == 403
    assert browser.get(f"/admin/staff/auditentry/{entry.pk}/delete/").status_code == 403
    assert browser.get("/admin/staff/auditentry/add/").status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).reason == "r"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only")
def test_the_database_refuses_updates_and_deletes(member):
    entry = services.audit_write(request=None, action="view_pii", target=member, reason="r")
    table = AuditEntry._meta.db_table
    for sql in (
        f"UPDATE {table} SET reason = 'x' WHERE id = %s",
        f"UPDATE {table} SET action = 'change' WHERE id = %s",
        f"UPDATE {table} SET member_id = member_id + 1000 WHERE id = %s",
        f"DELETE FROM {table} WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET member_id = NULL, object_id = '' WHERE id = %s", [entry.pk])
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.member_id, entry.object_id, entry.reason) == (None, "", "r")


def test_the_admin_lists_searches_and_exports_jsonl_and_the_export_is_audited(staff_as, member):
    browser, officer = staff_as("privacy_officer")
    services.audit_write(request=None, action="break_glass", target=member, reason="Ticket 1 for a SIEM")
    services.audit_write(request=None, action="view_pii", target=member)
    listing = browser.get("/admin/staff/auditentry/", {"action__exact": "break_glass"})
    assert listing.status_code == 200 and "/admin/staff/auditentry/export/?action__exact=break_glass" in (
        listing.content.decode()
    )
    assert browser.get("/admin/staff/auditentry/", {"q": str(member.pk)}).status_code == 200

    response = browser.get("/admin/staff/auditentry/export/", {"action__exact": "break_glass"})
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    lines = b"".join(response.streaming_content).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(r["action"], r["member_id"], r["reason"], r["target_type"]) for r in rows] == [
        ("break_glass", member.pk, "Ticket 1 for a SIEM", "accounts.user")
    ]
    [export] = entries(action="export")
    assert export.actor == officer and export.details["filters"] == {"action__exact": "break_glass"}

    agent, _user = staff_as("support_agent")
    assert agent.get("/admin/staff/auditentry/export/").status_code == 403


def test_the_export_command_writes_jsonl_for_a_time_window_and_is_audited(member):
    old = services.audit_write(request=None, action="view_pii", target=member)
    AuditEntry.objects.filter(pk=old.pk)  # created now; the window below is around it
    out = StringIO()
    call_command("audit_export", since="2000-01-01", until="2999-01-01", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [old.pk]
    assert set(rows[0]) >= {"time", "action", "actor_id", "actor_ip", "target_type", "target_id", "member_id"}
    empty = StringIO()
    call_command("audit_export", until="2000-01-01", stdout=empty)
    assert empty.getvalue() == ""
    exports = entries(action="export")
    assert len(exports) == 2 and exports[0].details["channel"] == "command"


def test_a_download_from_a_custom_admin_page_is_an_audited_export(staff_as, member):
    from tests.consent.purposes.conftest import purpose_make

    purpose = purpose_make("marketing_email", contact_channel="email")
    browser, officer = staff_as("privacy_officer")
    response = browser.post(f"/admin/consent/purpose/{purpose.pk}/audience/", {"channel": "email"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    [export] = entries(action="export")
    assert (export.name, export.actor, export.object_id) == ("consent_purpose_audience", officer, str(purpose.pk))
