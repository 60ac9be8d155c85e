"""A real Celery worker on the real broker is killed (SIGKILL) half-way through an erasure job;
nothing is left half-erased, and a new worker, sent the job by the sweeper, finishes it.

Deterministic, no sleeps: the test holds a PostgreSQL row lock on the member's passkey, which
the ``accounts.second_factors`` step deletes *after* its TOTP and recovery-code deletes. The
worker blocks there, mid-step, with earlier steps committed. PostgreSQL-only (row locks from a
second connection); SQLite runs the in-process equivalent in ``test_erasure_jobs.py``.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import KnownDevice, SecurityEvent, WebAuthnCredential
from consent.models import ErasureRequest, ErasureStep
from consent.privacy import registry, services
from consent.privacy.app_settings import privacy_settings
from idp import bootstrap
from tests.consent.privacy.conftest import linked_counts, rich_member_data

pytestmark = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")),
    reason="needs PostgreSQL (a row lock held from a second connection) and Redis (a real Celery worker); "
    "SQLite runs the in-process equivalent in test_erasure_jobs.py",
)

Step = ErasureStep.State
WORKER = ["celery", "-A", "idp", "worker", "-P", "solo", "--without-mingle", "--without-gossip", "-l", "INFO"]


@pytest.fixture
def real_worker(transactional_db, tmp_path):
    """Start Celery workers as subprocesses on the test database and the Redis of REDIS_URL."""
    import redis

    from idp.celery import app
    from tests.live.test_processes import Processes

    app.control.purge()
    processes = Processes(tmp_path)
    processes.env["IDP_VAR_DIR"] = str(bootstrap.VAR_DIR)  # this run's secret key and key ring
    for name in ("SECRET_KEY", "OIDC_RSA_PRIVATE_KEY", "IDP_ISSUER"):
        if name in os.environ:
            processes.env[name] = os.environ[name]
    yield processes
    processes.stop_all()
    app.control.purge()
    # The killed worker's message waits an hour (visibility timeout) to be redelivered: drop it.
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete("unacked", "unacked_index")


def lock_waiters() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return [row[0] for row in cursor.fetchall()]


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def poll_until(check, what: str, timeout: float = 30) -> None:
    """Bounded polling of another process's state (its progress is not ours to signal)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.05)


def step_states(erasure) -> dict[str, str]:
    return dict(ErasureStep.objects.filter(request=erasure).values_list("key", "state"))


def test_a_worker_killed_mid_step_leaves_nothing_half_erased_and_a_new_worker_finishes(real_worker, member):
    from tests.live.test_processes import test_database_url

    assert connection.vendor == "postgresql"
    rich_member_data(Client(), member)
    pk = member.pk
    passkey = WebAuthnCredential.objects.get(user=member)
    devices = KnownDevice.objects.filter(user=member).count()
    events = SecurityEvent.objects.filter(user=member).count()

    holder = psycopg.connect(test_database_url())  # not autocommit: the lock lasts until rollback
    try:
        holder.execute("SELECT id FROM accounts_webauthncredential WHERE id = %s FOR UPDATE", [passkey.pk])

        erasure = services.erasure_request_create(user=member, reason=ErasureRequest.Reason.MEMBER)  # to Redis
        first, first_log = real_worker.start("worker-1", WORKER)
        [waiting] = real_worker.wait_until(first, first_log, lock_waiters, "the worker blocked on the passkey lock")
        seen = step_states(erasure)
        assert seen["accounts.second_factors"] == Step.RUNNING
        assert seen["idp.oauth_tokens"] == seen["accounts.sessions"] == Step.DONE

        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        holder.rollback()  # the orphaned statement now finishes, finds no client, and is rolled back
        poll_until(lambda: not backend_alive(waiting), "the killed worker's transaction ended")
    finally:
        holder.close()

    # Nothing half-erased: steps before the kill are done, the step it died in is untouched
    # (its TOTP and recovery-code deletes were rolled back), later steps have not run.
    seen = step_states(erasure)
    assert seen["accounts.second_factors"] == Step.RUNNING
    run_order = [plan.step_key(step) for plan, step in registry.steps()]
    died = run_order.index("accounts.second_factors")
    assert [k for k in run_order if seen.get(k) == Step.DONE] == run_order[:died]  # every step before it
    assert {seen.get(k) for k in run_order[died + 1 :]} <= {Step.PENDING, None}  # none after it
    counts = linked_counts(pk)
    assert counts["access_tokens"] == counts["refresh_tokens"] == counts["authorizations"] == 0
    assert counts["totp"] == counts["passkeys"] == counts["recovery_codes"] == 1
    assert counts["known_devices"] == devices and counts["security_events"] >= events
    member.refresh_from_db()
    assert member.email == "member@example.com" and not member.is_active  # profile untouched, login off
    erasure.refresh_from_db()
    assert erasure.state == ErasureRequest.State.RUNNING
    assert "We are deleting your Member ID account" in first_log.read_text()  # sent before the kill

    # A new worker; the sweeper (beat) finds the stalled job and sends it there.
    second, second_log = real_worker.start("worker-2", WORKER)
    real_worker.wait_for(second, second_log, r"celery@\S+ ready\.")
    later = timezone.now() + timedelta(seconds=privacy_settings.JOB_STALE_SECONDS + 1)
    assert services.privacy_jobs_resume(now=later)["erasures"] == [erasure.pk]

    def finished():
        erasure.refresh_from_db()
        return erasure.state == ErasureRequest.State.DONE

    real_worker.wait_until(second, second_log, finished, "the erasure finished on the new worker")
    assert set(step_states(erasure).values()) == {Step.DONE}
    assert ErasureStep.objects.get(request=erasure, key="accounts.second_factors").attempts == 2
    assert ErasureStep.objects.get(request=erasure, key="idp.oauth_tokens").attempts == 1
    assert not get_user_model().objects.filter(pk=pk).exists()
    assert set(linked_counts(pk).values()) == {0} and not TOTPDevice.objects.filter(user_id=pk).exists()
    output = second_log.read_text()
    assert "Your Member ID data has been erased" in output
    assert "We are deleting your Member ID account" not in output  # the confirmation is not sent twice
