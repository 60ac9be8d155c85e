"""CPU time and SQL statements per grant through the real WSGI application, in one process.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/wsgi_profile.py --creds creds.json \
        [--scenario client_credentials|refresh] [--n 500] [--profile] [--top 40]

Unlike bench/inprocess.py (Django's test client, the browser middleware for every path), this
calls ``idp.wsgi.application`` (the ``Dispatcher`` gunicorn serves) with a WSGI environ, so the
figures are the application's share of a grant under gunicorn, without the HTTP parsing. The
statements are counted with ``connection.execute_wrapper`` (transaction statements are not
statements Django executes through it: BEGIN/COMMIT are counted separately from the
connection's autocommit switches). Needs bench/setup_data.py's credentials.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(os.environ.get("BENCH_APP_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")


def basic(client: dict) -> str:
    return "Basic " + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()


def environ(path: str, body: bytes, auth: str) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": auth,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


class Counter:
    def __init__(self):
        self.n = 0
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        self.sql.append(sql[:150])
        return execute(sql, params, many, context)


def _backend_cpu(connection) -> float:
    """CPU seconds of this connection's PostgreSQL backend (same machine), from /proc."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creds", required=True)
    parser.add_argument("--scenario", choices=["client_credentials", "refresh"], default="refresh")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--sort", default="cumulative")
    args = parser.parse_args()

    from idp.wsgi import application  # noqa: E402  (sets Django up)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from django.db import connection
    from inprocess import Flows  # the test client only to make the first refresh token (a login)

    creds = json.load(open(args.creds))
    state: dict = {}

    def call(path: str, data: dict, auth: str) -> dict:
        out: dict = {}

        def start_response(status, headers, exc_info=None):
            out["status"] = status

        body = b"".join(application(environ(path, urlencode(data).encode(), auth), start_response))
        assert out["status"].startswith("200"), (out["status"], body)
        return json.loads(body)

    if args.scenario == "client_credentials":
        cc = creds["cc"]
        auth = basic(cc)

        def op():
            call("/token", {"grant_type": "client_credentials", "scope": cc["scope"]}, auth)

    else:
        state["rt"] = Flows(creds).login()["refresh_token"]
        auth = basic(creds["web"])

        def op():
            state["rt"] = call("/token", {"grant_type": "refresh_token", "refresh_token": state["rt"]}, auth)[
                "refresh_token"
            ]

    for _ in range(20):
        op()
    counter = Counter()
    with connection.execute_wrapper(counter):
        op()
    best = float("inf")
    size = max(1, args.n // 5)
    pg_best = float("inf")
    for _ in range(5):
        pg = _backend_cpu(connection)
        t = time.process_time()
        for _ in range(size):
            op()
        best = min(best, (time.process_time() - t) / size)
        pg_best = min(pg_best, (_backend_cpu(connection) - pg) / size)
    print(
        f"{args.scenario}: {best * 1000:.3f} ms CPU/op, PostgreSQL backend {pg_best * 1000:.3f} ms/op "
        f"(cheapest of 5 batches of {size}); {counter.n} statements:"
    )
    for s in counter.sql:
        print("   ", s)
    if args.profile:
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        for _ in range(args.n):
            op()
        prof.disable()
        s = io.StringIO()
        st = pstats.Stats(prof, stream=s)
        print(f"profiled: {st.total_tt / args.n * 1000:.3f} ms/op")
        st.sort_stats(args.sort).print_stats(args.top)
        print(s.getvalue())


if __name__ == "__main__":
    main()
