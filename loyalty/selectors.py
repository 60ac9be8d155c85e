"""Reads of the loyalty app handed to views, the API, claims and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Min, Sum
from django.utils import timezone

from loyalty import programs
from loyalty.app_settings import loyalty_settings
from loyalty.models import EarnLot, LedgerEntry, Membership, Program, Tier


def program_by_slug(slug: str) -> Program | None:
    """The program with this code (kept per process for a few seconds: ``loyalty.programs``)."""
    return programs.program_by_slug(slug)


def program_of_client(client) -> Program | None:
    """The program a client acts for (partners and RPs of the brand), if any (kept per process, as above)."""
    return programs.program_of_client_id(client.pk)


def program_of_client_id(client_id: int) -> int | None:
    """The id of the program a client acts for (kept per process, as above)."""
    program = programs.program_of_client_id(client_id)
    return program.pk if program is not None else None


def token_auth_context(token):
    """How the member behind an access token authenticated (RFC 9470), from the code it came from.

    A refreshed token is traced through its refresh token's family to the original code.
    """
    from accounts.selectors import acr_meets
    from accounts.services import ACR_MFA
    from idp.models import CodeIssuance
    from loyalty.services import AuthContext

    issuance = CodeIssuance.objects.filter(access_token_id=token.pk).first()
    if issuance is None and token.source_refresh_token_id:
        family = token.source_refresh_token.token_family
        issuance = CodeIssuance.objects.filter(token_family=family).first() if family else None
    if issuance is None:
        return AuthContext(acr=None, mfa_time=None)
    return AuthContext(acr=issuance.acr, mfa_time=issuance.auth_time if acr_meets(issuance.acr, ACR_MFA) else None)


def membership_of(*, user, program: Program) -> Membership | None:
    return (
        Membership.objects.filter(user=user, program=program, status=Membership.Status.ACTIVE)
        .select_related("tier", "program")
        .first()
    )


def memberships_of(user) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user, status=Membership.Status.ACTIVE)
        .select_related("tier", "program")
        .order_by("program__name")
    )


def programs_open_to(user) -> list[Program]:
    """Active programs the member has not joined."""
    return list(Program.objects.filter(is_active=True).exclude(memberships__user=user).order_by("name"))


def last_new_device_sign_in(*, user_id: int, since: datetime) -> datetime | None:
    """When the member last signed in from a device new to the account, if after ``since``."""
    from accounts.models import SecurityEvent

    return (
        SecurityEvent.objects.filter(user_id=user_id, kind=SecurityEvent.Kind.NEW_DEVICE, created__gt=since)
        .order_by("-created")
        .values_list("created", flat=True)
        .first()
    )


@dataclass(frozen=True)
class Expiring:
    points: int
    first_date: datetime | None


def expiring_soon(membership: Membership, *, now: datetime | None = None, days: int | None = None) -> Expiring:
    """Points that will expire within ``days`` (EXPIRING_SOON_DAYS), and the first date."""
    now = now or timezone.now()
    days = loyalty_settings.EXPIRING_SOON_DAYS if days is None else days
    lots = EarnLot.objects.filter(
        membership=membership, remaining__gt=0, expires_at__isnull=False, expires_at__lte=now + timedelta(days=days)
    )
    stats = lots.aggregate(points=Sum("remaining"), first=Min("expires_at"))
    return Expiring(points=stats["points"] or 0, first_date=stats["first"])


def expiring_soon_of(*, membership_id: int, now: datetime | None = None) -> Expiring:
    return expiring_soon(Membership(pk=membership_id), now=now)


def entry_id_of(*, membership: Membership, uuid: str) -> int | None:
    return LedgerEntry.objects.filter(membership=membership, uuid=uuid).values_list("id", flat=True).first()


def statement(membership: Membership, *, limit: int = 50, before_id: int | None = None) -> list[LedgerEntry]:
    """The member's newest entries first (keyset pagination by id)."""
    qs = LedgerEntry.objects.filter(membership=membership).select_related("client", "reverses")
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    return list(qs.order_by("-id")[:limit])


# The hot read (the API's /me, claims): one statement by the unique (program, user) index, the tier
# joined by its primary key. Plain SQL (the same on SQLite and PostgreSQL): the ORM spent more CPU
# compiling this query than the database spent answering it.
_SQL_BALANCE = (
    f"SELECT m.id, m.member_number, m.balance, m.debt, t.code, t.name FROM {Membership._meta.db_table} m "
    f"LEFT JOIN {Tier._meta.db_table} t ON t.id = m.tier_id "
    "WHERE m.user_id = %s AND m.program_id = %s AND m.status = 'active'"
)
_BALANCE_KEYS = ("id", "member_number", "balance", "debt", "tier__code", "tier__name")


def balance_of(*, user, program) -> dict | None:
    """The member's balance in ``program`` (a user or its id; a program or its id), or ``None``.

    Keys: id, member_number, balance, debt, tier__code, tier__name.
    """
    with connection.cursor() as cursor:
        cursor.execute(_SQL_BALANCE, [getattr(user, "pk", user), getattr(program, "pk", program)])
        row = cursor.fetchone()
    return dict(zip(_BALANCE_KEYS, row, strict=True)) if row is not None else None


def member_for_claims(user, *, client) -> Membership | None:
    """The membership an RP sees: of the client's program, else the member's oldest one."""
    program = program_of_client(client) if client is not None else None
    qs = Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).select_related("tier", "program")
    if program is not None:
        return qs.filter(program=program).first()
    return qs.order_by("joined_at", "pk").first()


@dataclass(frozen=True)
class LedgerProblem:
    membership_id: int
    member_number: str
    problem: str


def ledger_problems(*, membership_ids: list[int] | None = None) -> list[LedgerProblem]:
    """Every membership whose balance disagrees with its entries or its lots, or whose entries do not chain.

    With the chain of ``balance_after`` intact and the sum of entries equal to the balance, the last
    entry's ``balance_after`` is the balance too.

    Run by ``manage.py loyalty_check`` (staff) and by the tests after every concurrency run.
    """
    qs = Membership.objects.all()
    if membership_ids is not None:
        qs = qs.filter(pk__in=membership_ids)
    entry_sums = dict(
        LedgerEntry.objects.filter(membership__in=qs)
        .values("membership_id")
        .annotate(total=Sum("points"))
        .values_list("membership_id", "total")
    )
    lot_sums = dict(
        EarnLot.objects.filter(membership__in=qs)
        .values("membership_id")
        .annotate(total=Sum("remaining"))
        .values_list("membership_id", "total")
    )
    problems = []
    for m in qs.only("pk", "member_number", "balance", "debt").iterator(chunk_size=2000):
        entries = entry_sums.get(m.pk) or 0
        lots = lot_sums.get(m.pk) or 0
        if m.balance < 0:
            problems.append(LedgerProblem(m.pk, m.member_number, f"negative balance {m.balance}"))
        if entries != m.balance:
            problems.append(LedgerProblem(m.pk, m.member_number, f"balance {m.balance} != sum of entries {entries}"))
        if lots != m.balance:
            problems.append(LedgerProblem(m.pk, m.member_number, f"balance {m.balance} != points in lots {lots}"))
    problems.extend(_running_balance_problems(qs))
    return problems


def _running_balance_problems(memberships) -> list[LedgerProblem]:
    """Each entry's balance_after must be the previous one plus its points (no lost or doubled entry)."""
    from django.db.models import F, Window
    from django.db.models.functions import Lag

    rows = (
        LedgerEntry.objects.filter(membership__in=memberships)
        .annotate(previous=Window(Lag("balance_after"), partition_by=[F("membership_id")], order_by=F("id").asc()))
        .values_list("membership_id", "membership__member_number", "id", "points", "balance_after", "previous")
    )
    problems = []
    for membership_id, number, entry_id, points, after, previous in rows.iterator(chunk_size=5000):
        if (previous or 0) + points != after:
            problems.append(
                LedgerProblem(membership_id, number, f"entry {entry_id}: {previous or 0} {points:+d} != {after}")
            )
    return problems
