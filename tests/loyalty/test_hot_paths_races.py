"""The earn hot path racing other postings for the same member (PostgreSQL: real row locks between connections).

The hot path credits with ``UPDATE … SET balance = balance + %s WHERE … AND debt = 0``. When it waits
on the member's row lock, PostgreSQL re-checks that condition against the row as the other
transaction committed it: a member who now owes points (or was erased) is handed to the general
path, which settles the debt first.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from loyalty import selectors, services
from loyalty.models import Membership
from tests.loyalty.conftest import earn, new_key, on_postgres
from tests.loyalty.test_concurrency import _wait_until_blocked

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if not on_postgres():
        pytest.skip("row locks between connections need PostgreSQL (SQLite serialises writers)")


def _in_thread(work) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target():
        try:
            out["result"] = work()
        except BaseException as exc:  # noqa: BLE001 - asserted by the caller
            out["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def test_an_earn_waiting_on_a_reversal_that_leaves_a_debt_settles_it(member, program, partner, membership):
    client, _ = partner
    purchase = earn(program, membership, 400, client=client)
    services.points_redeem(
        program=program, user=member, points=300, idempotency_key=new_key(), fingerprint="r", auth=None
    )
    reversed_, release = threading.Event(), threading.Event()

    def reversal():
        with transaction.atomic():
            services.earn_reverse(
                program=program,
                client=client,
                transaction_id=purchase.body["id"],
                idempotency_key=new_key(),
                fingerprint="v",
            )
            reversed_.set()
            assert release.wait(timeout=30)  # hold the member's row lock until the earn waits on it

    holder, held = _in_thread(reversal)
    assert reversed_.wait(timeout=30), held
    waiter, waited = _in_thread(lambda: earn(program, membership, 250, client=client))
    try:
        _wait_until_blocked(1)
    finally:
        release.set()
        holder.join(timeout=30)
        waiter.join(timeout=30)
    assert "error" not in held and "error" not in waited, (held, waited)
    # The reversal took the 100 points left and owes 300; the waiting earn paid 250 of it.
    assert waited["result"].body["balance"] == 0
    membership.refresh_from_db()
    assert (membership.balance, membership.debt) == (0, 50)
    assert selectors.ledger_problems() == []


def test_an_earn_waiting_on_an_erasure_is_refused_and_leaves_nothing(member, program, partner, membership):
    client, _ = partner
    earn(program, membership, 100, client=client)
    erased, release = threading.Event(), threading.Event()

    def erase():
        with transaction.atomic():
            services.memberships_erase(user=member)
            erased.set()
            assert release.wait(timeout=30)

    holder, held = _in_thread(erase)
    assert erased.wait(timeout=30), held
    key = new_key()
    waiter, waited = _in_thread(lambda: earn(program, membership, 250, client=client, key=key))
    try:
        _wait_until_blocked(1)
    finally:
        release.set()
        holder.join(timeout=30)
        waiter.join(timeout=30)
    assert "error" not in held, held
    assert getattr(waited.get("error"), "code", None) == "unknown_member", waited
    membership.refresh_from_db()
    assert (membership.status, membership.balance) == (Membership.Status.ERASED, 0)
    assert selectors.ledger_problems() == []
