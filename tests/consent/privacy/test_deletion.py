"""Deleting the account from the preference center: recent authentication, then at once signed
out everywhere with every token and consent revoked and login disabled; then the erasure job
erases or pseudonymises every piece of personal data in every app."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from consent.models import ErasureRequest, ErasureStep
from consent.privacy import registry
from idp.models import AuditEvent, ClientAuthorization
from tests.accounts.mfa.conftest import age_authentication, force_login_with_mfa, is_signed_in
from tests.conftest import PASSWORD, basic, bearer, login
from tests.consent.privacy.conftest import NICKNAME, PHONE, STREET, linked_counts, personal_strings_left

pytestmark = pytest.mark.django_db


def refresh(client, data, refresh_token):
    return client.post(
        "/token",
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        **basic(data["client"], data["secret"]),
    )


def test_the_delete_page_needs_a_recent_authentication(client, member):
    login(client, member)
    age_authentication(client, 600)
    page = client.get("/privacy/delete")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/reauthenticate/")
    posted = client.post("/privacy/delete", {"confirm": "on"})
    assert posted.status_code == 302 and posted["Location"].startswith("/accounts/reauthenticate/")
    member.refresh_from_db()
    assert member.is_active and not ErasureRequest.objects.exists()

    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.get("/privacy/delete").status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(client):
    resp = client.get("/privacy/delete")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_the_box_must_be_ticked(client, member):
    login(client, member)
    resp = client.post("/privacy/delete", {})
    assert resp.status_code == 400
    assert "Tick the box" in resp.content.decode()
    member.refresh_from_db()
    assert member.is_active and not ErasureRequest.objects.exists()


def test_deleting_cuts_access_at_once_then_the_job_erases_everything(
    client, rich_member, mailoutbox, django_capture_on_commit_callbacks
):
    member, data = rich_member
    pk, email = member.pk, member.email
    tokens = data["tokens"]
    other_browser = Client()
    login(other_browser, member)
    # The account has a second factor: deleting it needs one in this session too.
    step_up = client.get("/privacy/delete")
    assert step_up.status_code == 302 and step_up["Location"].startswith("/account/mfa/step-up")
    force_login_with_mfa(client, member)
    assert client.get("/privacy/delete").status_code == 200

    with django_capture_on_commit_callbacks(execute=False) as queued:
        resp = client.post("/privacy/delete", {"confirm": "on"})
    assert resp.status_code == 302 and resp["Location"] == "/privacy/deleted"
    assert queued, "the erasure job is queued on commit"

    # At once, before the job runs: signed out everywhere, tokens and consents revoked, no login.
    assert not is_signed_in(client)
    assert other_browser.get("/").status_code == 302  # the other browser's session is gone too
    assert client.get("/userinfo", **bearer(tokens["access_token"])).status_code == 401
    assert refresh(client, data, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert not ClientAuthorization.objects.filter(user_id=pk, revoked_at__isnull=True).exists()
    member.refresh_from_db()
    assert not member.is_active and not member.has_usable_password()
    fresh = Client()
    fresh.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert not is_signed_in(fresh)
    erasure = ErasureRequest.objects.get(user_ref=pk)
    assert erasure.state == ErasureRequest.State.QUEUED and erasure.notify_email == email
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()

    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE
    assert erasure.user_id is None and erasure.notify_email == "" and erasure.notify_language == ""
    assert not get_user_model().objects.filter(pk=pk).exists()
    assert set(linked_counts(pk).values()) == {0}
    left = personal_strings_left([email, NICKNAME, PHONE, STREET, "hanako.second@example.com", "Hanako's laptop"])
    assert left == []

    # Each plan's own step removed its data (not the final cascade): their results count rows.
    steps = {s.key: s for s in ErasureStep.objects.filter(request=erasure)}
    assert set(steps) == {plan.step_key(step) for plan, step in registry.steps()}
    assert {s.state for s in steps.values()} == {ErasureStep.State.DONE}
    for key in (
        "idp.oauth_tokens",
        "idp.authorizations",
        "idp.code_issuances",
        "accounts.sessions",
        "accounts.second_factors",
        "accounts.linked_accounts",
        "accounts.known_devices",
        "accounts.email_addresses",
        "accounts.security_events",
        "accounts.account",
    ):
        assert steps[key].result.get("deleted", 0) > 0, key
    assert steps["idp.audit_trail"].result["pseudonymised"] > 0
    assert steps["accounts.profile"].result == {"pseudonymised": 1}

    # Confirmation first, completion last, both to the address that is now forgotten.
    assert [m.to for m in mailoutbox] == [[email], [email]]
    assert "We are deleting your Member ID account" in mailoutbox[0].subject
    assert "erased" in mailoutbox[1].subject
    kinds = list(AuditEvent.objects.filter(data__request=erasure.pk).values_list("kind", flat=True))
    assert "privacy.erasure_requested" in kinds and "privacy.erasure_completed" in kinds
    assert kinds.count("privacy.erasure_step_done") == len(steps)

    # The deleted page is readable without an account.
    assert "Your account is being deleted" in client.get("/privacy/deleted").content.decode()


def test_asking_twice_keeps_one_request(rich_member, rf):
    from consent.privacy import services

    member, _data = rich_member
    request = rf.post("/privacy/delete")
    request.user = member
    request.session = Client().session
    first = services.erasure_request_create(user=member, reason=ErasureRequest.Reason.STAFF, http_request=request)
    second = services.erasure_request_create(user=member, reason=ErasureRequest.Reason.STAFF)
    assert first.pk == second.pk
