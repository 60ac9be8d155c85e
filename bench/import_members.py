"""Import benchmark: members per second of ``manage.py import_members`` on PostgreSQL.

    .venv/bin/python bench/import_members.py [--members 100000] [--db idp_import_bench] [--batch-size 2000]
                                             [--check] [--json FILE]

1. Writes ``--members`` synthetic legacy members to a JSON Lines file (under var/bench/): a mix of
   hash formats (bcrypt, Argon2id, passlib PBKDF2, salted SHA-256, salted MD5; real hashes from a
   small pool each, stored as they are, so generating them costs nothing per member), 0-3 consent
   events, and for 70 % a loyalty membership with a Luhn member number and a balance.
2. Recreates the PostgreSQL database ``--db`` (dropped first!), migrates it, creates the purposes
   and the program.
3. Runs ``manage.py import_members FILE --no-progress`` as a subprocess and times it (wall clock,
   the command's CPU and PostgreSQL's).
4. With ``--check``: ``manage.py loyalty_check`` and the consent state derivation on the result.

The last line printed is the figures as JSON (``run(**options)`` returns them, for bench/run.py).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
PY = sys.executable
PG = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "idp_import_bench"
PURPOSES = ("marketing_email", "marketing_sms", "analytics")


def _luhn(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return payload + str((10 - total % 10) % 10)


def hash_pool(size: int = 20) -> list[tuple[str, str, str]]:
    """(hash, format, salt) made by the real libraries; members draw from it."""
    import bcrypt
    from argon2 import PasswordHasher

    def ab64(b: bytes) -> str:
        return base64.b64encode(b).decode().rstrip("=").replace("+", ".")

    pool = []
    ph = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    for i in range(size):
        pw = f"bench-password-{i}".encode()
        salt = os.urandom(8).hex()
        pool.append((bcrypt.hashpw(pw, bcrypt.gensalt(10)).decode(), "", ""))
        pool.append((ph.hash(pw), "", ""))
        raw_salt = os.urandom(16)
        key = hashlib.pbkdf2_hmac("sha256", pw, raw_salt, 29000)
        pool.append((f"$pbkdf2-sha256$29000${ab64(raw_salt)}${ab64(key)}", "", ""))
        pool.append((hashlib.sha256(salt.encode() + pw).hexdigest(), "sha256_salt_pass", salt))
        pool.append((hashlib.md5(pw + salt.encode()).hexdigest(), "md5_pass_salt", salt))
    return pool


def write_file(path: Path, members: int, *, seed: int = 1) -> None:
    rnd = random.Random(seed)
    pool = hash_pool()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(members):
            h, fmt, salt = pool[i % len(pool)]
            row = {
                "legacy_id": f"B{i}",
                "email": f"member{i}@import-bench.example",
                "email_verified": rnd.random() < 0.8,
                "given_name": rnd.choice(("Aiko", "Ben", "Chika", "Daisuke", "Emma", "Felix")),
                "family_name": rnd.choice(("Sato", "Suzuki", "Müller", "Tanaka", "Smith")),
                "phone": f"+8190{rnd.randrange(10**8):08d}" if rnd.random() < 0.5 else "",
                "password_hash": h,
                "created_at": f"20{rnd.randrange(10, 24)}-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}"
                f"T{rnd.randrange(24):02d}:00:00Z",
            }
            if fmt:
                row["hash_format"], row["password_salt"] = fmt, salt
            consents = []
            for purpose in rnd.sample(PURPOSES, rnd.randrange(0, 3)):
                consents.append({"purpose": purpose, "granted": True, "at": "2021-05-05T10:00:00Z"})
                if rnd.random() < 0.2:
                    consents.append({"purpose": purpose, "granted": False, "at": "2023-01-01T10:00:00Z"})
            if consents:
                row["consents"] = consents
            if rnd.random() < 0.7:
                row["loyalty"] = {
                    "program": "bench",
                    "member_number": _luhn(str(100_000_000 + i)),
                    "balance": rnd.choice((0, rnd.randrange(1, 60_000))),
                }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def bench_env(db: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG}/{db}",
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        DJANGO_SETTINGS_MODULE="idp.settings",
        PYTHONPATH=str(ROOT),
    )
    env.pop("DEBUG", None)
    return env


SETUP = """
from consent.models import Purpose
from loyalty.models import Program, Tier
for code in PURPOSES:
    Purpose.objects.get_or_create(code=code, defaults={"category": "marketing"})
p, _ = Program.objects.get_or_create(slug="bench", defaults={"name": "Bench Miles"})
for code, low in (("blue", 0), ("silver", 10_000), ("gold", 50_000)):
    Tier.objects.get_or_create(program=p, code=code, defaults={"name": code.title(), "min_points": low})
""".replace("PURPOSES", repr(PURPOSES))


def recreate_database(db: str, env: dict) -> None:
    import psycopg

    if "bench" not in db:
        sys.exit(f"refusing to drop {db!r}: the name must contain 'bench'")
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    subprocess.run([PY, "-m", "idp.bootstrap"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PY, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=env, check=True)


def measure(*, members: int, db: str, batch_size: int, check: bool) -> dict:
    import procstat

    env = bench_env(db)
    path = ROOT / "var" / "bench" / f"import_members_{members}.jsonl"
    if not path.exists():
        t = time.monotonic()
        write_file(path, members)
        print(f"wrote {path} in {time.monotonic() - t:.0f} s", file=sys.stderr)
    recreate_database(db, env)
    errors = path.with_name(path.name + ".errors.csv")
    errors.unlink(missing_ok=True)
    load_start = os.getloadavg()
    busy_before = procstat.machine_cpu()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(
        [PY, "manage.py", "import_members", str(path), "--no-progress", "--source", "bench", "--batch-size",
         str(batch_size)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-4000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures = {
        "database": db,
        "members": members,
        "batch_size": batch_size,
        "seconds": round(wall, 1),
        "members_per_s": round(members / wall),
        "command_cpu_s": round(cpu, 1),
        "summary": proc.stdout.strip().splitlines()[-1],
        "load_avg_at_start": load_start,
        "load_avg_at_end": os.getloadavg(),
        "aim_members_per_s": 1700,
    }
    busy_after = procstat.machine_cpu()
    figures["machine_busy_share"] = round(
        (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1e-9), 2
    )
    if check:
        t = time.monotonic()
        ok = subprocess.run([PY, "manage.py", "loyalty_check"], cwd=ROOT, env=env, capture_output=True, text=True)
        figures["loyalty_check"] = ok.returncode == 0 and "consistent" in ok.stdout
        code = "from consent.purposes.selectors import consent_state_mismatches as m; print(len(m()))"
        out = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        figures["consent_state_mismatches"] = int((out.stdout.strip().splitlines() or ["-1"])[-1])
        figures["check_seconds"] = round(time.monotonic() - t)
    return figures


def run(**options) -> dict:
    """Run the benchmark in a fresh interpreter; its figures (for bench/run.py)."""
    args = []
    for key, value in options.items():
        if value is True:
            args.append(f"--{key.replace('_', '-')}")
        elif value is not False:
            args += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run([PY, str(Path(__file__)), *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-4000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", default=DB_NAME, help="PostgreSQL database to recreate (dropped first!)")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--check", action="store_true", help="loyalty_check and consent states afterwards")
    parser.add_argument("--json", help="also write the figures to FILE")
    args = parser.parse_args()
    figures = measure(members=args.members, db=args.db, batch_size=args.batch_size, check=args.check)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
