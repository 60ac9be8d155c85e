"""The ledger under concurrent requests, duplicated keys, retries and killed processes (PostgreSQL).

Each thread has its own database connection, so requests for one member really race on the row
lock and the unique index. SQLite serialises every writer at BEGIN IMMEDIATE, so these races
cannot happen there: the tests are skipped on SQLite (CI runs them on PostgreSQL).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from accounts.services import ACR_MFA
from loyalty import selectors, services
from loyalty.models import IdempotencyRecord, LedgerEntry, Membership, ProgramClient
from tests.conftest import make_client
from tests.loyalty.conftest import API, make_partner, make_program, member_token, on_postgres

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
THREADS = 50


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if not on_postgres():
        pytest.skip("row locks and unique-index waits between connections need PostgreSQL (SQLite serialises writers)")


def _run_threads(n: int, work) -> list:
    """Run ``work(i)`` in ``n`` threads started together; each closes its own connection."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    failures: list = []

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not failures, failures[:3]
    return results


def _assert_ledger_consistent() -> None:
    assert selectors.ledger_problems() == []
    call_command("loyalty_check", verbosity=0)
    assert not Membership.objects.filter(balance__lt=0).exists()


def test_fifty_clients_earn_and_redeem_with_duplicate_keys_and_retries(django_user_model):
    program = make_program("sky", redeem_max_per_day=0, redeem_max_points_per_day=0)
    partner, partner_token = make_partner(program)
    shop, _ = make_client(name="Sky shop")
    ProgramClient.objects.create(program=program, client=shop)
    members, tokens = [], []
    for i in range(5):  # few members: many requests race for the same row
        user = django_user_model.objects.create_user(email=f"m{i}@example.com", password="x" * 12)
        members.append(services.membership_join(user=user, program=program))
        tokens.append(member_token(user, shop, acr=ACR_MFA))

    rng = random.Random(20250501)
    operations = []  # (key, path, token, body): every key always goes with the same body
    for n in range(300):
        m = rng.randrange(len(members))
        if n < 40 or rng.random() < 0.6:
            body = {"member_number": members[m].member_number, "points": rng.randint(1, 500)}
            operations.append((f"earn-{n}", "/programs/sky/earn", partner_token, body))
        else:
            operations.append((f"redeem-{n}", "/programs/sky/redemptions", tokens[m], {"points": rng.randint(1, 400)}))

    def work(i: int):
        local = random.Random(i)
        client = Client()
        seen = []
        for _ in range(24):
            key, path, token, body = local.choice(operations)  # threads pick the same keys at the same time
            for _attempt in range(local.choice([1, 1, 2])):  # and some retry what they just sent
                resp = client.post(
                    API + path,
                    data=body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {token}",
                    HTTP_IDEMPOTENCY_KEY=key,
                )
                seen.append((key, resp.status_code, resp.json()))
        return seen

    results = [r for thread in _run_threads(THREADS, work) for r in thread]

    by_key = defaultdict(list)
    for key, status, body in results:
        assert status in (201, 409), (status, body)  # posted, or not enough points; never a 500
        if status == 409:
            assert body["code"] == "insufficient_points"
        by_key[key].append((status, body))
    posted = {}
    for key, answers in by_key.items():
        bodies = {repr(sorted(b.items())) for s, b in answers if s == 201}
        assert len(bodies) <= 1, f"{key} answered differently: {bodies}"
        if bodies:
            posted[key] = next(b for s, b in answers if s == 201)

    assert len(results) > 1000 and sum(len(a) > 1 for a in by_key.values()) > 100  # real duplicates happened
    entries = LedgerEntry.objects.exclude(kind="expire")
    assert entries.count() == len(posted)  # no duplicate entries, none lost
    assert {str(e.uuid) for e in entries} == {b["id"] for b in posted.values()}
    assert IdempotencyRecord.objects.count() == len(posted)
    for m in members:
        m.refresh_from_db()
        expected = sum(b["points"] for b in posted.values() if b["member_number"] == m.member_number)
        assert m.balance == expected >= 0
    _assert_ledger_consistent()


def test_fifty_identical_requests_post_once(django_user_model):
    program = make_program("sky")
    _partner, token = make_partner(program)
    user = django_user_model.objects.create_user(email="m@example.com", password="x" * 12)
    membership = services.membership_join(user=user, program=program)
    body = {"member_number": membership.member_number, "points": 250}

    def work(i: int):
        resp = Client().post(
            API + "/programs/sky/earn",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY="the-one-key",
        )
        return resp.status_code, resp.json(), resp.headers.get("Idempotent-Replayed")

    results = _run_threads(THREADS, work)
    assert {status for status, _, _ in results} == {201}
    assert len({body["id"] for _, body, _ in results}) == 1
    assert sum(replayed is None for _, _, replayed in results) == 1  # one did the work, 49 replayed it
    membership.refresh_from_db()
    assert membership.balance == 250 and LedgerEntry.objects.count() == 1
    _assert_ledger_consistent()


# --- a process killed in the middle of a transaction -----------------------------------------------------

HANG = """
import sys, django
django.setup()
from django.db import transaction
from loyalty import services
from loyalty.models import Membership, Program
from idp.models import Client

op, program_slug, client_pk, number = sys.argv[1:5]
program = Program.objects.get(slug=program_slug)
with transaction.atomic():
    if op == "earn":
        body = {"member_number": number, "points": 999}
        services.points_earn(program=program, client=Client.objects.get(pk=client_pk), member_number=number,
                             points=999, idempotency_key="killed-key",
                             fingerprint=services.request_hash("earn", body))
    else:
        services.membership_expire(membership_id=Membership.objects.get(member_number=number).pk)
    print("inside", flush=True)
    sys.stdin.read()  # hold the transaction, the member's row lock and the key until killed
"""


def _start_hanging(op: str, program, client_pk: int, number: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="idp.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        PYTHONPATH=str(ROOT),
    )
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", HANG, op, program.slug, str(client_pk), number],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.strip() == "inside", proc.stderr.read()
    return proc


def _wait_until_blocked(count: int) -> None:
    """Poll (with a deadline) until ``count`` other backends wait on a lock held by the hanging one."""
    deadline = time.monotonic() + 30
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.05)
    raise AssertionError("the concurrent requests never waited for the hanging transaction")


def test_a_request_killed_mid_transaction_leaves_the_ledger_consistent(django_user_model):
    program = make_program("sky")
    partner, token = make_partner(program)
    user = django_user_model.objects.create_user(email="m@example.com", password="x" * 12)
    membership = services.membership_join(user=user, program=program)
    services.points_earn(
        program=program,
        client=partner,
        member_number=membership.member_number,
        points=100,
        idempotency_key="before",
        fingerprint="f",
    )

    proc = _start_hanging("earn", program, partner.pk, membership.member_number)
    body = {"member_number": membership.member_number, "points": 999}
    answers = {}

    def retry_same_key():
        resp = Client().post(
            API + "/programs/sky/earn",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY="killed-key",
        )
        answers["retry"] = (resp.status_code, resp.json(), resp.headers.get("Idempotent-Replayed"))
        connections.close_all()

    def other_posting():
        resp = Client().post(
            API + "/programs/sky/earn",
            data={**body, "points": 1},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY="other-key",
        )
        answers["other"] = resp.status_code
        connections.close_all()

    threads = [threading.Thread(target=retry_same_key), threading.Thread(target=other_posting)]
    for t in threads:
        t.start()
    _wait_until_blocked(2)  # the retry waits on the key, the other posting on the member's row
    proc.kill()
    proc.wait(timeout=30)
    for t in threads:
        t.join(timeout=60)

    status, posted, replayed = answers["retry"]
    assert status == 201 and replayed is None  # the killed attempt left nothing behind: the retry posts it
    assert answers["other"] == 201
    membership.refresh_from_db()
    assert membership.balance == 100 + 999 + 1
    assert LedgerEntry.objects.filter(membership=membership).count() == 3
    _assert_ledger_consistent()


def test_an_expiry_worker_killed_mid_transaction_is_safe_to_run_again(django_user_model):
    from datetime import timedelta

    from django.utils import timezone

    program = make_program("sky")
    partner, _ = make_partner(program)
    user = django_user_model.objects.create_user(email="m@example.com", password="x" * 12)
    membership = services.membership_join(user=user, program=program)
    services.points_earn(
        program=program,
        client=partner,
        member_number=membership.member_number,
        points=300,
        idempotency_key="old",
        fingerprint="f",
        now=timezone.now() - timedelta(days=program.points_expire_after_days + 1),
    )

    proc = _start_hanging("expire", program, partner.pk, membership.member_number)
    proc.kill()
    proc.wait(timeout=30)
    membership.refresh_from_db()
    assert membership.balance == 300  # the killed run changed nothing

    assert services.points_expire_due() == 300
    assert services.points_expire_due() == 0
    membership.refresh_from_db()
    assert membership.balance == 0
    _assert_ledger_consistent()
