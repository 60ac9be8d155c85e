"""Erasure jobs are idempotent and resumable: each step commits with the record that it is done,
a re-run skips done steps, a worker that dies mid-step leaves that step untouched, and the
sweeper (beat) resumes stalled jobs. The real killed worker is in ``test_worker_killed.py``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models

from accounts.models import KnownDevice, SecurityEvent
from consent.models import ErasureRequest, ErasureStep
from consent.privacy import registry, services, tasks
from consent.privacy.app_settings import privacy_settings
from idp.models import AuditEvent
from tests.consent.privacy.conftest import linked_counts, test_model

Step = ErasureStep.State


class WorkerKilled(BaseException):
    """What a killed process looks like from inside: nothing after this line runs, no handler."""


@pytest.fixture
def crashing_plan():
    """A test-only plan whose step deletes real rows, then dies (``WorkerKilled``) or fails
    (``RuntimeError``) while ``crash`` is set."""
    state = {"crash": None, "calls": 0}

    def run(ctx):
        state["calls"] += 1
        deleted = KnownDevice.objects.filter(user_id=ctx.user_ref).delete()[0]
        if state["crash"] is not None:
            raise state["crash"]("half-way")
        return {"deleted": deleted}

    plan = registry.Plan(
        name="test_crash",
        title="Crash test",
        order=800,
        models=(),
        export=lambda user: {},
        steps=(registry.Step("devices", run),),
    )
    registry.plan_register(plan)
    yield state
    registry.plan_unregister("test_crash")


def request_erasure(member, capture) -> ErasureRequest:
    with capture(execute=False):  # queued, not run: the test runs the job itself
        return services.erasure_request_create(user=member, reason=ErasureRequest.Reason.STAFF)


def states(erasure) -> dict[str, str]:
    return dict(ErasureStep.objects.filter(request=erasure).values_list("key", "state"))


def test_a_job_dying_mid_step_leaves_that_step_untouched_and_the_sweeper_resumes_it(
    rich_member, crashing_plan, mailoutbox, django_capture_on_commit_callbacks
):
    member, _data = rich_member
    devices = KnownDevice.objects.filter(user=member).count()
    assert devices
    erasure = request_erasure(member, django_capture_on_commit_callbacks)
    crashing_plan["crash"] = WorkerKilled

    with pytest.raises(WorkerKilled):
        services.erasure_run(request_id=erasure.pk)

    seen = states(erasure)
    assert seen["test_crash.devices"] == Step.RUNNING  # where it died
    assert KnownDevice.objects.filter(user=member).count() == devices  # its deletes were rolled back
    for key in ("idp.oauth_tokens", "idp.authorizations", "privacy.data_exports"):  # before it: done
        assert seen[key] == Step.DONE
    assert linked_counts(member.pk)["access_tokens"] == 0
    for key in ("accounts.second_factors", "accounts.security_events", "accounts.profile", "accounts.account"):
        assert seen[key] == Step.PENDING  # after it: untouched
    assert linked_counts(member.pk)["totp"] == 1 and SecurityEvent.objects.filter(user=member).exists()
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.RUNNING

    # The sweeper leaves a job alone while it may still be alive...
    crashing_plan["crash"] = None
    heartbeat = erasure.heartbeat_at
    with django_capture_on_commit_callbacks(execute=True):
        assert services.privacy_jobs_resume(now=heartbeat + timedelta(seconds=60))["erasures"] == []
    # ...and resumes it once it has made no progress for PRIVACY_JOB_STALE_SECONDS.
    later = heartbeat + timedelta(seconds=privacy_settings.JOB_STALE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.privacy_jobs_resume(now=later)["erasures"] == [erasure.pk]

    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE and erasure.attempts == 2
    assert set(states(erasure).values()) == {Step.DONE}
    assert not get_user_model().objects.filter(pk=member.pk).exists()
    assert crashing_plan["calls"] == 2
    assert ErasureStep.objects.get(request=erasure, key="test_crash.devices").attempts == 2
    assert ErasureStep.objects.get(request=erasure, key="idp.oauth_tokens").attempts == 1  # not run again
    assert len(mailoutbox) == 2  # one confirmation, one completion: nothing sent twice
    assert AuditEvent.objects.filter(kind="privacy.job_resumed", data__request=erasure.pk).count() == 1


def test_running_a_finished_job_again_changes_nothing(rich_member, mailoutbox, django_capture_on_commit_callbacks):
    member, _data = rich_member
    erasure = request_erasure(member, django_capture_on_commit_callbacks)
    assert services.erasure_run(request_id=erasure.pk).state == ErasureRequest.State.DONE
    audit_rows = AuditEvent.objects.count()
    assert services.erasure_run(request_id=erasure.pk).state == ErasureRequest.State.DONE
    assert tasks.erasure_run.delay(erasure.pk).get() == ErasureRequest.State.DONE
    assert AuditEvent.objects.count() == audit_rows and len(mailoutbox) == 2


def test_a_failing_step_fails_the_request_the_others_still_run_and_staff_retry_it(
    rich_member, crashing_plan, admin_user, django_capture_on_commit_callbacks
):
    member, _data = rich_member
    erasure = request_erasure(member, django_capture_on_commit_callbacks)
    crashing_plan["crash"] = RuntimeError
    assert tasks.erasure_run.delay(erasure.pk).get() == "failed"

    erasure.refresh_from_db()
    seen = states(erasure)
    assert erasure.state == ErasureRequest.State.FAILED and erasure.last_error == "test_crash.devices"
    assert seen["test_crash.devices"] == Step.FAILED
    assert seen["accounts.security_events"] == Step.DONE  # everything else that can be erased is
    assert seen["accounts.account"] == Step.PENDING  # the account row waits for every other step
    assert get_user_model().objects.filter(pk=member.pk).exists()

    crashing_plan["crash"] = None
    with django_capture_on_commit_callbacks(execute=True):
        services.erasure_retry(erasure=erasure, staff=admin_user)
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE
    assert AuditEvent.objects.filter(kind="privacy.erasure_retried", user=admin_user).exists()
    with pytest.raises(services.PrivacyError):
        services.erasure_retry(erasure=erasure, staff=admin_user)


def purchase_model():
    return test_model(
        "TestPurchase",
        {
            "user": models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL),
            "amount": models.DecimalField(max_digits=10, decimal_places=2),
            "delivery_name": models.CharField(max_length=100, blank=True),
        },
        create_table=True,
    )


@pytest.fixture
def shop_plan(transactional_db):
    """A test-only app that keeps accounting records (its own table, its own plan)."""
    registry.hold_category_register("accounting", "Accounting records")
    with purchase_model() as Purchase:
        plan = registry.Plan(
            name="test_shop",
            title="Purchases",
            models=("consent.TestPurchase",),
            export=lambda user: {
                "purchases": registry.rows(Purchase.objects.filter(user=user), ["amount", "delivery_name"])
            },
            steps=(
                registry.Step(
                    "purchases",
                    registry.pseudonymise("consent.TestPurchase", set_fields={"user": None, "delivery_name": ""}),
                    registry.PSEUDONYMISE,
                    hold_category="accounting",
                ),
            ),
        )
        registry.plan_register(plan)
        try:
            assert registry.coverage_problems() == []
            yield Purchase
        finally:
            registry.plan_unregister("test_shop")


def test_accounting_records_keep_their_amounts_and_lose_the_person(shop_plan, member, django_user_model, clock):
    Purchase = shop_plan
    other = django_user_model.objects.create_user(email="other@example.com", password="x" * 12)
    Purchase.objects.create(user=member, amount=Decimal("12.50"), delivery_name="Hanako Yamada")
    Purchase.objects.create(user=member, amount=Decimal("3.20"), delivery_name="Hanako Yamada")
    Purchase.objects.create(user=other, amount=Decimal("9.99"), delivery_name="Other Person")
    services.legal_hold_place(
        user_ref=member.pk,
        category="accounting",
        reason="tax audit of 2025",
        ends_at=clock.now + timedelta(days=30),
    )

    erasure = services.erasure_request_create(user=member, reason=ErasureRequest.Reason.STAFF)  # runs on commit
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.HELD
    assert Purchase.objects.filter(user=member).count() == 2  # held: still linked for the audit
    assert states(erasure)["test_shop.purchases"] == Step.HELD

    clock.move(days=31)
    services.privacy_jobs_resume()
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.DONE
    kept = sorted(Purchase.objects.filter(user__isnull=True).values_list("amount", "delivery_name"))
    assert kept == [(Decimal("3.20"), ""), (Decimal("12.50"), "")]
    assert Purchase.objects.get(user=other).delivery_name == "Other Person"
