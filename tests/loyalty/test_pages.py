"""Member pages (statement, join, redeem with step-up), the staff admin, privacy and the OpenAPI document."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.app_settings import app_settings
from idp.models import AuditEvent
from loyalty import privacy, selectors
from loyalty.api import openapi
from loyalty.api import urls as api_urls
from loyalty.api.schema import validate
from loyalty.app_settings import loyalty_settings
from loyalty.models import LedgerEntry, Membership
from tests.accounts.mfa.conftest import age_authentication, device_code, force_login_with_mfa
from tests.conftest import login
from tests.loyalty.conftest import API, earn

pytestmark = pytest.mark.django_db


def test_a_member_joins_with_one_click_and_sees_the_statement(client, member, program, partner):
    login(client, member)
    home = client.get("/")
    assert b'id="loyalty-link"' in home.content
    page = client.get("/account/loyalty/")
    assert b"join-sky" in page.content
    assert client.get("/account/loyalty/sky/join").status_code == 405  # joining is a POST (CSRF-protected)
    resp = client.post("/account/loyalty/sky/join")
    assert resp.status_code == 302 and resp["Location"] == "/account/loyalty/sky/"
    membership = Membership.objects.get(user=member)
    earn(program, membership, 1500, client=partner[0])
    page = client.get("/account/loyalty/sky/")
    assert page.status_code == 200
    text = page.content.decode()
    assert membership.member_number in text and "1500 points" in text and "Card partner" in text


def test_member_pages_need_a_login(client, program):
    resp = client.get("/account/loyalty/sky/")
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]
    assert client.post("/account/loyalty/sky/join").status_code == 302
    assert not Membership.objects.exists()


def test_redeeming_on_the_page_is_idempotent_and_validated(client, member, program, partner, membership):
    earn(program, membership, 1000, client=partner[0])
    login(client, member)
    form = client.get("/account/loyalty/sky/").context["form"]
    key = form.initial["key"]
    for _ in range(2):  # a double submit
        resp = client.post("/account/loyalty/sky/redeem", {"points": 300, "key": key})
        assert resp.status_code == 302
    membership.refresh_from_db()
    assert membership.balance == 700
    bad = client.post("/account/loyalty/sky/redeem", {"points": -3, "key": "k2"})
    assert bad.status_code == 400 and bad.context["form"].errors["points"]
    too_much = client.post("/account/loyalty/sky/redeem", {"points": 701, "key": "k3"})
    assert too_much.status_code == 400 and "Not enough points." in too_much.content.decode()
    assert LedgerEntry.objects.filter(kind="redeem").count() == 1


def test_a_large_redemption_on_the_page_asks_for_a_second_factor(client, member, program, partner, membership):
    earn(program, membership, 50_000, client=partner[0])
    login(client, member)  # password only
    device = TOTPDevice.objects.create(user=member, name="Authenticator app", confirmed=True)
    big = {"points": program.redeem_step_up_threshold + 1, "key": "big-1"}
    resp = client.post("/account/loyalty/sky/redeem", big)
    assert resp.status_code == 302 and resp["Location"].startswith("/account/mfa/step-up?")
    assert LedgerEntry.objects.filter(kind="redeem").count() == 0

    step = client.post(resp["Location"], {"method": "totp", "code": device_code(device)})
    assert step["Location"] == "/account/loyalty/sky/"
    assert client.post("/account/loyalty/sky/redeem", big).status_code == 302
    assert LedgerEntry.objects.filter(kind="redeem").count() == 1

    # Long after the second factor, it is asked for again.
    age_authentication(client, loyalty_settings.STEP_UP_MAX_AGE + app_settings.RECENT_AUTH_SECONDS)
    again = client.post("/account/loyalty/sky/redeem", {**big, "key": "big-2"})
    assert again.status_code == 302 and again["Location"].startswith("/account/mfa/reauthenticate/code?")
    assert LedgerEntry.objects.filter(kind="redeem").count() == 1


def test_staff_adjust_points_with_a_reason_in_the_admin(client, django_user_model, program, membership):
    staff = django_user_model.objects.create_user(email="staff@example.com", password="x" * 12, is_staff=True)
    force_login_with_mfa(client, staff)
    url = f"/admin/loyalty/membership/{membership.pk}/adjust/"
    assert client.get(url).status_code == 403  # the permission is needed
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["adjust_points", "view_membership"]))
    assert client.get(url).status_code == 200
    no_reason = client.post(url, {"points": 100, "reason": "   "})
    assert no_reason.status_code == 400
    resp = client.post(url, {"points": 100, "reason": "Delayed flight"})
    assert resp.status_code == 302
    membership.refresh_from_db()
    assert membership.balance == 100
    entry = LedgerEntry.objects.get()
    assert entry.actor == staff and entry.description == "Delayed flight"
    assert AuditEvent.objects.filter(kind="loyalty.points_adjusted", data__actor=staff.pk).exists()
    # The ledger cannot be edited or deleted from the admin.
    assert client.post(f"/admin/loyalty/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.count() == 1
    assert client.get(f"/admin/loyalty/membership/{membership.pk}/change/").status_code == 200


def test_export_and_erasure(member, program, partner, membership):
    earn(program, membership, 800, client=partner[0])
    data = privacy.export(member)
    [exported] = data["memberships"]
    assert exported["member_number"] == membership.member_number and exported["balance"] == 800
    assert [e["points"] for e in exported["entries"]] == [800]

    privacy.erase(member)
    privacy.erase(member)  # idempotent
    membership.refresh_from_db()
    assert membership.user is None and membership.status == "erased" and membership.balance == 0
    assert [e.points for e in LedgerEntry.objects.order_by("id")] == [800, -800]  # amounts kept, forfeited
    assert privacy.export(member) == {"memberships": []}
    assert selectors.ledger_problems() == []


def _api_routes(patterns, prefix="") -> set[str]:
    routes = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            routes |= _api_routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            routes.add("/" + (prefix + str(p.pattern)).replace("<slug:program>", "{program}"))
    return routes


def test_every_api_route_is_in_the_openapi_document_and_examples_validate(client):
    doc = client.get(API + "/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert _api_routes(api_urls.urlpatterns) == set(doc["paths"])
    root = {"components": doc["components"]}
    checked = 0
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert op["summary"] and op["operationId"]
            body = op.get("requestBody")
            if body:
                content = body["content"]["application/json"]
                assert validate(content["example"], content["schema"], root=root) == [], (path, method)
                checked += 1
            for status, resp in op["responses"].items():
                for media in resp.get("content", {}).values():
                    examples = [media["example"]] if "example" in media else []
                    examples += [e["value"] for e in media.get("examples", {}).values()]
                    for example in examples:
                        assert validate(example, media["schema"], root=root) == [], (path, method, status)
                        checked += 1
    assert checked > 20
    # The validator is not a rubber stamp.
    schema, schema_root = openapi.request_schema("EarnRequest")
    assert validate({"member_number": "1", "points": 0, "x": 1}, schema, root=schema_root)


def test_the_browsable_documentation_is_a_page_of_ours(client):
    resp = client.get(API + "/docs")
    assert resp.status_code == 200
    text = resp.content.decode()
    assert "POST /api/v1/loyalty/programs/{program}/earn" in text and "Idempotency-Key" in text
    assert "<script" not in text.split("</header>", 1)[1]  # no scripts, nothing from a CDN
    assert "default-src 'self'" in resp["Content-Security-Policy"]


def test_account_erasure_runs_the_loyalty_plan(
    member, program, partner, membership, django_capture_on_commit_callbacks
):
    """Through the privacy job: the ledger keeps its amounts, nobody is named, the books add up."""
    from consent.models import ErasureRequest
    from consent.privacy import services as privacy_services

    earn(program, membership, 500, client=partner[0])
    with django_capture_on_commit_callbacks(execute=False):
        erasure = privacy_services.erasure_request_create(user=member, reason=ErasureRequest.Reason.STAFF)
        privacy_services.erasure_run(request_id=erasure.pk)
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE
    membership.refresh_from_db()
    assert membership.user_id is None and membership.balance == 0
    assert sorted(e.points for e in LedgerEntry.objects.all()) == [-500, 500]
    assert selectors.ledger_problems() == []


def test_the_membership_list_in_the_admin_reads_its_rows_in_a_fixed_number_of_queries(
    client, django_user_model, program, membership
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loyalty import services

    staff = django_user_model.objects.create_superuser(email="root@example.com", password="x" * 12)
    force_login_with_mfa(client, staff)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/admin/loyalty/membership/").status_code == 200
        return len(ctx.captured_queries)

    queries()  # the first page of a session reads a little more
    one = queries()
    for n in range(5):
        other = django_user_model.objects.create_user(email=f"m{n}@example.com", password="x" * 12)
        services.membership_join(user=other, program=program)
    assert queries() == one
