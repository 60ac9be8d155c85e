"""Inactive accounts: after PRIVACY_INACTIVE_NOTICE_DAYS without a sign-in, a notice; after
PRIVACY_INACTIVE_ERASURE_DAYS more without one, erasure. A sign-in in between cancels. Both run
on Celery beat; time moves with a clock, not sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from consent.models import ErasureRequest, InactivityNotice
from consent.privacy import tasks
from idp.models import AuditEvent
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _short_periods(settings):
    settings.PRIVACY_INACTIVE_NOTICE_DAYS = 30
    settings.PRIVACY_INACTIVE_ERASURE_DAYS = 7


def sweep(capture) -> dict:
    with capture(execute=True):
        return tasks.inactive_accounts_sweep.delay().get()


def test_a_quiet_account_gets_a_notice_then_is_erased(member, clock, mailoutbox, django_capture_on_commit_callbacks):
    member.last_login = clock.now - timedelta(days=29)
    member.save(update_fields=["last_login"])
    assert sweep(django_capture_on_commit_callbacks)["notices"] == 0

    clock.move(days=2)
    assert sweep(django_capture_on_commit_callbacks)["notices"] == 1
    notice = InactivityNotice.objects.get(user=member)
    assert notice.state == InactivityNotice.State.SENT and notice.erasure_due_at == clock.now + timedelta(days=7)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [member.email]
    assert "unless you sign in" in mailoutbox[0].subject and "/accounts/login/" in mailoutbox[0].body
    assert sweep(django_capture_on_commit_callbacks) == {"notices": 0, "cancelled": 0, "erasures": 0}  # once

    clock.move(days=6)
    assert sweep(django_capture_on_commit_callbacks)["erasures"] == 0
    clock.move(days=1, seconds=1)
    assert sweep(django_capture_on_commit_callbacks)["erasures"] == 1

    erasure = ErasureRequest.objects.get(user_ref=member.pk)
    assert erasure.reason == ErasureRequest.Reason.INACTIVE and erasure.state == ErasureRequest.State.DONE
    assert not get_user_model().objects.filter(pk=member.pk).exists()
    assert [m.subject for m in mailoutbox[1:]] == [
        "Your inactive Member ID account is being deleted",
        "Your Member ID data has been erased",
    ]
    assert AuditEvent.objects.filter(kind="privacy.inactivity_notice_sent").exists()


def test_signing_in_after_the_notice_cancels_it(client, member, clock, django_capture_on_commit_callbacks):
    member.last_login = clock.now - timedelta(days=31)
    member.save(update_fields=["last_login"])
    sweep(django_capture_on_commit_callbacks)
    clock.move(days=3)
    login(client, member)  # a real sign-in sets last_login

    clock.move(days=5)
    assert sweep(django_capture_on_commit_callbacks)["cancelled"] == 1
    notice = InactivityNotice.objects.get(user=member)
    assert notice.state == InactivityNotice.State.CANCELLED
    assert not ErasureRequest.objects.exists()
    member.refresh_from_db()
    assert member.is_active

    # Quiet again for the whole period: a new notice.
    clock.move(days=31)
    assert sweep(django_capture_on_commit_callbacks)["notices"] == 1
    assert InactivityNotice.objects.filter(user=member).count() == 2


def test_staff_and_recent_accounts_are_left_alone(
    member, admin_user, django_user_model, clock, django_capture_on_commit_callbacks
):
    admin_user.last_login = clock.now - timedelta(days=400)
    admin_user.save(update_fields=["last_login"])
    member.last_login = clock.now - timedelta(days=3)
    member.save(update_fields=["last_login"])
    never = django_user_model.objects.create_user(email="never@example.com", password="x" * 12)
    never.date_joined = clock.now - timedelta(days=40)  # never signed in: counted from sign-up
    never.save(update_fields=["date_joined"])

    assert sweep(django_capture_on_commit_callbacks)["notices"] == 1
    assert list(InactivityNotice.objects.values_list("user__email", flat=True)) == ["never@example.com"]


def test_a_period_of_zero_turns_it_off(member, settings, clock, django_capture_on_commit_callbacks):
    settings.PRIVACY_INACTIVE_NOTICE_DAYS = 0
    member.last_login = clock.now - timedelta(days=4000)
    member.save(update_fields=["last_login"])
    assert sweep(django_capture_on_commit_callbacks)["notices"] == 0
    assert not InactivityNotice.objects.exists()
