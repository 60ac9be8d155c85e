"""Every state change of the loyalty app.

The ledger rules, in one place:

* A posting locks the membership row (``SELECT … FOR UPDATE``) before it reads the balance, and
  writes its entries, the lots and the new balance in the same transaction. Two postings for one
  member are serialised; postings for different members run side by side. The earn hot path takes
  the same lock with its ``UPDATE … SET balance = balance + %s … RETURNING`` (see ``points_earn``).
* Debits consume the open lots first in, first out, after expiring the lots that are due, so a
  member never spends points that have expired and the balance always equals the sum of the lots.
* Outside postings are idempotent: the key is claimed with an ``INSERT … ON CONFLICT DO NOTHING``
  as the first statement of the transaction. A concurrent request with the same key waits on the
  unique index until the first commits (then it returns the stored result) or rolls back (then it
  goes ahead). A refused posting rolls back and leaves nothing, not even its key.
* The database constraints (balance ≥ 0, unique key, unique member number, one reversal per earn)
  are the last line of defence should any of this be wrong.

Reversal policy (a refunded purchase): a reversal removes exactly the points the earn credited.
It takes what is left of that earn first, then other points, oldest first. If the member has
already spent them, the balance goes to zero (never below) and the rest is recorded as a debt on
the membership; the member's next credits settle it first (``reverse`` entries linked to the
reversal by ``settles``). Refusing the reversal instead would let anyone earn on a purchase,
spend the points and refund the purchase.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Min, Q, Subquery, Sum
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.services import ACR_MFA
from idp.services import audit_record
from loyalty import errors, programs, selectors
from loyalty.app_settings import loyalty_settings
from loyalty.models import (
    EarnLot,
    IdempotencyRecord,
    LedgerEntry,
    Membership,
    Program,
    Tier,
    TierChange,
)
from loyalty.numbers import new_member_number

Kind = LedgerEntry.Kind


@dataclass(frozen=True)
class Posting:
    """The outcome of an outside posting: what to answer, and whether it is a replay."""

    status: int
    body: dict
    replayed: bool = False


@dataclass(frozen=True)
class AuthContext:
    """How the member behind a redemption authenticated: the acr and when the second factor was used."""

    acr: str | None
    mfa_time: datetime | None


def request_hash(operation: str, body: dict) -> str:
    """Fingerprint of a posting: the same JSON (any key order or spacing) gives the same hash."""
    canonical = json.dumps({"op": operation, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- membership ---------------------------------------------------------------------------------------


@transaction.atomic
def membership_join(*, user, program: Program, now: datetime | None = None) -> Membership:
    """Join ``program`` (a second call returns the existing membership)."""
    existing = Membership.objects.filter(program=program, user=user).first()
    if existing is not None:
        return existing
    if not program.is_active:
        raise errors.program_closed()
    now = now or timezone.now()
    base = program.tiers.filter(min_points=0).first()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    program=program, user=user, member_number=new_member_number(), tier=base, joined_at=now
                )
            break
        except IntegrityError:
            existing = Membership.objects.filter(program=program, user=user).first()
            if existing is not None:  # a concurrent join won
                return existing
    else:  # pragma: no cover - five collisions in a space of 9 × 10^8
        raise RuntimeError("could not draw a free member number")
    audit_record(kind="loyalty.joined", user=user, data={"program": program.slug, "membership": membership.pk})
    return membership


# --- idempotency ----------------------------------------------------------------------------------------


def _claim_key(*, program: Program, scope: str, key: str, fingerprint: str, now: datetime) -> int | Posting:
    """Claim ``key`` for this transaction (its record's id), or the stored answer of an earlier request."""
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (program_id, scope, key, request_hash, created) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (program_id, scope, key) DO NOTHING RETURNING id",
            [program.pk, scope, key, fingerprint, now],
        )
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    return _stored_answer(program=program, scope=scope, key=key, fingerprint=fingerprint)


def _stored_answer(*, program: Program, scope: str, key: str, fingerprint: str) -> Posting:
    """The answer of the earlier request that holds ``key``, if it was the same request."""
    # Another request holds or held the key; the unique index made us wait until it committed.
    stored = IdempotencyRecord.objects.get(program=program, scope=scope, key=key)
    if stored.request_hash != fingerprint:
        raise errors.idempotency_key_reused()
    return Posting(status=stored.status, body=stored.response, replayed=True)


def _idempotent(*, program: Program, scope: str, key: str, fingerprint: str, now: datetime, perform) -> Posting:
    """Run ``perform() -> (Posting, entry)`` once per key, inside the caller's transaction."""
    claim = _claim_key(program=program, scope=scope, key=key, fingerprint=fingerprint, now=now)
    if isinstance(claim, Posting):
        return claim
    posting, entry = perform()
    IdempotencyRecord.objects.filter(pk=claim).update(status=posting.status, response=posting.body, entry=entry)
    return posting


# --- the ledger core --------------------------------------------------------------------------------


def _lock_member(*, program: Program, member_number: str | None = None, user=None) -> Membership:
    # No select_related here: when a locked row changed meanwhile, PostgreSQL re-checks it against
    # the joined rows of the first read, so a tier joined to a member whose tier just moved reads NULL.
    qs = Membership.objects.select_for_update().filter(program=program, status=Membership.Status.ACTIVE)
    qs = qs.filter(member_number=member_number) if member_number is not None else qs.filter(user=user)
    membership = qs.first()
    if membership is None:
        raise errors.unknown_member() if member_number is not None else errors.not_a_member()
    return membership


def _append(membership: Membership, *, kind: str, points: int, now: datetime, **fields) -> LedgerEntry:
    """Append one entry and move the (locked) membership's balance with it."""
    balance = membership.balance + points
    if balance < 0:
        raise errors.insufficient_points(balance=membership.balance)
    membership.balance = balance
    return LedgerEntry.objects.create(
        membership=membership, kind=kind, points=points, balance_after=balance, created=now, **fields
    )


def _credit(
    membership: Membership, *, kind: str, points: int, now: datetime, qualifying: bool, **fields
) -> LedgerEntry:
    """A credit and its lot; then settle any debt from it."""
    entry = _append(membership, kind=kind, points=points, now=now, **fields)
    days = membership.program.points_expire_after_days
    EarnLot.objects.create(
        membership=membership,
        entry=entry,
        points=points,
        remaining=points,
        earned_at=now,
        expires_at=now + timedelta(days=days) if days else None,
        qualifying=qualifying,
    )
    if membership.debt:
        _settle_debt(membership, now=now)
    return entry


def _consume(membership: Membership, amount: int, *, now: datetime, first_lot: EarnLot | None = None) -> None:
    """Take ``amount`` from the open lots, ``first_lot`` first, then oldest first."""
    left = amount
    changed = []
    lots = list(EarnLot.objects.filter(membership=membership, remaining__gt=0).order_by("id"))
    if first_lot is not None:
        lots.sort(key=lambda lot: lot.pk != first_lot.pk)
    for lot in lots:
        if not left:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        left -= take
        changed.append(lot)
    if left:  # the lots and the balance disagree: refuse rather than write a wrong ledger
        raise IntegrityError(f"membership {membership.pk}: lots hold less than the balance")
    EarnLot.objects.bulk_update(changed, ["remaining"])


def _expire_due(membership: Membership, *, now: datetime) -> int:
    """Expire the locked member's lots that are due; the number of points expired."""
    due = list(
        EarnLot.objects.filter(membership=membership, remaining__gt=0, expires_at__lte=now)
        .select_related("entry")
        .order_by("id")
    )
    total = 0
    for lot in due:
        _append(
            membership,
            kind=Kind.EXPIRE,
            points=-lot.remaining,
            now=now,
            description=f"Expired: earned {lot.earned_at:%Y-%m-%d}",
            reference=str(lot.entry.uuid)[:64],
        )
        total += lot.remaining
        lot.remaining = 0
    if due:
        EarnLot.objects.bulk_update(due, ["remaining"])
    return total


def _debit(membership: Membership, *, kind: str, points: int, now: datetime, **fields) -> LedgerEntry:
    if points > membership.balance:
        raise errors.insufficient_points(balance=membership.balance)
    _consume(membership, points, now=now)
    return _append(membership, kind=kind, points=-points, now=now, **fields)


def _settle_debt(membership: Membership, *, now: datetime) -> None:
    """Pay what reversals left uncovered from the balance, oldest reversal first."""
    reversals = (
        LedgerEntry.objects.filter(membership=membership, kind=Kind.REVERSE, shortfall__gt=0)
        .annotate(settled=Sum("settlements__points"))
        .order_by("id")
    )
    for reversal in reversals:
        if not membership.debt or not membership.balance:
            break
        outstanding = reversal.shortfall + (reversal.settled or 0)  # settlements are negative
        pay = min(outstanding, membership.balance, membership.debt)
        if pay <= 0:
            continue
        _consume(membership, pay, now=now)
        _append(
            membership,
            kind=Kind.REVERSE,
            points=-pay,
            now=now,
            settles=reversal,
            client=reversal.client,
            reference=reversal.reference,
            description="Settles an earlier reversal",
        )
        membership.debt -= pay


def _save_membership(membership: Membership) -> None:
    membership.save(update_fields=["balance", "debt", "tier"])


def _entry_body(entry: LedgerEntry, membership: Membership) -> dict:
    body = {
        "id": str(entry.uuid),
        "kind": entry.kind,
        "points": entry.points,
        "balance": membership.balance,
        "member_number": membership.member_number,
        "program": membership.program.slug,
        "tier": membership.tier.code if membership.tier_id else None,
        "reference": entry.reference,
        "description": entry.description,
        "created": entry.created.isoformat().replace("+00:00", "Z"),
    }
    if entry.kind == Kind.REVERSE:
        body["reverses"] = str(entry.reverses.uuid) if entry.reverses_id else None
        body["shortfall"] = entry.shortfall
    return body


# --- tiers ----------------------------------------------------------------------------------------------


def _qualifying_points(membership: Membership, *, now: datetime) -> int:
    since = now - timedelta(days=membership.program.tier_window_days)
    total = EarnLot.objects.filter(membership=membership, qualifying=True, earned_at__gt=since).aggregate(
        total=Sum("points")
    )["total"]
    return total or 0


def _apply_tier(membership: Membership, *, now: datetime, reason: str, tiers: list[Tier] | None = None) -> bool:
    """Set the locked membership's tier from its qualifying points; record a change. Saves nothing else."""
    tiers = tiers if tiers is not None else list(membership.program.tiers.order_by("min_points"))
    if not tiers:
        return False
    current = next((t for t in tiers if t.pk == membership.tier_id), None)
    qualifying = _qualifying_points(membership, now=now)
    target = None
    for tier in tiers:
        if tier.min_points <= qualifying:
            target = tier
    if (target.pk if target else None) == membership.tier_id:
        return False
    TierChange.objects.create(
        membership=membership,
        from_tier=current,
        to_tier=target,
        qualifying_points=qualifying,
        reason=reason,
        created=now,
    )
    membership.tier = target
    return True


def _raise_tier(membership: Membership, *, now: datetime) -> None:
    """After an earn: move up to the highest tier the qualifying points now reach, in one query.

    The query returns the current tier and any higher one the points reach, highest first.
    Earning never lowers a tier; the nightly job moves members down as the window moves on.
    """
    since = now - timedelta(days=membership.program.tier_window_days)
    qualifying = (
        EarnLot.objects.filter(membership=membership, qualifying=True, earned_at__gt=since)
        .values("membership")
        .annotate(total=Sum("points"))
        .values("total")
    )
    floor = Tier.objects.filter(pk=membership.tier_id).values("min_points")
    reachable = Q(min_points__lte=Subquery(qualifying)) & (
        Q(min_points__gt=Subquery(floor)) if membership.tier_id else Q()
    )
    best = (
        Tier.objects.filter(Q(pk=membership.tier_id) | reachable, program_id=membership.program_id)
        .order_by("-min_points")
        .first()
    )
    if best is None or best.pk == membership.tier_id:
        membership.tier = best  # caches the current tier for the response
        return
    TierChange.objects.create(
        membership=membership,
        from_tier_id=membership.tier_id,
        to_tier=best,
        qualifying_points=_qualifying_points(membership, now=now),
        reason="earn",
        created=now,
    )
    membership.tier = best


@transaction.atomic
def tier_recompute(*, membership_id: int, reason: str = "nightly", now: datetime | None = None) -> bool:
    """Recompute one member's tier (the nightly job, staff); True when it changed."""
    now = now or timezone.now()
    membership = (
        Membership.objects.select_for_update(of=("self",)).select_related("program").filter(pk=membership_id).first()
    )
    if membership is None or membership.status != Membership.Status.ACTIVE:
        return False
    changed = _apply_tier(membership, now=now, reason=reason)
    if changed:
        membership.save(update_fields=["tier"])
    return changed


def tiers_recompute_all(*, program: Program | None = None, now: datetime | None = None) -> int:
    """Every active member's tier, one short transaction each; safe to run twice. The count changed."""
    now = now or timezone.now()
    qs = Membership.objects.filter(status=Membership.Status.ACTIVE)
    if program is not None:
        qs = qs.filter(program=program)
    changed = 0
    for pk in qs.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=loyalty_settings.EXPIRY_BATCH_SIZE):
        changed += tier_recompute(membership_id=pk, now=now)
    return changed


# --- postings from outside ---------------------------------------------------------------------------


# The earn hot path. Postings by partners are the bulk of the ledger's traffic, so an ordinary earn
# (an active member who owes nothing) is a few small statements in one transaction instead of the
# general path's ORM round trips; anything else falls back to the general path, unchanged:
#
#   1. claim the idempotency key: INSERT … ON CONFLICT DO NOTHING (``_claim_key``, as every posting);
#   2. UPDATE the membership: balance = balance + points, only for an active member without debt.
#      This takes the row lock (a concurrent posting for the member waits here, and PostgreSQL
#      re-reads the row once it has the lock, so balance + points starts from the newest balance)
#      and returns the new balance and the tier. No row (unknown member, or debt): the general path;
#   3. INSERT the ledger entry (balance_after = the new balance). Unless the member already holds the
#      top tier, the statement also sums the member's qualifying lots in the tier window: it starts
#      after the lock was granted, so under READ COMMITTED it sees every lot committed before, and no
#      other lot of this member can appear while we hold the lock;
#   4. INSERT the earn lot (FIFO consumption and expiry);
#   5. UPDATE the idempotency record with the answer.
#
# On PostgreSQL, 1–2 are one statement and 3–5 another (data-modifying CTEs): BEGIN, two
# statements, COMMIT. In the first, the UPDATE reads the claim's output (``EXISTS``), so the key is
# claimed first, as in every posting: a request whose key is taken waits on the unique index and
# then updates nothing. In the second, the sum reads the snapshot from before the lot's INSERT, as
# on SQLite where it runs before that INSERT. On SQLite (3.35+ for RETURNING) the five are plain
# statements one by one. Only when
# the sum reaches a higher tier: UPDATE the tier, INSERT a TierChange (and, on PostgreSQL, the
# stored answer again). Programs and tiers come from the per-process cache (``loyalty.programs``).
# The loyalty tests run on both databases; ``tests/loyalty/test_hot_paths.py`` pins the statements.

_MEMBERSHIP = Membership._meta.db_table
_ENTRY = LedgerEntry._meta.db_table
_LOT = EarnLot._meta.db_table
_RECORD = IdempotencyRecord._meta.db_table

_SQL_EARN_MEMBER = (
    f"UPDATE {_MEMBERSHIP} SET balance = balance + %s "
    "WHERE program_id = %s AND member_number = %s AND status = 'active' AND debt = 0 "
    "RETURNING id, balance, tier_id"
)
_INSERT_ENTRY = (
    f"INSERT INTO {_ENTRY} (uuid, membership_id, kind, points, balance_after, created, client_id, "
    "reference, description, shortfall) VALUES (%s, %s, 'earn', %s, %s, %s, %s, %s, %s, 0)"
)
_QUALIFYING = (
    f"(SELECT COALESCE(SUM(points), 0) FROM {_LOT} WHERE membership_id = %s AND qualifying AND earned_at > %s)"
)
_SQL_PG_CLAIM_AND_CREDIT = (
    f"WITH claim AS (INSERT INTO {_RECORD} (program_id, scope, key, request_hash, created) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (program_id, scope, key) DO NOTHING RETURNING id), "
    f"member AS ({_SQL_EARN_MEMBER.replace(' RETURNING', ' AND EXISTS (SELECT 1 FROM claim) RETURNING')}) "
    "SELECT (SELECT id FROM claim), member.id, member.balance, member.tier_id FROM (SELECT 1) one "
    "LEFT JOIN member ON TRUE"
)
_SQL_STORE_ANSWER = f"UPDATE {_RECORD} SET status = %s, response = %s, entry_id = %s WHERE id = %s"
# SQLite: 3, 4 and 5 one by one.
_SQL_EARN_ENTRY = {False: _INSERT_ENTRY + " RETURNING id, NULL", True: _INSERT_ENTRY + " RETURNING id, " + _QUALIFYING}
_SQL_EARN_LOT = (
    f"INSERT INTO {_LOT} (membership_id, entry_id, points, remaining, earned_at, expires_at, qualifying) "
    "VALUES (%s, %s, %s, %s, %s, %s, TRUE)"
)
# PostgreSQL: 3, 4 and 5 in one statement (the parameters: the entry's, expires_at, the answer, the record's id).
_PG_EARN = (
    f"WITH entry AS ({_INSERT_ENTRY} RETURNING id, membership_id, points, created), "
    f"lot AS (INSERT INTO {_LOT} (membership_id, entry_id, points, remaining, earned_at, expires_at, qualifying) "
    "SELECT membership_id, id, points, points, created, %s::timestamptz, TRUE FROM entry), "
    f"answer AS (UPDATE {_RECORD} SET status = 201, response = %s::jsonb, entry_id = entry.id FROM entry "
    f"WHERE {_RECORD}.id = %s) "
)
_SQL_PG_EARN = {False: _PG_EARN + "SELECT id, NULL FROM entry", True: _PG_EARN + f"SELECT id, {_QUALIFYING} FROM entry"}


def _earn_write(
    cursor,
    *,
    claim: int,
    membership_id: int,
    balance: int,
    tier_id: int | None,
    program: Program,
    client,
    member_number: str,
    points: int,
    reference: str,
    description: str,
    now,
) -> Posting:
    """Steps 3–5 above, once the membership row is locked and credited: the answer, stored."""
    tiers = programs.tiers_of(program.pk)
    if tier_id is not None and not any(t.pk == tier_id for t in tiers):  # a tier newer than the cache
        programs.cache_clear()
        tiers = programs.tiers_of(program.pk)
    tier = next((t for t in tiers if t.pk == tier_id), None)
    below_top = bool(tiers) and tier_id != tiers[-1].pk
    entry_uuid = uuid.uuid4()
    body = {
        "id": str(entry_uuid),
        "kind": Kind.EARN.value,
        "points": points,
        "balance": balance,
        "member_number": member_number,
        "program": program.slug,
        "tier": tier.code if tier is not None else None,
        "reference": reference,
        "description": description,
        "created": now.isoformat().replace("+00:00", "Z"),
    }
    adapt = connection.ops.adapt_datetimefield_value
    created = adapt(now)
    days = program.points_expire_after_days
    expires = adapt(now + timedelta(days=days)) if days else None
    native_uuid = connection.features.has_native_uuid_field
    params = [entry_uuid if native_uuid else entry_uuid.hex, membership_id, points, balance, created, client.pk]
    params += [reference, description]
    window = [membership_id, adapt(now - timedelta(days=program.tier_window_days))] if below_top else []
    postgres = connection.vendor == "postgresql"
    if postgres:
        cursor.execute(_SQL_PG_EARN[below_top], [*params, expires, json.dumps(body), claim, *window])
        entry_id, qualifying = cursor.fetchone()
    else:
        cursor.execute(_SQL_EARN_ENTRY[below_top], params + window)
        entry_id, qualifying = cursor.fetchone()
        cursor.execute(_SQL_EARN_LOT, [membership_id, entry_id, points, points, created, expires])
    if qualifying is not None:
        qualifying += points  # the lot of this earn, not in the sum
        # Earning only raises a tier (the nightly job lowers them as the window moves on).
        best = next((t for t in reversed(tiers) if t.min_points <= qualifying), None)
        if best is not None and (tier is None or best.min_points > tier.min_points):
            Membership.objects.filter(pk=membership_id).update(tier=best)
            TierChange.objects.create(
                membership_id=membership_id,
                from_tier=tier,
                to_tier=best,
                qualifying_points=qualifying,
                reason="earn",
                created=now,
            )
            body["tier"] = best.code
            postgres = False  # store the answer (again) with the new tier
    if not postgres:
        cursor.execute(_SQL_STORE_ANSWER, [201, json.dumps(body), entry_id, claim])
    return Posting(status=201, body=body)


@transaction.atomic
def points_earn(
    *,
    program: Program,
    client,
    member_number: str,
    points: int,
    idempotency_key: str,
    fingerprint: str,
    reference: str = "",
    description: str = "",
    now: datetime | None = None,
) -> Posting:
    """A partner credits ``points`` to a member (the ``loyalty:earn`` API). See the hot path above."""
    now = now or timezone.now()
    scope = f"client:{client.pk}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # steps 1 and 2 in one statement
            params = [program.pk, scope, idempotency_key, fingerprint, now, points, program.pk, member_number]
            cursor.execute(_SQL_PG_CLAIM_AND_CREDIT, params)
            claim, membership_id, balance, tier_id = cursor.fetchone()
            if claim is None:
                return _stored_answer(program=program, scope=scope, key=idempotency_key, fingerprint=fingerprint)
        else:
            claim = _claim_key(program=program, scope=scope, key=idempotency_key, fingerprint=fingerprint, now=now)
            if isinstance(claim, Posting):
                return claim
            cursor.execute(_SQL_EARN_MEMBER, [points, program.pk, member_number])
            membership_id, balance, tier_id = cursor.fetchone() or (None, None, None)
        if membership_id is not None:
            return _earn_write(
                cursor,
                claim=claim,
                membership_id=membership_id,
                balance=balance,
                tier_id=tier_id,
                program=program,
                client=client,
                member_number=member_number,
                points=points,
                reference=reference,
                description=description,
                now=now,
            )

    # The general path: a member who owes points (the credit settles the debt first), or none at all.
    membership = _lock_member(program=program, member_number=member_number)
    membership.program = program
    entry = _credit(
        membership,
        kind=Kind.EARN,
        points=points,
        now=now,
        qualifying=True,
        client=client,
        reference=reference,
        description=description,
    )
    _raise_tier(membership, now=now)
    _save_membership(membership)
    posting = Posting(status=201, body=_entry_body(entry, membership))
    IdempotencyRecord.objects.filter(pk=claim).update(status=posting.status, response=posting.body, entry=entry)
    return posting


def _check_redemption_allowed(membership: Membership, *, points: int, auth: AuthContext | None, now: datetime) -> None:
    program = membership.program
    if points > program.redeem_step_up_threshold:
        max_age = loyalty_settings.STEP_UP_MAX_AGE
        strong = auth is not None and account_selectors.acr_meets(auth.acr or "", ACR_MFA)
        recent = auth is not None and auth.mfa_time is not None and auth.mfa_time >= now - timedelta(seconds=max_age)
        if not (strong and recent):
            raise errors.StepUpRequired(max_age=max_age)
    hold = loyalty_settings.NEW_DEVICE_HOLD_SECONDS
    if hold and membership.user_id is not None:
        since = selectors.last_new_device_sign_in(user_id=membership.user_id, since=now - timedelta(seconds=hold))
        if since is not None:
            raise errors.RedemptionOnHold(until=since + timedelta(seconds=hold))
    if program.redeem_max_per_day or program.redeem_max_points_per_day:
        window = now - timedelta(days=1)
        recent = LedgerEntry.objects.filter(membership=membership, kind=Kind.REDEEM, created__gt=window)
        stats = recent.aggregate(count=Count("id"), points=Sum("points"), first=Min("created"))
        count, spent = stats["count"] or 0, -(stats["points"] or 0)
        too_many = program.redeem_max_per_day and count + 1 > program.redeem_max_per_day
        too_much = program.redeem_max_points_per_day and spent + points > program.redeem_max_points_per_day
        if too_many or too_much:
            retry = int((stats["first"] + timedelta(days=1) - now).total_seconds()) + 1 if stats["first"] else 86400
            raise errors.TooManyRedemptions(retry_after=max(retry, 1))


@transaction.atomic
def points_redeem(
    *,
    program: Program,
    user,
    points: int,
    idempotency_key: str,
    fingerprint: str,
    auth: AuthContext | None,
    client=None,
    reference: str = "",
    description: str = "",
    now: datetime | None = None,
) -> Posting:
    """A member spends ``points`` through an RP (``client``) or on our own pages (no client)."""
    now = now or timezone.now()
    # Keys are the caller's: an RP's keys are its own for each member (two members, one key: two postings).
    scope = f"client:{client.pk}:member:{user.pk}" if client is not None else f"member:{user.pk}"

    def perform():
        membership = _lock_member(program=program, user=user)
        membership.program = program
        _check_redemption_allowed(membership, points=points, auth=auth, now=now)
        _expire_due(membership, now=now)
        entry = _debit(
            membership,
            kind=Kind.REDEEM,
            points=points,
            now=now,
            client=client,
            reference=reference,
            description=description,
        )
        _save_membership(membership)
        return Posting(status=201, body=_entry_body(entry, membership)), entry

    return _idempotent(
        program=program, scope=scope, key=idempotency_key, fingerprint=fingerprint, now=now, perform=perform
    )


@transaction.atomic
def earn_reverse(
    *,
    program: Program,
    client,
    transaction_id: str,
    idempotency_key: str,
    fingerprint: str,
    reason: str = "",
    now: datetime | None = None,
) -> Posting:
    """Undo exactly what one earn credited (a refunded purchase). See the module docstring."""
    now = now or timezone.now()

    def perform():
        earn = (
            LedgerEntry.objects.filter(uuid=transaction_id, kind=Kind.EARN, client=client, membership__program=program)
            .only("pk", "membership_id")
            .first()
        )
        if earn is None:
            raise errors.unknown_transaction()
        membership = Membership.objects.select_for_update().get(pk=earn.membership_id)
        membership.program = program
        earn = LedgerEntry.objects.select_related("lot").get(pk=earn.pk)
        existing = LedgerEntry.objects.filter(reverses=earn).first()
        if existing is not None:
            raise errors.already_reversed(reversal_id=str(existing.uuid))
        _expire_due(membership, now=now)
        lot = EarnLot.objects.get(pk=earn.lot.pk)
        covered = min(earn.points, membership.balance)
        shortfall = earn.points - covered
        if covered:
            _consume(membership, covered, now=now, first_lot=lot)
        # A reversal of points already spent may move nothing now (points 0, all shortfall).
        reversal = LedgerEntry.objects.create(
            membership=membership,
            kind=Kind.REVERSE,
            points=-covered,
            balance_after=membership.balance - covered,
            created=now,
            client=client,
            reference=earn.reference,
            description=reason,
            reverses=earn,
            shortfall=shortfall,
        )
        membership.balance -= covered
        membership.debt += shortfall
        EarnLot.objects.filter(pk=lot.pk).update(qualifying=False)
        _apply_tier(membership, now=now, reason="reversal")
        _save_membership(membership)
        body = _entry_body(reversal, membership)
        return Posting(status=201, body=body), reversal

    return _idempotent(
        program=program,
        scope=f"client:{client.pk}",
        key=idempotency_key,
        fingerprint=fingerprint,
        now=now,
        perform=perform,
    )


# --- staff, jobs, erasure -------------------------------------------------------------------------------


@transaction.atomic
def points_adjust(*, membership_id: int, points: int, reason: str, actor, now: datetime | None = None) -> LedgerEntry:
    """A staff correction: credits or debits ``points`` with a mandatory reason, audited."""
    reason = (reason or "").strip()
    if not reason:
        raise errors.LoyaltyError(code="reason_required", title=errors._("Give a reason for the adjustment."))
    now = now or timezone.now()
    membership = Membership.objects.select_for_update(of=("self",)).select_related("program").get(pk=membership_id)
    if membership.status != Membership.Status.ACTIVE:
        raise errors.unknown_member()
    limit = membership.program.max_points_per_posting
    if not points or abs(points) > limit:
        raise errors.LoyaltyError(
            code="points_out_of_range",
            title=errors._("Points must be a whole number other than 0, at most %(limit)s either way.")
            % {"limit": limit},
            status=422,
        )
    fields = {"actor": actor, "description": reason[:200]}
    if points > 0:
        entry = _credit(membership, kind=Kind.ADJUST, points=points, now=now, qualifying=False, **fields)
    else:
        _expire_due(membership, now=now)
        entry = _debit(membership, kind=Kind.ADJUST, points=-points, now=now, **fields)
    _save_membership(membership)
    audit_record(
        kind="loyalty.points_adjusted",
        user=membership.user,
        data={
            "actor": actor.pk if actor else None,
            "membership": membership.pk,
            "entry": str(entry.uuid),
            "points": points,
            "reason": reason,
        },
    )
    return entry


@transaction.atomic
def membership_expire(*, membership_id: int, now: datetime | None = None) -> int:
    """Expire one member's due lots (oldest first); the points expired. Running it twice expires nothing more."""
    now = now or timezone.now()
    membership = (
        Membership.objects.select_for_update(of=("self",)).select_related("program").filter(pk=membership_id).first()
    )
    if membership is None:
        return 0
    expired = _expire_due(membership, now=now)
    if expired:
        _save_membership(membership)
    return expired


def points_expire_due(*, now: datetime | None = None) -> int:
    """The beat job: every membership with due lots, one short transaction each; the points expired."""
    now = now or timezone.now()
    due = (
        EarnLot.objects.filter(remaining__gt=0, expires_at__lte=now)
        .values_list("membership_id", flat=True)
        .order_by("membership_id")
        .distinct()
    )
    return sum(membership_expire(membership_id=pk, now=now) for pk in list(due))


@transaction.atomic
def memberships_erase(*, user, now: datetime | None = None) -> int:
    """Erasure: each membership loses its link to ``user``; the ledger keeps its amounts.

    The remaining balance is forfeited with an ``adjust`` entry, so the programme owes nothing to a
    membership nobody can use. Idempotent: a second call finds nothing to do.
    """
    now = now or timezone.now()
    count = 0
    for pk in Membership.objects.filter(user=user).values_list("pk", flat=True):
        membership = Membership.objects.select_for_update(of=("self",)).select_related("program").get(pk=pk)
        if membership.balance:
            _consume(membership, membership.balance, now=now)
            _append(
                membership, kind=Kind.ADJUST, points=-membership.balance, now=now, description="Forfeited at erasure"
            )
        membership.user = None
        membership.status = Membership.Status.ERASED
        membership.debt = 0
        membership.save(update_fields=["user", "status", "balance", "debt"])
        audit_record(kind="loyalty.membership_erased", data={"membership": membership.pk})
        count += 1
    return count


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Forget keys older than IDEMPOTENCY_RETENTION_DAYS (the beat job)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=loyalty_settings.IDEMPOTENCY_RETENTION_DAYS)
    deleted, _ = IdempotencyRecord.objects.filter(created__lt=cutoff).delete()
    return deleted
