"""Looking members up by a profile attribute at a million members: the PostgreSQL query plans.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/idp_profile_bench \
        .venv/bin/python bench/profile_attributes.py --members 1000000

Creates the database if it is missing, migrates it, fills it with ``--members`` members (in SQL,
``generate_series``: about a minute for a million on a small machine), each with a realistic
attribute document, then prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the lookups the app makes
(``accounts.profile.selectors.members_with_attribute``) and the sizes of the table and its GIN
index, as Markdown for docs/profile-attributes.md. Run again: the data is reused unless
``--reset`` (which empties the users table of that database). Refuses a database whose name does
not contain "bench".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")

EMAIL = "bench-{}@attributes.example"

# Value mix of the generated documents (by member id): diet vegan ~2 %, vegetarian ~8 %,
# pescatarian ~10 %, anything else; pet cat/dog a third each, hamster 0.1 %; seat, fuel, a date.
FILL_SQL = """
INSERT INTO accounts_memberattributes (user_id, data, skipped, updated)
SELECT u.id,
       jsonb_strip_nulls(jsonb_build_object(
         'diet', CASE WHEN u.id % 50 = 0 THEN 'vegan' WHEN u.id % 50 < 5 THEN 'vegetarian'
                      WHEN u.id % 50 < 10 THEN 'pescatarian' ELSE 'any' END,
         'pet', CASE WHEN u.id % 1000 = 7 THEN 'hamster' WHEN u.id % 3 = 0 THEN 'cat'
                     WHEN u.id % 3 = 1 THEN 'dog' END,
         'seat', CASE WHEN u.id % 4 = 0 THEN NULL WHEN u.id % 2 = 0 THEN 'window' ELSE 'aisle' END,
         'premium_fuel', CASE WHEN u.id % 5 = 0 THEN NULL ELSE (u.id % 7 = 0) END,
         'anniversary', CASE WHEN u.id % 9 = 0 THEN to_char(DATE '2000-01-01' + (u.id % 9000)::int, 'YYYY-MM-DD') END
       )),
       '{}'::jsonb, now()
FROM accounts_user u
WHERE u.email LIKE 'bench-%%@attributes.example'
"""

USERS_SQL = """
INSERT INTO accounts_user (password, is_superuser, sub, email, given_name, family_name, nickname,
                           phone_number, phone_number_verified, address, locale, zoneinfo,
                           is_staff, is_active, date_joined, updated_at)
SELECT '!', false, gen_random_uuid(), 'bench-' || g || '@attributes.example', '', '', '', '', false,
       '{}'::jsonb, '', '', false, true, now(), now()
FROM generate_series(%s, %s) AS g
"""

GIN = "accounts_memberattributes_data_gin"


def _literal(param) -> str:
    """A query parameter as SQL text, for showing the query (psycopg's Jsonb wraps the object)."""
    if hasattr(param, "obj"):
        return "'" + json.dumps(param.obj) + "'::jsonb"
    return repr(param)


def _ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to fill {name!r}: use a database whose name contains 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", file=sys.stderr)


def _fill(cursor, members: int, reset: bool) -> None:
    cursor.execute("SELECT count(*) FROM accounts_user WHERE email LIKE 'bench-%%@attributes.example'")
    (have,) = cursor.fetchone()
    if reset and have:
        # A dedicated bench database: emptying the users table is much faster than deleting rows.
        cursor.execute("TRUNCATE accounts_memberattributes, accounts_user CASCADE")
        have = 0
    cursor.execute("SELECT count(*) FROM accounts_memberattributes")
    (filled,) = cursor.fetchone()
    if have >= members and filled >= members:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {GIN} ON accounts_memberattributes USING gin (data jsonb_path_ops)")
        print(f"reusing {have} bench members", file=sys.stderr)
        return
    started = time.monotonic()
    # A bulk load: build the GIN index once afterwards instead of maintaining it row by row.
    cursor.execute(f"DROP INDEX IF EXISTS {GIN}")
    cursor.execute("DELETE FROM accounts_memberattributes")
    step = 200_000
    for low in range(have + 1, members + 1, step):
        cursor.execute(USERS_SQL, [low, min(low + step - 1, members)])
    cursor.execute(FILL_SQL)
    cursor.execute(f"CREATE INDEX {GIN} ON accounts_memberattributes USING gin (data jsonb_path_ops)")
    cursor.execute("VACUUM ANALYZE accounts_user")
    cursor.execute("VACUUM ANALYZE accounts_memberattributes")
    print(f"filled {members} members in {time.monotonic() - started:.0f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--reset", action="store_true", help="delete and regenerate the bench members")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/idp_profile_bench")
    _ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.profile import selectors

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        _fill(cursor, args.members, args.reset)
        cursor.execute("SELECT count(*) FROM accounts_memberattributes")
        (rows,) = cursor.fetchone()
        cursor.execute(
            "SELECT pg_size_pretty(pg_relation_size('accounts_memberattributes')),"
            f" pg_size_pretty(pg_relation_size('{GIN}')), pg_size_pretty(pg_relation_size('accounts_user'))"
        )
        table_size, index_size, users_size = cursor.fetchone()
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()

    lookups = [
        ("Members with diet = vegan (about 2 %), first page of 50", {"key": "diet", "value": "vegan"}, 50),
        ("Members with pet = hamster (0.1 %), all", {"key": "pet", "value": "hamster"}, None),
        ("Members with premium_fuel = true (about 11 %), first page of 50", {"key": "premium_fuel", "value": True}, 50),
    ]
    print(f"- {version.split(',')[0]}; {rows:,} members with attributes")
    print(f"- accounts_memberattributes: {table_size}; GIN index (jsonb_path_ops): {index_size}; users: {users_size}")
    for title, lookup, limit in lookups:
        queryset = selectors.members_with_attribute(**lookup).order_by("pk").only("pk", "email")
        if limit:
            queryset = queryset[:limit]
        started = time.monotonic()
        found = len(list(queryset))
        elapsed = (time.monotonic() - started) * 1000
        sql, params = queryset.query.sql_with_params()
        print(f"\n### {title}\n")
        print(f"{found} rows in {elapsed:.1f} ms through the ORM (first run after the fill)\n")
        print("```sql")
        print(sql % tuple(_literal(p) for p in params))
        print("```\n\n```")
        print(queryset.explain(analyze=True, buffers=True))
        print("```")
    with connection.cursor() as cursor:
        sql = "SELECT count(*) FROM accounts_memberattributes WHERE data @> %s::jsonb"
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, ['{"diet": "vegan"}'])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print("\n### Counting members with diet = vegan\n\n```sql")
    print(sql.replace("%s", '\'{"diet": "vegan"}\''))
    print("```\n\n```")
    print(plan)
    print("```")


if __name__ == "__main__":
    main()
