"""Members contactable for a purpose and channel: the audience API and the staff CSV."""

from __future__ import annotations

import csv
import io

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Permission

from consent.purposes import services
from idp.models import AuditEvent, Client
from tests.accounts.mfa.conftest import force_login_with_mfa
from tests.conftest import basic, bearer, make_client
from tests.consent.purposes.conftest import token_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/consents/audience"


@pytest.fixture
def crowd(django_user_model, purposes):
    """Members in every situation that matters for an audience."""

    def member(name, *, verified=True, active=True, phone="", phone_verified=False, grants=(), withdraw=()):
        user = django_user_model.objects.create_user(
            email=f"{name}@example.com",
            password=None,
            is_active=active,
            phone_number=phone,
            phone_number_verified=phone_verified,
            locale="ja",
        )
        EmailAddress.objects.create(user=user, email=user.email, verified=verified, primary=True)
        if grants:
            services.consent_change(user=user, changes={g: True for g in grants}, channel="web")
        if withdraw:
            services.consent_change(user=user, changes={w: False for w in withdraw}, channel="app")
        return user

    return {
        "yes": member(
            "yes", grants=["marketing_email", "marketing_sms", "sharing"], phone="+8190", phone_verified=True
        ),
        "yes2": member("yes2", grants=["marketing_email"]),
        "unverified": member("unverified", verified=False, grants=["marketing_email"]),
        "inactive": member("inactive", active=False, grants=["marketing_email"]),
        "never": member("never"),
        "withdrew": member(
            "withdrew",
            grants=["marketing_email", "marketing_sms"],
            withdraw=["marketing_email", "marketing_sms"],
            phone="+8191",
            phone_verified=True,
        ),
        "sms_unverified": member("smsu", grants=["marketing_sms"], phone="+8192", phone_verified=False),
    }


@pytest.fixture
def marketing_system(db):
    client, secret = make_client(
        client_id="crm",
        authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
        redirect_uris="",
        allowed_scopes="consents:audience",
    )
    return client, secret


def audience_token(client, marketing_system) -> str:
    app, secret = marketing_system
    resp = client.post(
        "/token", {"grant_type": "client_credentials", "scope": "consents:audience"}, **basic(app, secret)
    )
    assert resp.status_code == 200, resp.content
    return resp.json()["access_token"]


def test_email_audience_is_exactly_the_reachable_members_who_agreed(client, crowd, marketing_system):
    token = audience_token(client, marketing_system)
    resp = client.get(URL, {"purpose": "marketing_email"}, **bearer(token))
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["purpose"] == "marketing_email" and body["channel"] == "email" and body["next_cursor"] is None
    assert [m["email"] for m in body["members"]] == ["yes@example.com", "yes2@example.com"]
    first = body["members"][0]
    assert first["sub"] == str(crowd["yes"].sub) and first["locale"] == "ja" and "phone_number" not in first
    assert AuditEvent.objects.filter(kind="consent.audience_exported", client=marketing_system[0]).count() == 1


def test_sms_audience_needs_a_verified_number(client, crowd, marketing_system):
    body = client.get(
        URL, {"purpose": "marketing_sms", "channel": "sms"}, **bearer(audience_token(client, marketing_system))
    ).json()
    assert body["members"] == [
        {
            "sub": str(crowd["yes"].sub),
            "phone_number": "+8190",
            "locale": "ja",
            "granted_at": crowd["yes"].consent_states.get(purpose__code="marketing_sms").since.isoformat(),
        }
    ]


def test_purpose_without_channel_may_name_one(client, crowd, marketing_system):
    token = audience_token(client, marketing_system)
    plain = client.get(URL, {"purpose": "sharing"}, **bearer(token)).json()
    assert plain["channel"] is None
    assert [m["sub"] for m in plain["members"]] == [str(crowd["yes"].sub)]
    assert "email" not in plain["members"][0] and "phone_number" not in plain["members"][0]
    by_email = client.get(URL, {"purpose": "sharing", "channel": "email"}, **bearer(token)).json()
    assert [m["email"] for m in by_email["members"]] == ["yes@example.com"]


def test_pages_by_cursor_cover_everyone_once(client, django_user_model, purposes, marketing_system):
    users = []
    for i in range(7):
        user = django_user_model.objects.create_user(email=f"u{i}@example.com", password=None)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        services.consent_change(user=user, changes={"marketing_email": True}, channel="web")
        users.append(user)
    token = audience_token(client, marketing_system)
    seen, params, pages = [], {"purpose": "marketing_email", "limit": "3"}, 0
    while True:
        resp = client.get(URL, params, **bearer(token))
        assert resp.status_code == 200
        body = resp.json()
        seen += [m["sub"] for m in body["members"]]
        pages += 1
        if not body["next_cursor"]:
            assert "Link" not in resp
            break
        assert resp["Link"].endswith('rel="next"') and "cursor=" in resp["Link"]
        params = {"purpose": "marketing_email", "limit": "3", "cursor": body["next_cursor"]}
    assert pages == 3 and seen == [str(u.sub) for u in users]
    assert AuditEvent.objects.filter(kind="consent.audience_exported").count() == 1  # once per export


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "invalid_request"),
        ({"purpose": "nope"}, 404, "unknown_purpose"),
        ({"purpose": "marketing_email", "channel": "sms"}, 409, "channel_mismatch"),
        ({"purpose": "marketing_email", "channel": "fax"}, 400, "invalid_channel"),
        ({"purpose": "marketing_email", "limit": "0"}, 400, "invalid_limit"),
        ({"purpose": "marketing_email", "limit": "ten"}, 400, "invalid_limit"),
        ({"purpose": "marketing_email", "limit": "100000"}, 400, "invalid_limit"),
        ({"purpose": "marketing_email", "cursor": "forged"}, 400, "invalid_cursor"),
    ],
)
def test_bad_queries_are_problems(client, purposes, marketing_system, params, status, code):
    resp = client.get(URL, params, **bearer(audience_token(client, marketing_system)))
    assert resp.status_code == status and resp.json()["code"] == code
    assert resp["Content-Type"] == "application/problem+json"


def test_a_cursor_cannot_be_moved_to_another_purpose(client, crowd, marketing_system):
    token = audience_token(client, marketing_system)
    cursor = client.get(URL, {"purpose": "marketing_email", "limit": "1"}, **bearer(token)).json()["next_cursor"]
    resp = client.get(URL, {"purpose": "sharing", "cursor": cursor}, **bearer(token))
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_cursor"


def test_retired_purpose_has_no_audience(client, crowd, marketing_system, purposes):
    sharing = purposes["sharing"]
    sharing.is_active = False
    services.purpose_save(purpose=sharing)
    resp = client.get(URL, {"purpose": "sharing"}, **bearer(audience_token(client, marketing_system)))
    assert resp.status_code == 409 and resp.json()["code"] == "purpose_retired"


def test_member_tokens_and_unlisted_clients_are_refused(client, member, crowd):
    app, _ = make_client(allowed_scopes="openid consents:audience")
    resp = client.get(URL, {"purpose": "marketing_email"}, **bearer(token_for(member, app, "consents:audience")))
    assert resp.status_code == 403 and resp.json()["code"] == "client_credentials_required"
    # A client allowed "every scope" (empty list) must still be given this one explicitly.
    service, _ = make_client(authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS, redirect_uris="")
    resp = client.get(URL, {"purpose": "marketing_email"}, **bearer(token_for(None, service, "consents:audience")))
    assert resp.status_code == 403 and resp.json()["code"] == "audience_not_allowed"
    resp = client.get(URL, {"purpose": "marketing_email"}, **bearer(token_for(None, service, "consents")))
    assert resp.status_code == 403 and resp.json()["code"] == "insufficient_scope"
    assert not AuditEvent.objects.filter(kind="consent.audience_exported").exists()


# --- the staff CSV --------------------------------------------------------------------------------------


def _staff(django_user_model, *perms):
    staff = django_user_model.objects.create_user(email="marketing@example.com", password=None, is_staff=True)
    for perm in perms:
        staff.user_permissions.add(Permission.objects.get(codename=perm))
    return staff


def test_staff_downloads_the_csv_with_the_permission(client, crowd, purposes, django_user_model):
    staff = _staff(django_user_model, "view_purpose", "export_audience")
    force_login_with_mfa(client, staff)
    url = f"/admin/consent/purpose/{purposes['marketing_email'].pk}/audience/"
    form = client.get(url)
    assert form.status_code == 200 and b'id="audience-form"' in form.content
    assert not AuditEvent.objects.filter(kind="consent.audience_exported").exists()  # viewing is not exporting
    resp = client.post(url, {"channel": "email"})
    assert resp.status_code == 200 and resp["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in resp["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(resp.streaming_content).decode())))
    assert rows[0] == ["sub", "email", "locale", "granted_at"]
    assert [r[1] for r in rows[1:]] == ["yes@example.com", "yes2@example.com"]
    event = AuditEvent.objects.get(kind="consent.audience_exported")
    assert event.user == staff and event.data["purpose"] == "marketing_email" and event.data["channel"] == "email"


def test_csv_needs_the_export_permission(client, crowd, purposes, django_user_model):
    staff = _staff(django_user_model, "view_purpose", "change_purpose")
    force_login_with_mfa(client, staff)
    url = f"/admin/consent/purpose/{purposes['marketing_email'].pk}/audience/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"channel": "email"}).status_code == 403
    assert not AuditEvent.objects.filter(kind="consent.audience_exported").exists()


def test_csv_is_behind_the_admin_login_and_csrf(crowd, purposes, django_user_model):
    from django.test import Client as Browser

    url = f"/admin/consent/purpose/{purposes['marketing_email'].pk}/audience/"
    anonymous = Browser()
    resp = anonymous.post(url, {"channel": "email"})
    assert resp.status_code == 302 and "/login/" in resp["Location"]
    browser = Browser(enforce_csrf_checks=True)
    force_login_with_mfa(browser, _staff(django_user_model, "view_purpose", "export_audience"))
    assert browser.post(url, {"channel": "email"}).status_code == 403
    assert not AuditEvent.objects.filter(kind="consent.audience_exported").exists()


def test_csv_refuses_a_channel_the_members_did_not_agree_to(client, crowd, purposes, django_user_model):
    force_login_with_mfa(client, _staff(django_user_model, "view_purpose", "export_audience"))
    url = f"/admin/consent/purpose/{purposes['marketing_email'].pk}/audience/"
    resp = client.post(url, {"channel": "sms"})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/html")
    assert "another channel" in resp.content.decode()


def test_csv_cells_cannot_become_formulas(client, purposes, django_user_model):
    user = django_user_model.objects.create_user(email="=cmd@example.com", password=None)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    services.consent_change(user=user, changes={"marketing_email": True}, channel="web")
    force_login_with_mfa(client, _staff(django_user_model, "view_purpose", "export_audience"))
    resp = client.post(f"/admin/consent/purpose/{purposes['marketing_email'].pk}/audience/", {"channel": "email"})
    rows = list(csv.reader(io.StringIO(b"".join(resp.streaming_content).decode())))
    assert rows[1][1] == "'=cmd@example.com"


def test_admin_edits_purposes_through_the_services(client, admin_user):
    force_login_with_mfa(client, admin_user)
    resp = client.post(
        "/admin/consent/purpose/add/",
        {
            "code": "marketing_push",
            "category": "marketing",
            "contact_channel": "push",
            "brand": "",
            "regions": "",
            "is_active": "on",
            "position": "5",
            "texts-TOTAL_FORMS": "1",
            "texts-INITIAL_FORMS": "0",
            "texts-MIN_NUM_FORMS": "0",
            "texts-MAX_NUM_FORMS": "1000",
            "texts-0-language": "en",
            "texts-0-name": "Offers in the app",
            "texts-0-description": "Push notifications about offers.",
        },
    )
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    from consent.models import Purpose

    purpose = Purpose.objects.get(code="marketing_push")
    assert [(t.language, t.version) for t in purpose.texts.all()] == [("en", 1)]
    assert AuditEvent.objects.filter(kind="consent.purpose_created", user=admin_user).exists()
    assert AuditEvent.objects.filter(kind="consent.purpose_text_added").count() == 1


def test_csv_iteration_walks_every_batch(crowd, purposes, django_user_model):
    from consent.purposes import selectors

    for i in range(4):
        user = django_user_model.objects.create_user(email=f"b{i}@example.com", password=None)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        services.consent_change(user=user, changes={"marketing_email": True}, channel="web")
    purpose = purposes["marketing_email"]
    walked = [m.email for m in selectors.audience_iter(purpose=purpose, channel="email", batch=2)]
    assert walked == ["yes@example.com", "yes2@example.com", *(f"b{i}@example.com" for i in range(4))]
