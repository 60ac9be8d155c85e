"""The ledger's hot paths: an earn and a balance read in few statements, with every guarantee kept.

The statement counts are pinned so that a regression (a lazy load, a lookup per request) fails here.
Inside a test the posting's transaction is a savepoint: ``SAVEPOINT … RELEASE`` stand in for the
``BEGIN … COMMIT`` of production, so the counts below are what a real request sends, BEGIN and
COMMIT included. The earn on PostgreSQL: BEGIN, claim + member update, entry + lot + answer, COMMIT;
on SQLite those five writes are one statement each.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from idp.api import DomainError
from loyalty import programs, selectors, services
from loyalty.models import EarnLot, IdempotencyRecord, LedgerEntry, Membership, Tier, TierChange
from tests.loyalty.conftest import API, earn, member_token, new_key, post

pytestmark = pytest.mark.django_db


def earn_statements() -> int:
    return 4 if connection.vendor == "postgresql" else 7


@pytest.fixture(autouse=True)
def _cold_cache():
    programs.cache_clear()
    yield
    programs.cache_clear()


def check_ledger():
    assert selectors.ledger_problems() == []


def test_an_earn_is_a_claim_a_locking_update_and_one_write(program, partner, membership, django_assert_max_num_queries):
    client, _ = partner
    earn(program, membership, 10, client=client)  # loads the program's tiers into the cache
    with django_assert_max_num_queries(earn_statements()):
        posted = earn(program, membership, 20, client=client, reference="R-2")
    assert posted.status == 201 and posted.body["balance"] == 30 and posted.body["tier"] == "blue"
    entry = LedgerEntry.objects.get(uuid=posted.body["id"])
    assert (entry.kind, entry.points, entry.balance_after, entry.client_id, entry.reference) == (
        "earn",
        20,
        30,
        client.pk,
        "R-2",
    )
    lot = EarnLot.objects.get(entry=entry)
    assert (lot.points, lot.remaining, lot.qualifying) == (20, 20, True)
    assert lot.expires_at == lot.earned_at + timedelta(days=program.points_expire_after_days)
    record = IdempotencyRecord.objects.get(entry=entry)
    assert record.status == 201 and record.response == posted.body  # a JSON object, not a string
    check_ledger()


def test_a_replay_is_two_statements_and_changes_nothing(program, partner, membership, django_assert_max_num_queries):
    client, _ = partner
    key = new_key()
    first = earn(program, membership, 10, client=client, key=key)
    with django_assert_max_num_queries(4):  # savepoint, claim, stored answer, release
        again = earn(program, membership, 10, client=client, key=key)
    assert again.replayed and again.body == first.body and again.status == 201
    assert LedgerEntry.objects.count() == 1


def test_the_balance_read_is_one_statement(member, program, partner, membership, django_assert_max_num_queries):
    earn(program, membership, 1234, client=partner[0])
    with django_assert_max_num_queries(1):
        row = selectors.balance_of(user=member, program=program)
    assert row == {
        "id": membership.pk,
        "member_number": membership.member_number,
        "balance": 1234,
        "debt": 0,
        "tier__code": "blue",
        "tier__name": "Blue",
    }
    assert selectors.balance_of(user=member.pk, program=program.pk) == row
    Membership.objects.filter(pk=membership.pk).update(status=Membership.Status.ERASED)
    assert selectors.balance_of(user=member, program=program) is None


def test_over_http_an_earn_adds_only_the_token(client, program, partner, membership, django_assert_max_num_queries):
    _app, token = partner
    body = {"member_number": membership.member_number, "points": 7}
    assert post(client, "/programs/sky/earn", body, token=token, key=new_key()).status_code == 201
    with django_assert_max_num_queries(1 + earn_statements()):  # the access token, then the posting
        resp = post(client, "/programs/sky/earn", body, token=token, key=new_key())
    assert resp.status_code == 201 and resp.json()["balance"] == 14


def test_over_http_a_balance_read_is_the_token_and_the_row(
    client, member, program, partner, membership, rp, django_assert_max_num_queries
):
    from loyalty.models import ProgramClient

    ProgramClient.objects.create(program=program, client=rp[0])
    earn(program, membership, 50, client=partner[0])
    token = member_token(member, rp[0], acr="urn:ciam:acr:password", scope="openid loyalty")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(API + "/programs/sky/me", **auth).status_code == 200
    with django_assert_max_num_queries(2):
        resp = client.get(API + "/programs/sky/me?expiring=0", **auth)
    assert resp.status_code == 200 and resp.json()["balance"] == 50 and "expiring_soon" not in resp.json()
    with django_assert_max_num_queries(3):  # and one aggregate for the points expiring soon
        resp = client.get(API + "/programs/sky/me", **auth)
    assert resp.json()["expiring_soon"]["points"] == 0


def test_one_earn_can_cross_two_thresholds_and_the_stored_answer_says_so(program, partner, membership):
    client, _ = partner
    key = new_key()
    posted = earn(program, membership, 60_000, client=client, key=key)
    assert posted.body["tier"] == "gold"
    membership.refresh_from_db()
    assert membership.tier.code == "gold"
    change = TierChange.objects.get(membership=membership)
    assert (change.from_tier.code, change.to_tier.code, change.qualifying_points, change.reason) == (
        "blue",
        "gold",
        60_000,
        "earn",
    )
    assert earn(program, membership, 60_000, client=client, key=key).body == posted.body  # the replay, too
    assert IdempotencyRecord.objects.get(key=key).response["tier"] == "gold"


def test_at_the_top_tier_an_earn_does_not_sum_the_lots(program, partner, membership):
    client, _ = partner
    earn(program, membership, 60_000, client=client)
    with CaptureQueriesContext(connection) as queries:
        posted = earn(program, membership, 5, client=client)
    assert posted.body["tier"] == "gold"
    assert not any("SUM(" in q["sql"].upper() for q in queries.captured_queries)
    assert TierChange.objects.filter(membership=membership).count() == 1


def test_points_outside_the_window_and_unqualifying_points_do_not_raise_a_tier(
    admin_user, program, partner, membership
):
    client, _ = partner
    now = timezone.now()
    earn(program, membership, 9_000, client=client, now=now - timedelta(days=program.tier_window_days + 1))
    services.points_adjust(membership_id=membership.pk, points=5_000, reason="Goodwill", actor=admin_user, now=now)
    assert earn(program, membership, 999, client=client, now=now).body["tier"] == "blue"
    assert earn(program, membership, 1, client=client, now=now).body["tier"] == "blue"  # 1,000 qualifying
    assert earn(program, membership, 9_000, client=client, now=now).body["tier"] == "silver"  # 10,000
    check_ledger()


def test_a_new_threshold_applies_at_once_in_this_process(program, partner, membership):
    client, _ = partner
    assert earn(program, membership, 600, client=client).body["tier"] == "blue"  # tiers now cached
    silver = Tier.objects.get(program=program, code="silver")
    silver.min_points = 1_000
    silver.save()  # clears the cache
    assert earn(program, membership, 600, client=client).body["tier"] == "silver"


def test_an_unlinked_client_is_refused_at_once_in_this_process(client, program, partner, membership):
    from loyalty.models import ProgramClient

    app, token = partner
    body = {"member_number": membership.member_number, "points": 7}
    assert post(client, "/programs/sky/earn", body, token=token, key=new_key()).status_code == 201
    link = ProgramClient.objects.get(client=app)
    link.is_active = False
    link.save()
    resp = post(client, "/programs/sky/earn", body, token=token, key=new_key())
    assert resp.status_code == 403 and resp.json()["code"] == "wrong_program"


def test_an_unknown_or_erased_member_leaves_nothing_not_even_the_key(program, partner, membership):
    client, _ = partner
    Membership.objects.filter(pk=membership.pk).update(status=Membership.Status.ERASED)
    key = new_key()
    with pytest.raises(DomainError) as caught:
        earn(program, membership, 10, client=client, key=key)
    assert caught.value.code == "unknown_member"
    assert not IdempotencyRecord.objects.filter(key=key).exists()
    assert not LedgerEntry.objects.exists() and not EarnLot.objects.exists()
    membership.refresh_from_db()
    assert membership.balance == 0


def test_a_member_in_debt_takes_the_general_path_with_the_same_answer(member, program, partner, membership):
    client, _ = partner
    fast = earn(program, membership, 400, client=client, reference="A")
    services.points_redeem(
        program=program, user=member, points=300, idempotency_key=new_key(), fingerprint="r", auth=None
    )
    services.earn_reverse(
        program=program, client=client, transaction_id=fast.body["id"], idempotency_key=new_key(), fingerprint="v"
    )
    membership.refresh_from_db()
    assert (membership.balance, membership.debt) == (0, 300)
    general = earn(program, membership, 250, client=client, reference="B")
    assert set(general.body) == set(fast.body)
    assert general.body["balance"] == 0  # the credit went to the debt first
    assert IdempotencyRecord.objects.get(entry__uuid=general.body["id"]).response == general.body
    membership.refresh_from_db()
    assert (membership.balance, membership.debt) == (0, 50)
    assert earn(program, membership, 70, client=client).body["balance"] == 20  # settles the rest
    assert earn(program, membership, 5, client=client).body["balance"] == 25  # and the hot path again
    check_ledger()


def test_lots_of_the_hot_path_expire_on_time(program, partner, membership):
    client, _ = partner
    now = timezone.now()
    earn(program, membership, 300, client=client, now=now)
    due = now + timedelta(days=program.points_expire_after_days)
    assert services.points_expire_due(now=due - timedelta(seconds=1)) == 0
    assert services.points_expire_due(now=due) == 300
    membership.refresh_from_db()
    assert membership.balance == 0
    check_ledger()
