"""Seeing and exporting one's data: a page with every plan's section and where to correct it; a
JSON export built by a Celery job and offered through an emailed, signed, expiring, single-use
link that only the member it belongs to can open."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from consent.models import ExportRequest
from consent.privacy import registry, services
from consent.privacy.app_settings import privacy_settings
from idp.models import AuditEvent
from tests.conftest import login
from tests.consent.privacy.conftest import NICKNAME, PHONE

pytestmark = pytest.mark.django_db


def request_export(client, capture) -> str:
    """Ask for an export on the page; return the path of the link in the email."""
    from django.core import mail

    with capture(execute=True):
        resp = client.post("/privacy/export")
    assert resp.status_code == 302 and resp["Location"] == "/privacy/"
    link = re.search(r"https?://[^/\s]+(/privacy/export/\S+)", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    return link.group(1)


def test_the_member_downloads_everything_once_through_the_emailed_link(
    client, rich_member, mailoutbox, django_capture_on_commit_callbacks
):
    member, data = rich_member
    path = request_export(client, django_capture_on_commit_callbacks)
    assert mailoutbox[-1].to == [member.email] and "ready" in mailoutbox[-1].subject

    resp = client.get(path)
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/json") and "no-store" in resp["Cache-Control"]
    assert resp["Content-Disposition"].startswith("attachment; filename=")
    body = resp.content.decode()
    export = json.loads(body)
    assert export["format"] == "member-id-privacy-export/1" and export["subject"] == str(member.sub)
    assert set(export["sections"]) == {plan.name for plan in registry.plans()}
    account = export["sections"]["accounts"]["data"]
    assert account["profile"]["email"] == member.email and account["profile"]["phone_number"] == PHONE
    assert {a["email"] for a in account["email_addresses"]} == {member.email, "hanako.second@example.com"}
    assert account["linked_accounts"][0]["uid"] == "1234567890"
    assert account["sign_in_methods"]["passkeys"][0]["name"] == "Hanako's laptop"
    assert export["sections"]["idp"]["data"]["connected_apps"][0]["client__name"] == "Fuel Rewards"
    # Never secrets: token values, password hash, social token, key material.
    member.refresh_from_db()
    for secret in (data["tokens"]["access_token"], data["tokens"]["refresh_token"], "social-token-value"):
        assert secret not in body
    assert member.password not in body and "argon2" not in body

    again = client.get(path)
    assert again.status_code == 410 and "already used" in again.content.decode()
    stored = ExportRequest.objects.get(user=member)
    assert stored.state == ExportRequest.State.DOWNLOADED and stored.payload is None
    audit = AuditEvent.objects.filter(user=member, kind__startswith="privacy.export")
    kinds = set(audit.values_list("kind", flat=True))
    assert kinds == {"privacy.export_requested", "privacy.export_ready", "privacy.export_downloaded"}


def test_a_link_opened_by_another_account_or_anonymously_gives_nothing(
    client, member, django_user_model, django_capture_on_commit_callbacks
):
    login(client, member)
    path = request_export(client, django_capture_on_commit_callbacks)

    anonymous = Client()
    resp = anonymous.get(path)
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")

    other = django_user_model.objects.create_user(email="other@example.com", password="another phrase 99")
    stranger = Client()
    stranger.force_login(other)
    resp = stranger.get(path)
    assert resp.status_code == 403 and "belongs to another account" in resp.content.decode()
    assert AuditEvent.objects.filter(kind="privacy.export_foreign_link", user=other).exists()

    assert client.get(path).status_code == 200  # still the member's to download


def test_a_tampered_link_is_not_valid(client, member, django_capture_on_commit_callbacks):
    login(client, member)
    path = request_export(client, django_capture_on_commit_callbacks)
    resp = client.get(path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb"))
    assert resp.status_code == 404 and "not valid" in resp.content.decode()


def test_an_expired_link_says_so_and_the_sweeper_deletes_the_copy(
    client, member, clock, django_capture_on_commit_callbacks
):
    login(client, member)
    path = request_export(client, django_capture_on_commit_callbacks)
    clock.move(seconds=privacy_settings.EXPORT_LINK_SECONDS + 1)
    resp = client.get(path)
    assert resp.status_code == 410 and "expired" in resp.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.privacy_jobs_resume()["expired_exports"] == 1
    export = ExportRequest.objects.get(user=member)
    assert export.state == ExportRequest.State.EXPIRED and export.payload is None


def test_a_stalled_export_job_is_resumed_and_mails_once(member, clock, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the worker died before it ran
        export = services.export_request_create(user=member)
        assert services.export_request_create(user=member).pk == export.pk  # one open request at a time
    clock.move(seconds=privacy_settings.JOB_STALE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.privacy_jobs_resume()["exports"] == [export.pk]
    export.refresh_from_db()
    assert export.state == ExportRequest.State.READY and export.payload["subject"] == str(member.sub)
    services.export_build(export_id=export.pk)  # run again: nothing new
    assert len(mailoutbox) == 1


def test_the_page_shows_the_data_held_with_links_to_correct_it(client, rich_member):
    member, data = rich_member
    page = client.get("/privacy/")
    assert page.status_code == 200
    html = page.content.decode()
    for plan in registry.plans():
        assert f'id="section-{plan.name}"' in html
    for value in (member.email, NICKNAME, PHONE, "hanako.second@example.com", "Fuel Rewards", "Hanako&#x27;s laptop"):
        assert value in html, value
    for url in ("/accounts/email/", "/account/mfa/", "/account/social/", "/apps/"):
        assert f'href="{url}"' in html, url
    assert data["tokens"]["access_token"] not in html
    assert 'action="/privacy/export"' in html and 'href="/privacy/delete"' in html
    assert 'href="/privacy/"' in client.get("/").content.decode()


def test_the_pages_need_a_signed_in_member_and_a_post(client, member):
    assert client.get("/privacy/")["Location"].startswith("/accounts/login/")
    login(client, member)
    assert client.get("/privacy/export").status_code == 405
    assert not ExportRequest.objects.exists()


def test_an_export_request_is_refused_without_csrf(member):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    assert browser.post("/privacy/export").status_code == 403
    assert not ExportRequest.objects.exists()
    assert not AuditEvent.objects.filter(kind="privacy.export_requested").exists()
