"""The member import: batches of rows checked in Python, then written in one transaction each.

Why not call ``consent_change`` and ``membership_join`` per member: at a million members that is
tens of millions of statements. Instead each batch writes its rows with a few bulk statements
(``COPY`` on PostgreSQL) and reproduces what those services would have left:

* the user, with the legacy hash stored as it is (``accounts.hashers``: re-hashed at sign-in);
* allauth's ``EmailAddress`` (primary, verified as the file says);
* one ``ConsentRecord`` per change of the member's consent history (channel ``import``), oldest
  first, and the ``ConsentState`` pointing at the last one, as ``consent_change`` keeps them;
* per program a ``Membership`` (the legacy member number, or a new one), and for a balance above 0
  an ``adjust`` ledger entry with its earn lot, as ``points_adjust`` writes a credit: balance =
  entries = lots, so ``manage.py loyalty_check`` stays green;
* an ``ImportedMember`` row (legacy id → account, row digest) and the run's checkpoint.

The import sends no outbox events or emails per member (a consent.changed event per imported
member would replay the legacy system's history to every subscriber); one audit event per run.
"""

from __future__ import annotations

import csv
import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from queue import Empty, Queue
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from idp.services import audit_record
from imports.models import ImportedMember, ImportRun
from imports.rows import Catalogue, Member, RowError, file_format, read_rows

MAX_STORED_ERRORS = 1000


@dataclass
class BadRow:
    line: int
    code: str
    field: str
    message: str


@dataclass
class BatchResult:
    imported: int = 0
    unchanged: int = 0
    changed: int = 0
    errors: list[BadRow] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def count_lines(path: Path) -> int:
    total = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            total += chunk.count(b"\n")
    return total


# --- writing rows in bulk ------------------------------------------------------------------------------


class Table:
    """Rows for one model as tuples of every concrete column, defaults filled in like the ORM would."""

    def __init__(self, model, *, now: datetime):
        self.model = model
        self.table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.columns = [f.column for f in self.fields]
        self.defaults = []
        for f in self.fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                self.defaults.append((f.attname, lambda: now))
            else:
                self.defaults.append((f.attname, f._get_default))
        self.rows: list[tuple] = []

    def add(self, **values) -> None:
        self.rows.append(tuple(values[a] if a in values else default() for a, default in self.defaults))

    def flush(self) -> None:
        if not self.rows:
            return
        columns = ", ".join(f'"{c}"' for c in self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                json_columns = [i for i, f in enumerate(self.fields) if f.get_internal_type() == "JSONField"]
                with cursor.copy(f'COPY "{self.table}" ({columns}) FROM STDIN') as copy:
                    for row in self.rows:
                        if json_columns:
                            row = list(row)
                            for i in json_columns:
                                row[i] = _json(row[i])
                        copy.write_row(row)
            else:
                prep = [f.get_db_prep_save for f in self.fields]
                values = [tuple(p(v, connection) for p, v in zip(prep, row, strict=True)) for row in self.rows]
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f'INSERT INTO "{self.table}" ({columns}) VALUES ({marks})', values)  # noqa: S608
        self.rows = []


def allocate_ids(wanted: list[tuple[Table, int]]) -> list[list[int]]:
    """Fresh primary keys for each (table, count): one round trip on PostgreSQL (its sequences);
    elsewhere above the highest id in use (the batch holds SQLite's write lock, see ``_write_batch``)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            parts = ", ".join(
                "ARRAY(SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s))" for _ in wanted
            )
            cursor.execute(f"SELECT {parts}", [v for table, n in wanted for v in (table.table, n)])  # noqa: S608
            return [list(ids) for ids in cursor.fetchone()]
        result = []
        for table, n in wanted:
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table.table}"')  # noqa: S608
            top = cursor.fetchone()[0]
            if connection.vendor == "sqlite":
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table.table])
                row = cursor.fetchone()
                top = max(top, row[0] if row else 0)
            result.append(list(range(top + 1, top + 1 + n)))
        return result


def _json(value) -> str:
    import json

    return json.dumps(value)


# --- one batch -----------------------------------------------------------------------------------------


def _error(line: int, exc: RowError) -> BadRow:
    return BadRow(line, exc.code, exc.field, exc.message)


def _write_batch(*, run: ImportRun, members: list[Member], bad: list[BadRow], last_line: int, now: datetime):
    """Write one batch and move the checkpoint, all in one transaction."""
    from allauth.account.models import EmailAddress

    from consent.models import ConsentRecord, ConsentState
    from loyalty.models import EarnLot, LedgerEntry, Membership

    User = get_user_model()
    result = BatchResult(errors=list(bad))
    with transaction.atomic():
        # The first write of the transaction: locks the run (and, on SQLite, the database, which
        # makes the id allocation below safe).
        ImportRun.objects.filter(pk=run.pk).update(updated_at=now)

        existing = dict(
            ImportedMember.objects.filter(source=run.source, legacy_id__in=[m.legacy_id for m in members]).values_list(
                "legacy_id", "digest"
            )
        )
        emails = [m.email for m in members]
        taken = set(
            User.objects.annotate(email_ci=Lower("email"))
            .filter(email_ci__in=emails)
            .values_list("email_ci", flat=True)
        ) | set(EmailAddress.objects.filter(email__in=emails).values_list("email", flat=True))
        numbers = [item.member_number for m in members for item in m.loyalty if item.member_number]
        numbers_taken = set(
            Membership.objects.filter(member_number__in=numbers).values_list("member_number", flat=True)
        )

        fresh: list[Member] = []
        seen_ids: dict[str, str] = {}
        batch_emails: set[str] = set()
        for m in members:
            known = existing.get(m.legacy_id, seen_ids.get(m.legacy_id))
            if known is not None:
                if known == m.digest:
                    result.unchanged += 1
                else:
                    result.changed += 1
                continue
            if m.email in batch_emails:
                result.errors.append(_error(m.line, RowError("duplicate_email", "email")))
                continue
            if m.email in taken:
                result.errors.append(_error(m.line, RowError("email_taken", "email")))
                continue
            clash = next((i.member_number for i in m.loyalty if i.member_number in numbers_taken), None)
            if clash:
                result.errors.append(_error(m.line, RowError("member_number_taken", "loyalty.member_number")))
                continue
            seen_ids[m.legacy_id] = m.digest
            batch_emails.add(m.email)
            numbers_taken.update(i.member_number for i in m.loyalty if i.member_number)
            fresh.append(m)

        users = Table(User, now=now)
        addresses = Table(EmailAddress, now=now)
        links = Table(ImportedMember, now=now)
        records = Table(ConsentRecord, now=now)
        states = Table(ConsentState, now=now)
        memberships = Table(Membership, now=now)
        entries = Table(LedgerEntry, now=now)
        lots = Table(EarnLot, now=now)

        n_records = sum(len(m.consents) for m in fresh)
        n_states = sum(len({c.purpose_id for c in m.consents}) for m in fresh)
        n_memberships = sum(len(m.loyalty) for m in fresh)
        n_credits = sum(1 for m in fresh for i in m.loyalty if i.balance)
        user_ids, address_ids, link_ids, record_ids, state_ids, membership_ids, entry_ids, lot_ids = (
            iter(ids)
            for ids in allocate_ids(
                [
                    (users, len(fresh)),
                    (addresses, len(fresh)),
                    (links, len(fresh)),
                    (records, n_records),
                    (states, n_states),
                    (memberships, n_memberships),
                    (entries, n_credits),
                    (lots, n_credits),
                ]
            )
        )
        note = f"Imported from {run.source}"[:200]
        new_numbers = iter(
            _free_numbers(sum(1 for m in fresh for i in m.loyalty if not i.member_number), numbers_taken)
        )

        for m in fresh:
            uid = next(user_ids)
            users.add(
                id=uid,
                password=m.password,
                email=m.email,
                given_name=m.given_name,
                family_name=m.family_name,
                phone_number=m.phone,
                date_joined=m.created_at or now,
            )
            addresses.add(id=next(address_ids), user_id=uid, email=m.email, verified=m.verified, primary=True)
            links.add(
                id=next(link_ids),
                source=run.source,
                legacy_id=m.legacy_id,
                user_id=uid,
                run_id=run.pk,
                line=m.line,
                digest=m.digest,
                imported_at=now,
            )
            last: dict[int, tuple[int, bool, datetime]] = {}
            for c in m.consents:
                rid = next(record_ids)
                records.add(
                    id=rid,
                    user_id=uid,
                    purpose_id=c.purpose_id,
                    granted=c.granted,
                    created=c.at,
                    channel=ConsentRecord.Channel.IMPORT,
                    text_id=c.text_id,
                    language=c.language,
                    note=note,
                )
                last[c.purpose_id] = (rid, c.granted, c.at)
            for purpose_id, (rid, granted, at) in last.items():
                states.add(
                    id=next(state_ids), user_id=uid, purpose_id=purpose_id, granted=granted, since=at, record_id=rid
                )
            for item in m.loyalty:
                mid = next(membership_ids)
                memberships.add(
                    id=mid,
                    program_id=item.program_id,
                    user_id=uid,
                    member_number=item.member_number or next(new_numbers),
                    tier_id=item.tier_id,
                    balance=item.balance,
                    joined_at=m.created_at or now,
                )
                if item.balance:
                    eid = next(entry_ids)
                    entries.add(
                        id=eid,
                        membership_id=mid,
                        kind=LedgerEntry.Kind.ADJUST,
                        points=item.balance,
                        balance_after=item.balance,
                        created=now,
                        reference=f"import:{run.pk}",
                        description=f"Opening balance imported from {run.source}"[:200],
                    )
                    lots.add(
                        id=next(lot_ids),
                        membership_id=mid,
                        entry_id=eid,
                        points=item.balance,
                        remaining=item.balance,
                        earned_at=now,
                        expires_at=now + timedelta(days=item.expire_days) if item.expire_days else None,
                        qualifying=True,
                    )
        for table in (users, addresses, links, records, states, memberships, entries, lots):
            table.flush()

        result.imported = len(fresh)
        result.errors.sort(key=lambda e: e.line)
        stored = [{"line": e.line, "code": e.code, "field": e.field} for e in result.errors]
        room = max(0, MAX_STORED_ERRORS - len(run.errors))
        run.errors = run.errors + stored[:room]
        run.last_line = last_line
        run.rows += len(members) + len(bad)
        run.imported += result.imported
        run.unchanged += result.unchanged
        run.changed += result.changed
        run.failed += len(result.errors)
        run.updated_at = now
        run.save(
            update_fields=["errors", "last_line", "rows", "imported", "unchanged", "changed", "failed", "updated_at"]
        )
    return result


def _free_numbers(count: int, taken: set[str]) -> list[str]:
    """``count`` new member numbers in use nowhere (the database, the batch): drawn, then checked
    in one query, and drawn again for the rare collision."""
    from loyalty.models import Membership
    from loyalty.numbers import new_member_number

    found: list[str] = []
    for _attempt in range(10):
        want = count - len(found)
        if not want:
            return found
        drawn = {new_member_number() for _ in range(want)} - taken
        drawn -= set(Membership.objects.filter(member_number__in=drawn).values_list("member_number", flat=True))
        taken.update(drawn)
        found.extend(drawn)
    raise RuntimeError("could not draw free member numbers")  # pragma: no cover


def _prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """``items``, produced by a thread ``depth`` ahead: the next batch is read and checked while
    PostgreSQL writes this one (the GIL is free while psycopg waits for the server)."""
    done = object()
    queue: Queue = Queue(maxsize=depth)
    stopping = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stopping.is_set():
                    return
                queue.put(item)
            queue.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            queue.put(exc)

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopping.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                queue.get(timeout=0.1)
            except Empty:
                pass
        thread.join()


# --- a run ---------------------------------------------------------------------------------------------


@dataclass
class Options:
    source: str = "legacy"
    fmt: str | None = None
    batch_size: int = 2000
    stop_after: int | None = None  # rows read in this call, then stop at that batch's end
    restart: bool = False


def resumable_run(*, options: Options, sha256: str) -> ImportRun | None:
    """The interrupted run of this file, unless asked to start over."""
    if options.restart:
        return None
    return (
        ImportRun.objects.filter(source=options.source, file_sha256=sha256, status=ImportRun.Status.RUNNING)
        .order_by("-id")
        .first()
    )


def run_for(path: Path, *, options: Options, sha256: str) -> ImportRun:
    """The interrupted run of this file to resume, or a new one."""
    run = resumable_run(options=options, sha256=sha256)
    if run is not None:
        return run
    run = ImportRun.objects.create(source=options.source, file_name=path.name[:255], file_sha256=sha256)
    audit_record(kind="imports.run_started", data={"run": run.pk, "source": run.source, "file": run.file_name})
    return run


def import_members(
    path: Path,
    *,
    options: Options | None = None,
    errors_out: TextIO | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> ImportRun:
    """Import (or resume importing) ``path``; returns the run with its counts.

    Bad rows are written to ``errors_out`` as ``line,code,field,message`` and skipped; the rest of
    their batch goes in. ``progress(n)`` is called with the rows of each committed batch.
    """
    options = options or Options()
    path = Path(path)
    fmt = file_format(path, options.fmt)
    sha256 = file_sha256(path)
    run = run_for(path, options=options, sha256=sha256)
    catalogue = Catalogue()
    now = now or timezone.now()

    def batches() -> Iterator[tuple[list[Member], list[BadRow], int, bool]]:
        """(members, bad rows, last line, stop here) per batch: pure Python, no database."""
        members: list[Member] = []
        bad: list[BadRow] = []
        read = 0
        for line, row in read_rows(path, fmt=fmt, start_after=run.last_line):
            try:
                members.append(catalogue.member(line, row, now=now))
            except RowError as exc:
                bad.append(_error(line, exc))
            read += 1
            stop = bool(options.stop_after and read >= options.stop_after)
            if len(members) + len(bad) >= options.batch_size or stop:
                yield members, bad, line, stop
                if stop:
                    return
                members, bad = [], []
        if members or bad:
            yield members, bad, line, False

    for members, bad, last_line, stop in _prefetched(batches()):
        result = _write_batch(run=run, members=members, bad=bad, last_line=last_line, now=now)
        if errors_out is not None and result.errors:
            writer = csv.writer(errors_out, lineterminator="\n")
            for e in result.errors:
                writer.writerow([e.line, e.code, e.field, e.message])
            errors_out.flush()
        if progress is not None:
            progress(len(members) + len(bad))
        if stop:
            return run
    run.status = ImportRun.Status.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at"])
    audit_record(
        kind="imports.run_finished",
        data={
            "run": run.pk,
            "source": run.source,
            "rows": run.rows,
            "imported": run.imported,
            "unchanged": run.unchanged,
            "changed": run.changed,
            "failed": run.failed,
        },
    )
    return run
