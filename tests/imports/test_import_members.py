"""``manage.py import_members``: members, consents and loyalty from an earlier system; resumable,
idempotent, bad rows reported by line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import bcrypt
import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from consent.models import ConsentRecord, ConsentState
from consent.purposes.selectors import consent_state_mismatches
from imports.models import ImportedMember, ImportRun
from loyalty.models import EarnLot, LedgerEntry, Membership
from loyalty.numbers import luhn_check_digit
from loyalty.selectors import ledger_problems
from tests.consent.purposes.conftest import purpose_make
from tests.loyalty.conftest import make_program

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
User = get_user_model()


@pytest.fixture
def catalogue(db):
    purpose_make("marketing_email", contact_channel="email")
    purpose_make("analytics", category="analytics")
    return make_program("sky")


def run_import(path: Path, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_members", str(path), "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def number(seed: int) -> str:
    payload = str(100000000 + seed)[:9]
    return payload + luhn_check_digit(payload)


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def member_row(i: int, **extra) -> dict:
    row = {
        "legacy_id": f"L{i}",
        "email": f"member{i}@example.com",
        "email_verified": True,
        "given_name": f"Given{i}",
        "password_hash": hashlib.sha256(f"salt{i}pw{i}".encode()).hexdigest(),
        "hash_format": "sha256_salt_pass",
        "password_salt": f"salt{i}",
        "created_at": "2020-01-01T00:00:00Z",
        "consents": [{"purpose": "analytics", "granted": True, "at": "2020-01-02T00:00:00Z"}],
        "loyalty": {"program": "sky", "member_number": number(i), "balance": 100 * i},
    }
    row.update(extra)
    return row


def assert_consistent():
    assert ledger_problems() == []
    assert consent_state_mismatches() == []
    out = io.StringIO()
    call_command("loyalty_check", stdout=out)
    assert "Ledger consistent" in out.getvalue()


def test_example_jsonl_imports_members_consents_and_loyalty(tmp_path, catalogue):
    path = shutil.copy(EXAMPLES / "legacy_members.jsonl", tmp_path / "members.jsonl")
    out, err = run_import(Path(path))
    assert "4 imported" in out and "0 bad rows" in out, out + err

    aiko = User.objects.get(email="aiko.sato@example.com")
    assert (aiko.given_name, aiko.family_name, aiko.phone_number) == ("Aiko", "Sato", "+81 90 1234 5678")
    assert aiko.password.startswith("bcrypt$$2y$")
    assert aiko.date_joined.isoformat() == "2019-04-01T00:30:00+00:00"
    assert EmailAddress.objects.get(user=aiko).verified
    assert not EmailAddress.objects.get(email="ben.mueller@example.com").verified

    # Consent history: granted, then withdrawn (two records); analytics granted. Text version 1 kept.
    records = list(ConsentRecord.objects.filter(user=aiko).order_by("id"))
    assert [(r.purpose.code, r.granted) for r in records] == [
        ("analytics", True),
        ("marketing_email", True),
        ("marketing_email", False),
    ] or [(r.purpose.code, r.granted) for r in records] == [
        ("marketing_email", True),
        ("analytics", True),
        ("marketing_email", False),
    ]
    assert {r.channel for r in records} == {"import"}
    assert next(r for r in records if r.granted and r.purpose.code == "marketing_email").text.version == 1
    states = {s.purpose.code: s.granted for s in ConsentState.objects.filter(user=aiko)}
    assert states == {"marketing_email": False, "analytics": True}

    membership = Membership.objects.get(user=aiko)
    assert (membership.member_number, membership.balance, membership.tier.code) == ("4111111110", 12500, "silver")
    entry = LedgerEntry.objects.get(membership=membership)
    assert (entry.kind, entry.points, entry.balance_after) == ("adjust", 12500, 12500)
    assert EarnLot.objects.get(membership=membership).remaining == 12500
    ben = Membership.objects.get(user__email="ben.mueller@example.com")
    assert ben.balance == 0 and ben.tier.code == "blue" and len(ben.member_number) == 10
    assert not LedgerEntry.objects.filter(membership=ben).exists()
    assert_consistent()

    # Members sign in with their old passwords (re-hashed at once).
    client = Client()
    assert (
        client.post("/accounts/login/", {"login": "aiko.sato@example.com", "password": "sakura-2019"}).status_code
        == 302
    )
    aiko.refresh_from_db()
    assert aiko.password.startswith("argon2$argon2id$")


def test_example_csv_reports_the_bad_row_by_line_and_imports_the_rest(tmp_path, catalogue):
    path = Path(shutil.copy(EXAMPLES / "legacy_members.csv", tmp_path / "members.csv"))
    out, err = run_import(path)
    assert "2 imported" in out and "1 bad rows" in out, out
    assert "4,invalid_email,email," in err
    errors = list(csv.reader((tmp_path / "members.csv.errors.csv").open()))
    assert [e[:3] for e in errors] == [["4", "invalid_email", "email"]]
    assert ImportRun.objects.get().errors == [{"line": 4, "code": "invalid_email", "field": "email"}]

    emi = User.objects.get(email="emi.tanaka@example.com")
    assert {s.purpose.code: s.granted for s in ConsentState.objects.filter(user=emi)} == {"marketing_email": True}
    assert Membership.objects.get(user=emi).balance == 3000
    fritz = User.objects.get(email="fritz@example.com")
    assert not Membership.objects.filter(user=fritz).exists()
    assert_consistent()
    client = Client()
    assert (
        client.post("/accounts/login/", {"login": "emi.tanaka@example.com", "password": "emi-secret-99"}).status_code
        == 302
    )
    assert client.post("/accounts/login/", {"login": "fritz@example.com", "password": "fritz-pass"}).status_code == 302


def test_running_again_duplicates_nobody_and_changes_nothing(tmp_path, catalogue):
    path = write_jsonl(tmp_path / "m.jsonl", [member_row(i) for i in range(1, 8)])
    run_import(path, "--batch-size", "3")
    before = (
        list(User.objects.order_by("id").values_list("id", "email", "password", "updated_at")),
        ConsentRecord.objects.count(),
        LedgerEntry.objects.count(),
    )
    out, _err = run_import(path, "--batch-size", "3")
    assert "0 imported, 7 already imported" in out
    after = (
        list(User.objects.order_by("id").values_list("id", "email", "password", "updated_at")),
        ConsentRecord.objects.count(),
        LedgerEntry.objects.count(),
    )
    assert before == after
    assert ImportedMember.objects.count() == 7
    assert_consistent()


def test_a_changed_row_is_counted_and_left_as_first_imported(tmp_path, catalogue):
    run_import(write_jsonl(tmp_path / "a.jsonl", [member_row(1)]))
    out, _err = run_import(write_jsonl(tmp_path / "b.jsonl", [member_row(1, given_name="Renamed")]))
    assert "1 already imported but changed since" in out
    assert User.objects.get().given_name == "Given1"


def test_an_interrupted_import_resumes_after_the_last_committed_batch(tmp_path, catalogue):
    rows = [member_row(i) for i in range(1, 11)]
    rows[5] = "{not json"  # line 6
    path = write_jsonl(tmp_path / "m.jsonl", rows)

    out, err = run_import(path, "--batch-size", "2", "--stop-after", "5")
    assert "stopped after line 5" in out
    run = ImportRun.objects.get()
    assert (run.status, run.last_line, run.imported) == ("running", 5, 5)
    assert User.objects.count() == 5

    out, err = run_import(path, "--batch-size", "2")
    assert "finished" in out
    run.refresh_from_db()
    assert ImportRun.objects.count() == 1  # the same run, resumed
    assert (run.status, run.rows, run.imported, run.unchanged, run.failed) == ("done", 10, 9, 0, 1)
    assert "6,invalid_json" in err
    assert User.objects.count() == 9
    assert sorted(ImportedMember.objects.values_list("line", flat=True)) == [1, 2, 3, 4, 5, 7, 8, 9, 10]
    assert_consistent()


def test_a_fresh_run_after_a_lost_checkpoint_still_duplicates_nobody(tmp_path, catalogue):
    path = write_jsonl(tmp_path / "m.jsonl", [member_row(i) for i in range(1, 6)])
    run_import(path, "--batch-size", "2", "--stop-after", "3")
    out, _err = run_import(path, "--restart")
    assert "2 imported, 3 already imported" in out
    assert User.objects.count() == 5


def test_bad_rows_are_reported_with_their_line_and_the_batch_goes_on(tmp_path, catalogue, member):
    rows = [
        member_row(1),
        member_row(2, email="not-an-email"),
        member_row(3, password_hash="$2b$10$short"),
        member_row(4, consents=[{"purpose": "unknown", "granted": True, "at": "2020-01-01"}]),
        member_row(5, consents=[{"purpose": "analytics", "granted": True, "at": "yesterday"}]),
        member_row(6, loyalty={"program": "nope", "balance": 1}),
        member_row(7, loyalty={"program": "sky", "member_number": "1234567890"}),
        member_row(8, loyalty={"program": "sky", "balance": -5}),
        member_row(9, email="MEMBER1@example.com"),  # same email as line 1, other legacy id
        member_row(10, email=member.email.upper()),  # an account of ours already has it
        member_row(11, loyalty={"program": "sky", "member_number": number(1)}),  # line 1's number
        member_row(12, loyalty={"program": "sky", "tier": "platinum"}),
        member_row(13, created_at="2999-01-01"),
        member_row(14, hash_format="crc32"),
        {"email": "nolegacy@example.com"},
        member_row(16),
    ]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    out, err = run_import(path)
    assert "2 imported" in out and "14 bad rows" in out, out + err
    codes = [tuple(r[:3]) for r in csv.reader(io.StringIO(err))]
    assert codes == [
        ("2", "invalid_email", "email"),
        ("3", "invalid_hash", "password_hash"),
        ("4", "unknown_purpose", "consents[0].purpose"),
        ("5", "invalid_date", "consents[0].at"),
        ("6", "unknown_program", "loyalty.program"),
        ("7", "invalid_member_number", "loyalty.member_number"),
        ("8", "invalid_balance", "loyalty.balance"),
        ("9", "duplicate_email", "email"),
        ("10", "email_taken", "email"),
        ("11", "member_number_taken", "loyalty.member_number"),
        ("12", "unknown_tier", "loyalty.tier"),
        ("13", "future_date", "created_at"),
        ("14", "invalid_hash", "password_hash"),
        ("15", "missing", "legacy_id"),
    ]
    assert sorted(User.objects.values_list("email", flat=True)) == [
        "member16@example.com",
        "member1@example.com",
        member.email,
    ]
    assert "member1@example.com" not in json.dumps(ImportRun.objects.get().errors)
    assert_consistent()


def test_a_weak_hash_imported_member_is_asked_for_a_new_password(tmp_path, catalogue):
    path = shutil.copy(EXAMPLES / "legacy_members.jsonl", tmp_path / "members.jsonl")
    run_import(Path(path))
    response = Client().post("/accounts/login/", {"login": "chika@example.com", "password": "old-password"})
    assert response.status_code == 302 and response.url == "/accounts/password/renew/confirm/"


def test_an_erased_member_is_not_brought_back_by_a_rerun(tmp_path, catalogue):
    path = write_jsonl(tmp_path / "m.jsonl", [member_row(1)])
    run_import(path)
    user = User.objects.get()
    user.delete()
    assert ImportedMember.objects.get().user is None
    out, _err = run_import(path)
    assert "0 imported, 1 already imported" in out
    assert not User.objects.exists()


def test_bcrypt_row_signs_in_after_import(tmp_path, catalogue):
    hashed = bcrypt.hashpw(b"pw-bcrypt", bcrypt.gensalt(4)).decode()
    row = member_row(1, password_hash=hashed, hash_format="", password_salt="")
    run_import(write_jsonl(tmp_path / "m.jsonl", [row]))
    client = Client()
    assert client.post("/accounts/login/", {"login": "member1@example.com", "password": "pw-bcrypt"}).status_code == 302


def test_staff_see_runs_in_the_admin_read_only(tmp_path, catalogue, client, admin_user):
    from tests.accounts.mfa.conftest import force_login_with_mfa

    run_import(write_jsonl(tmp_path / "m.jsonl", [member_row(1), member_row(2, email="bad")]))
    run = ImportRun.objects.get()
    force_login_with_mfa(client, admin_user)
    listing = client.get("/admin/imports/importrun/")
    assert listing.status_code == 200 and "m.jsonl" in listing.content.decode()
    page = client.get(f"/admin/imports/importrun/{run.pk}/change/")
    assert page.status_code == 200 and "invalid_email" in page.content.decode()
    assert client.post(f"/admin/imports/importrun/{run.pk}/change/", {"source": "x"}).status_code == 403
