"""The ledger through the service layer: balances, FIFO lots, idempotency, reversal, adjustments."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from idp.api import DomainError
from idp.models import AuditEvent
from loyalty import selectors, services
from loyalty.models import EarnLot, IdempotencyRecord, LedgerEntry, Membership
from loyalty.numbers import is_valid_member_number, luhn_check_digit, new_member_number
from tests.loyalty.conftest import earn, new_key

pytestmark = pytest.mark.django_db


def redeem(program, user, points, *, key=None, now=None, auth=None, body=None):
    body = body if body is not None else {"points": points}
    return services.points_redeem(
        program=program,
        user=user,
        points=points,
        idempotency_key=key or new_key(),
        fingerprint=services.request_hash("redeem", body),
        auth=auth,
        now=now,
    )


def reverse(program, client, entry_id, *, key=None, now=None):
    return services.earn_reverse(
        program=program,
        client=client,
        transaction_id=entry_id,
        idempotency_key=key or new_key(),
        fingerprint=services.request_hash("reverse", {"transaction_id": entry_id}),
        now=now,
    )


def check_ledger():
    assert selectors.ledger_problems() == []
    call_command("loyalty_check", verbosity=0)


def test_member_numbers_have_a_fixed_length_and_a_luhn_check_digit():
    assert luhn_check_digit("7992739871") == "3"  # the textbook example
    for _ in range(200):
        number = new_member_number()
        assert len(number) == 10 and is_valid_member_number(number)
    number = new_member_number()
    for i in range(9):  # any single-digit typo is caught
        typo = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1 :]
        assert not is_valid_member_number(typo)
    assert not is_valid_member_number("123")
    assert not is_valid_member_number(1234567897)


def test_joining_is_one_click_and_idempotent(member, program):
    first = services.membership_join(user=member, program=program)
    again = services.membership_join(user=member, program=program)
    assert first.pk == again.pk
    assert is_valid_member_number(first.member_number)
    assert first.tier.code == "blue" and first.balance == 0
    assert AuditEvent.objects.filter(kind="loyalty.joined", user=member).count() == 1


def test_earn_and_redeem_move_the_balance_with_the_entries(member, program, partner, membership):
    client, _ = partner
    earned = earn(program, membership, 1200, client=client)
    assert earned.status == 201 and earned.body["balance"] == 1200
    spent = redeem(program, member, 200)
    assert spent.body["points"] == -200 and spent.body["balance"] == 1000
    membership.refresh_from_db()
    assert membership.balance == 1000
    assert [e.balance_after for e in LedgerEntry.objects.order_by("id")] == [1200, 1000]
    check_ledger()


def test_redeeming_more_than_the_balance_is_refused_and_writes_nothing(member, program, partner, membership):
    earn(program, membership, 100, client=partner[0])
    with pytest.raises(DomainError) as caught:
        redeem(program, member, 101)
    assert caught.value.code == "insufficient_points" and caught.value.status == 409
    assert LedgerEntry.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1  # only the earn's key: a refusal keeps no key
    check_ledger()


def test_the_database_refuses_a_negative_balance(membership):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=membership.pk).update(balance=-1)


def test_same_key_same_body_gives_the_same_result_once(program, partner, membership):
    client, _ = partner
    key = new_key()
    first = earn(program, membership, 500, client=client, key=key)
    second = earn(program, membership, 500, client=client, key=key)
    assert second.replayed and not first.replayed
    assert second.body == first.body and second.status == first.status
    assert LedgerEntry.objects.count() == 1
    membership.refresh_from_db()
    assert membership.balance == 500


def test_same_key_with_another_body_is_refused(program, partner, membership):
    client, _ = partner
    key = new_key()
    earn(program, membership, 500, client=client, key=key)
    with pytest.raises(DomainError) as caught:
        earn(program, membership, 501, client=client, key=key)
    assert caught.value.code == "idempotency_key_reused" and caught.value.status == 422
    assert LedgerEntry.objects.count() == 1


def test_keys_are_per_caller(program, partner, membership):
    from tests.loyalty.conftest import make_partner

    other, _ = make_partner(program, name="Grocer")
    key = new_key()
    earn(program, membership, 10, client=partner[0], key=key)
    earn(program, membership, 10, client=other, key=key)
    assert LedgerEntry.objects.count() == 2


def test_redemptions_consume_the_oldest_points_first(member, program, partner, membership):
    client, _ = partner
    t0 = timezone.now() - timedelta(days=100)
    earn(program, membership, 100, client=client, now=t0)
    earn(program, membership, 300, client=client, now=t0 + timedelta(days=10))
    redeem(program, member, 150)
    lots = list(EarnLot.objects.order_by("id").values_list("remaining", flat=True))
    assert lots == [0, 250]
    check_ledger()


def test_expiry_removes_what_is_left_of_each_earn_and_is_safe_twice(member, program, partner, membership):
    client, _ = partner
    now = timezone.now()
    old = now - timedelta(days=program.points_expire_after_days + 5)
    earn(program, membership, 100, client=client, now=old)
    earn(program, membership, 300, client=client, now=old + timedelta(days=1))
    earn(program, membership, 50, client=client, now=now - timedelta(days=1))
    redeem(program, member, 120, now=old + timedelta(days=2))  # takes 100 from the first, 20 from the second

    assert services.points_expire_due(now=now) == 280
    assert services.points_expire_due(now=now) == 0  # the second run finds nothing
    membership.refresh_from_db()
    assert membership.balance == 50
    expired = LedgerEntry.objects.filter(kind="expire")
    assert sorted(e.points for e in expired) == [-280]
    check_ledger()


def test_a_redemption_never_spends_expired_points(member, program, partner, membership):
    now = timezone.now()
    earn(program, membership, 100, client=partner[0], now=now - timedelta(days=program.points_expire_after_days + 1))
    with pytest.raises(DomainError) as caught:
        redeem(program, member, 50, now=now)
    assert caught.value.code == "insufficient_points"
    check_ledger()


def test_reversal_undoes_exactly_what_the_earn_credited(member, program, partner, membership):
    client, _ = partner
    earn(program, membership, 1000, client=client)
    purchase = earn(program, membership, 400, client=client)
    result = reverse(program, client, purchase.body["id"])
    assert result.body["points"] == -400 and result.body["balance"] == 1000 and result.body["shortfall"] == 0
    with pytest.raises(DomainError) as caught:
        reverse(program, client, purchase.body["id"])
    assert caught.value.code == "already_reversed"
    check_ledger()


def test_reversal_of_spent_points_goes_to_zero_and_the_next_earn_settles_the_rest(member, program, partner, membership):
    client, _ = partner
    purchase = earn(program, membership, 400, client=client)
    redeem(program, member, 300)
    result = reverse(program, client, purchase.body["id"])
    assert result.body["points"] == -100 and result.body["shortfall"] == 300 and result.body["balance"] == 0
    membership.refresh_from_db()
    assert membership.debt == 300

    earn(program, membership, 250, client=client)
    membership.refresh_from_db()
    assert (membership.balance, membership.debt) == (0, 50)
    earn(program, membership, 70, client=client)
    membership.refresh_from_db()
    assert (membership.balance, membership.debt) == (20, 0)

    reversal = LedgerEntry.objects.get(reverses__uuid=purchase.body["id"])
    undone = reversal.points + sum(s.points for s in reversal.settlements.all())
    assert undone == -400  # exactly what the purchase earned, no more
    check_ledger()


def test_partners_reverse_only_their_own_earns(program, partner, membership):
    from tests.loyalty.conftest import make_partner

    other, _ = make_partner(program, name="Grocer")
    purchase = earn(program, membership, 400, client=partner[0])
    with pytest.raises(DomainError) as caught:
        reverse(program, other, purchase.body["id"])
    assert caught.value.code == "unknown_transaction"


def test_tiers_rise_when_points_post_and_fall_in_the_nightly_job(program, partner, membership):
    client, _ = partner
    now = timezone.now()
    earn(program, membership, 6_000, client=client, now=now - timedelta(days=300))
    earn(program, membership, 6_000, client=client, now=now - timedelta(days=10))
    membership.refresh_from_db()
    assert membership.tier.code == "silver"
    assert membership.tier_changes.get().reason == "earn"

    later = now + timedelta(days=70)  # the first earn leaves the 365-day window
    assert services.tiers_recompute_all(now=later) == 1
    assert services.tiers_recompute_all(now=later) == 0
    membership.refresh_from_db()
    assert membership.tier.code == "blue"
    assert [c.reason for c in membership.tier_changes.order_by("id")] == ["earn", "nightly"]


def test_staff_adjustments_need_a_reason_and_are_audited(admin_user, program, membership):
    with pytest.raises(DomainError):
        services.points_adjust(membership_id=membership.pk, points=100, reason="  ", actor=admin_user)
    entry = services.points_adjust(membership_id=membership.pk, points=100, reason="Lost baggage", actor=admin_user)
    assert entry.kind == "adjust" and entry.actor == admin_user and entry.description == "Lost baggage"
    services.points_adjust(membership_id=membership.pk, points=-30, reason="Duplicate goodwill", actor=admin_user)
    membership.refresh_from_db()
    assert membership.balance == 70
    audit = AuditEvent.objects.filter(kind="loyalty.points_adjusted").order_by("id")
    assert [a.data["points"] for a in audit] == [100, -30]
    assert audit[0].data["actor"] == admin_user.pk and audit[0].data["reason"] == "Lost baggage"
    with pytest.raises(DomainError):
        services.points_adjust(membership_id=membership.pk, points=-71, reason="Too much", actor=admin_user)
    check_ledger()


def test_the_check_command_finds_a_tampered_balance(program, partner, membership):
    from django.core.management.base import CommandError

    earn(program, membership, 100, client=partner[0])
    Membership.objects.filter(pk=membership.pk).update(balance=150)
    with pytest.raises(CommandError):
        call_command("loyalty_check", verbosity=0)
    problems = selectors.ledger_problems()
    assert any("sum of entries" in p.problem for p in problems)


def test_an_rps_keys_are_per_member(django_user_model, member, program, partner, membership):
    from loyalty.models import ProgramClient
    from tests.conftest import make_client

    shop, _ = make_client(name="Sky shop")
    ProgramClient.objects.create(program=program, client=shop)
    other = django_user_model.objects.create_user(email="other@example.com", password="x" * 12)
    other_membership = services.membership_join(user=other, program=program)
    earn(program, membership, 100, client=partner[0])
    earn(program, other_membership, 100, client=partner[0])
    for user in (member, other):
        result = services.points_redeem(
            program=program,
            user=user,
            client=shop,
            points=10,
            idempotency_key="order-1",
            fingerprint=services.request_hash("redeem", {"points": 10}),
            auth=None,
        )
        assert not result.replayed
    membership.refresh_from_db()
    other_membership.refresh_from_db()
    assert membership.balance == other_membership.balance == 90


def test_the_beat_jobs_are_registered_and_run(settings, program, partner, membership):
    from loyalty import tasks

    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"loyalty.tasks.expire_points", "loyalty.tasks.recompute_tiers"} <= beat
    earn(program, membership, 40, client=partner[0], now=timezone.now() - timedelta(days=800))
    assert tasks.expire_points.apply().get() == 40  # runs in this process, whatever the broker
    assert tasks.expire_points.apply().get() == 0
    assert tasks.recompute_tiers.apply().get() == 0
    check_ledger()
