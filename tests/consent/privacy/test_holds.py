"""Legal holds: held data is kept until the hold ends, everything else is erased at once; then the
erasure finishes by itself (beat) and the member is told. Holds come from staff or from rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from accounts.models import SecurityEvent, WebAuthnCredential
from consent.models import ErasureRequest, ErasureStep, LegalHold
from consent.privacy import services
from idp.models import AuditEvent
from tests.consent.privacy.conftest import linked_counts

pytestmark = pytest.mark.django_db
Step = ErasureStep.State


def erase(member, capture) -> ErasureRequest:
    with capture(execute=True):
        erasure = services.erasure_request_create(user=member, reason=ErasureRequest.Reason.MEMBER)
    erasure.refresh_from_db()
    return erasure


def resume(capture):
    with capture(execute=True):
        return services.privacy_jobs_resume()


def test_a_staff_hold_keeps_its_category_until_it_ends_then_the_erasure_finishes_and_tells_the_member(
    rich_member, admin_user, clock, mailoutbox, django_capture_on_commit_callbacks
):
    member, _data = rich_member
    email = member.email
    hold = services.legal_hold_place(
        user_ref=member.pk,
        category="security_log",
        reason="Police request 2025-117: keep sign-in records",
        ends_at=clock.now + timedelta(days=30),
        placed_by=admin_user,
    )
    assert AuditEvent.objects.filter(kind="privacy.hold_placed", user=admin_user, data__hold=hold.pk).exists()
    events = SecurityEvent.objects.filter(user=member).count()

    erasure = erase(member, django_capture_on_commit_callbacks)
    assert erasure.state == ErasureRequest.State.HELD
    seen = dict(ErasureStep.objects.filter(request=erasure).values_list("key", "state"))
    assert seen["accounts.security_events"] == seen["idp.audit_trail"] == Step.HELD
    assert seen["accounts.account"] == seen["privacy.legal_holds"] == Step.PENDING
    assert seen["accounts.second_factors"] == seen["idp.oauth_tokens"] == seen["accounts.profile"] == Step.DONE
    # Held: the security log, still linked. Not held: erased now, the profile included.
    assert SecurityEvent.objects.filter(user=member).count() >= events
    counts = linked_counts(member.pk)
    assert counts["passkeys"] == counts["access_tokens"] == counts["email_addresses"] == 0
    member.refresh_from_db()
    assert member.email.endswith("@erased.invalid") and member.given_name == "" and not member.is_active
    erasure.refresh_from_db()
    assert erasure.notify_email == email  # only what the last email needs
    assert len(mailoutbox) == 1  # the confirmation

    clock.move(days=29)
    assert resume(django_capture_on_commit_callbacks)["erasures"] == []
    clock.move(days=2)
    assert resume(django_capture_on_commit_callbacks)["erasures"] == [erasure.pk]

    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE and erasure.notify_email == ""
    assert not get_user_model().objects.filter(pk=member.pk).exists()
    assert not SecurityEvent.objects.filter(user_id=member.pk).exists()
    assert len(mailoutbox) == 2 and mailoutbox[1].to == [email]
    assert "kept for a while for legal reasons" in mailoutbox[1].body
    hold.refresh_from_db()
    assert hold.user_id is None and hold.user_ref == member.pk  # a record of the hold, naming nobody


def test_a_rule_places_a_hold_by_itself(rich_member, clock, django_capture_on_commit_callbacks):
    """accounts/privacy.py: a passkey flagged as possibly cloned keeps the security log 90 days."""
    member, data = rich_member
    WebAuthnCredential.objects.filter(pk=data["passkey"].pk).update(flagged_at=clock.now - timedelta(days=10))

    erasure = erase(member, django_capture_on_commit_callbacks)
    assert erasure.state == ErasureRequest.State.HELD
    hold = LegalHold.objects.get(user_ref=member.pk)
    assert hold.rule == "flagged_passkey" and hold.category == "security_log" and hold.placed_by is None
    assert abs(hold.ends_at - (clock.now + timedelta(days=80))) < timedelta(seconds=5)

    resume(django_capture_on_commit_callbacks)  # nothing due; the rule does not place it twice
    services.erasure_run(request_id=erasure.pk)
    assert LegalHold.objects.filter(user_ref=member.pk).count() == 1

    clock.move(days=81)
    assert resume(django_capture_on_commit_callbacks)["erasures"] == [erasure.pk]
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE


def test_lifting_a_hold_lets_the_erasure_finish(rich_member, admin_user, clock, django_capture_on_commit_callbacks):
    member, _data = rich_member
    hold = services.legal_hold_place(
        user_ref=member.pk, category="security_log", reason="dispute", ends_at=clock.now + timedelta(days=365)
    )
    erasure = erase(member, django_capture_on_commit_callbacks)
    assert erasure.state == ErasureRequest.State.HELD
    with django_capture_on_commit_callbacks(execute=True):
        services.legal_hold_lift(hold=hold, lifted_by=admin_user, reason="dispute settled")
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE
    assert AuditEvent.objects.filter(kind="privacy.hold_lifted", user=admin_user).exists()


def test_a_hold_on_all_data_keeps_everything_but_access_is_still_cut(
    rich_member, clock, django_capture_on_commit_callbacks
):
    member, _data = rich_member
    services.legal_hold_place(
        user_ref=member.pk, category="all", reason="litigation", ends_at=clock.now + timedelta(days=10)
    )
    erasure = erase(member, django_capture_on_commit_callbacks)
    assert erasure.state == ErasureRequest.State.HELD
    assert set(ErasureStep.objects.filter(request=erasure).values_list("state", flat=True)) <= {Step.HELD, Step.PENDING}
    member.refresh_from_db()
    assert member.email == "member@example.com" and not member.is_active
    assert linked_counts(member.pk)["access_tokens"] == 0  # revoked at once, not by a step


@pytest.mark.parametrize(
    ("category", "reason", "days", "code"),
    [
        ("nothing_like_this", "r", 1, "category"),
        ("security_log", "  ", 1, "reason"),
        ("security_log", "r", -1, "ends_at"),
    ],
)
def test_bad_holds_are_refused(member, category, reason, days, code):
    from django.utils import timezone

    with pytest.raises(services.PrivacyError) as refused:
        services.legal_hold_place(
            user_ref=member.pk, category=category, reason=reason, ends_at=timezone.now() + timedelta(days=days)
        )
    assert refused.value.code == code
    assert not LegalHold.objects.exists()
