"""Loyalty benchmark: earn postings per second (idempotency keys, PostgreSQL) and balance reads.

    .venv/bin/python bench/loyalty.py [--duration 10] [--members 2000] [--workers 4] [--db NAME] [--json FILE]
                                      [--profile PREFIX]

What it does, against 127.0.0.1 only, bounded in time:

1. Recreates the PostgreSQL database ``idp_loyalty_bench`` (or ``--db NAME``), migrates it, and loads one program
   with tiers, ``--members`` members, a partner (client credentials, ``loyalty:earn``) and an RP
   whose member tokens carry ``loyalty``.
2. In-process, through the service layer: ``points_earn`` with a fresh idempotency key each
   time, for ``--duration`` seconds in one thread and then in ``--threads`` threads (each with its
   own connection); balance reads (``selectors.balance_of``) with p50/p99; the statements one earn
   and one balance read send (BEGIN and COMMIT included), and the CPU each costs in Python and in
   its PostgreSQL backend. Then the same two requests through ``idp.wsgi.application`` called in
   this process (no server, no load generator): CPU and statements per request, the figures that
   a shared machine does not blur (``--profile PREFIX`` also writes cProfile statistics).
3. Over HTTP: gunicorn serving idp.wsgi (``--workers`` sync workers, the production settings),
   driven by wrk: ``POST /api/v1/loyalty/programs/bench/earn`` with a new key and a random member
   per request, and ``GET /api/v1/loyalty/programs/bench/me`` with rotating member tokens.
   The balance reads are measured again from two connections: the latency of a read, not of a queue.
4. Runs ``manage.py loyalty_check`` on the result: the figures only count if the ledger adds up.

The machine may be shared: the load average at the start and at the end is part of the figures.

``run(**options) -> dict`` runs the same in a subprocess and returns the figures (for bench/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
DB_NAME = "idp_loyalty_bench"  # the default; --db NAME picks another (one per agent on a shared machine)
PG = "postgres://postgres@127.0.0.1:5432"
AIMS = {"http_earn_per_s": 2000.0, "http_balance_p99_ms": 5.0}

EARN_LUA = (
    r"""
local members = {}
for n in (os.getenv("BENCH_MEMBERS") or ""):gmatch("%S+") do table.insert(members, n) end
local threads, counter = {}, 0
function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end
local headers = {["Authorization"] = os.getenv("BENCH_AUTH"), ["Content-Type"] = "application/json"}
local run = os.getenv("BENCH_RUN")
local n = 0
bad = 0
function init(args) math.randomseed(os.time() + (id or 0) * 7919) end
function request()
   n = n + 1
   headers["Idempotency-Key"] = run .. "-" .. id .. "-" .. n
   local body = '{"member_number":"' .. members[math.random(#members)] .. '","points":' .. math.random(1, 500) ..
      ',"reference":"B-' .. id .. "-" .. n .. '"}'
   return wrk.format("POST", os.getenv("BENCH_PATH"), headers, body)
end
function response(status, h, body)
   if status ~= 201 then bad = bad + 1; sample = status .. " " .. body:sub(1, 200) end
end
"""
    + r"""
function done(summary, latency, requests)
   local b, samples = 0, {}
   for _, t in ipairs(threads) do
      b = b + (t:get("bad") or 0)
      local s = t:get("sample")
      if s then table.insert(samples, s) end
   end
   local e = summary.errors
   io.write(string.format('BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"errors": %d, "bad": %d, "sample": %q}\n', summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout, b,
      samples[1] or ""))
end
"""
)


def _read_lua() -> str:
    head = EARN_LUA.split("local headers")[0].replace('os.getenv("BENCH_MEMBERS")', 'os.getenv("BENCH_TOKENS")')
    done = "function done" + EARN_LUA.split("function done", 1)[1]
    return (
        head
        + r"""
bad = 0
function init(args) math.randomseed(os.time() + (id or 0) * 104729) end
function request()
   return wrk.format("GET", os.getenv("BENCH_PATH"), {["Authorization"] = "Bearer " .. members[math.random(#members)]})
end
function response(status, h, body)
   if status ~= 200 then bad = bad + 1; sample = status .. " " .. body:sub(1, 200) end
end
"""
        + done
    )


def log(msg: str) -> None:
    print(f"[loyalty bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def server_env() -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG}/{DB_NAME}",
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        SECURE_COOKIES="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="idp.settings",
        PYTHONPATH=str(ROOT),
    )
    env.pop("DEBUG", None)
    return env


def recreate_database(env: dict) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([PY, "-m", "idp.bootstrap"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def load_data(members: int) -> dict:
    """Program, members, a partner and member tokens, written straight through the ORM (fast)."""
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    from accounts.models import User
    from idp.models import Client
    from loyalty.models import Membership, Program, ProgramClient, Tier
    from loyalty.numbers import new_member_number

    program = Program.objects.create(slug="bench", name="Bench Miles", redeem_max_per_day=0)
    for code, low in (("blue", 0), ("silver", 10_000), ("gold", 50_000)):
        Tier.objects.create(program=program, code=code, name=code.title(), min_points=low)
    base = program.tiers.get(code="blue")
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"bench{i}@example.com", password=password) for i in range(members)], batch_size=1000
    )
    numbers = set()
    while len(numbers) < members:
        numbers.add(new_member_number())
    memberships = Membership.objects.bulk_create(
        [
            Membership(program=program, user=u, member_number=n, tier=base)
            for u, n in zip(users, sorted(numbers), strict=True)
        ],
        batch_size=1000,
    )
    partner = Client.objects.create(
        client_id="bench-partner",
        name="Bench partner",
        client_type=Client.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
        client_secret=secrets.token_urlsafe(32),
    )
    rp = Client.objects.create(
        client_id="bench-rp",
        name="Bench RP",
        client_type=Client.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://rp.example/cb",
        client_secret=secrets.token_urlsafe(32),
    )
    ProgramClient.objects.create(program=program, client=partner)
    ProgramClient.objects.create(program=program, client=rp)
    expires = timezone.now() + timedelta(hours=2)
    Token = get_access_token_model()
    partner_token = secrets.token_urlsafe(32)
    Token.objects.create(application=partner, token=partner_token, scope="loyalty:earn", expires=expires)
    member_tokens = []
    for u in users[:200]:
        raw = secrets.token_urlsafe(32)
        Token.objects.create(user=u, application=rp, token=raw, scope="openid loyalty", expires=expires)
        member_tokens.append(raw)
    return {
        "program": program.pk,
        "partner": partner.pk,
        "partner_token": partner_token,
        "member_tokens": member_tokens,
        "numbers": [m.member_number for m in memberships],
        "user_ids": [u.pk for u in users],
    }


def _percentile(values: list[float], pct: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * pct / 100))]


def _backend_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (from /proc; local server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def inprocess(data: dict, duration: float, threads: int) -> dict:
    import random

    from django.db import connections

    from idp.models import Client
    from loyalty import selectors, services
    from loyalty.models import Program

    program = Program.objects.get(pk=data["program"])
    partner = Client.objects.get(pk=data["partner"])
    run = secrets.token_hex(4)

    def earn_loop(tag: str, seconds: float) -> int:
        rng = random.Random(tag)
        done = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            number = rng.choice(data["numbers"])
            body = {"member_number": number, "points": rng.randint(1, 500)}
            services.points_earn(
                program=program,
                client=partner,
                member_number=number,
                points=body["points"],
                idempotency_key=f"{run}-{tag}-{done}",
                fingerprint=services.request_hash("earn", body),
            )
            done += 1
        return done

    earn_loop("warm", 1)
    # Statements per operation (one earn, one balance read), as the tests pin them.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as earn_q:
        number = data["numbers"][0]
        services.points_earn(
            program=program,
            client=partner,
            member_number=number,
            points=1,
            idempotency_key=f"{run}-count",
            fingerprint=services.request_hash("earn", {"member_number": number, "points": 1}),
        )
    with CaptureQueriesContext(connection) as read_q:
        selectors.balance_of(user=data["user_ids"][0], program=program)
    start, cpu, db_cpu = time.perf_counter(), time.process_time(), _backend_cpu()
    done = earn_loop("one", duration)
    single = done / (time.perf_counter() - start)
    # CPU per posting, Python and PostgreSQL: what the machine's cores could sustain if nothing
    # else ran (this machine is shared, so the wall-clock rates above undersell it).
    py_ms = (time.process_time() - cpu) / done * 1000
    db_ms = (_backend_cpu() - db_cpu) / done * 1000

    counts = [0] * threads

    def worker(i: int) -> None:
        counts[i] = earn_loop(f"t{i}", duration)
        connections.close_all()

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    multi = sum(counts) / (time.perf_counter() - start)

    rng = random.Random(1)
    latencies = []
    end = time.perf_counter() + min(duration, 5)
    cpu, db_cpu = time.process_time(), _backend_cpu()
    while time.perf_counter() < end:
        uid = rng.choice(data["user_ids"])
        t0 = time.perf_counter()
        selectors.balance_of(user=uid, program=program)
        latencies.append((time.perf_counter() - t0) * 1000)
    read_cpu_ms = ((time.process_time() - cpu) + (_backend_cpu() - db_cpu)) / len(latencies) * 1000
    cores = len(os.sched_getaffinity(0))
    return {
        "service_earn_statements": len(earn_q.captured_queries),
        "service_balance_statements": len(read_q.captured_queries),
        "service_earn_cpu_ms_python": round(py_ms, 3),
        "service_earn_cpu_ms_postgres": round(db_ms, 3),
        "service_earn_ceiling_per_s": round(cores * 1000 / (py_ms + db_ms), 1),
        "service_balance_cpu_ms": round(read_cpu_ms, 3),
        "service_earn_per_s_1thread": round(single, 1),
        f"service_earn_per_s_{threads}threads": round(multi, 1),
        "service_balance_reads_per_s": round(len(latencies) / sum(latencies) * 1000, 1),
        "service_balance_p50_ms": round(statistics.median(latencies), 3),
        "service_balance_p99_ms": round(_percentile(latencies, 99), 3),
    }


def _wsgi_call(app, method: str, path: str, *, headers: dict, body: bytes = b"", query: str = "") -> tuple[int, bytes]:
    import io

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"] = int(status.split()[0])

    chunks = app(environ, start_response)
    content = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return captured["status"], content


def wsgi_inprocess(data: dict, duration: float, profile: str | None = None) -> dict:
    """The HTTP requests without HTTP: ``idp.wsgi.application`` called in this process, one thread.

    CPU per request (this process's Python, and its PostgreSQL backend) and statements per request:
    what a gunicorn worker spends on an earn and a balance read, without the noise of a shared
    machine's wall clock, the server loop and the load generator.
    """
    import random

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from idp.wsgi import application

    run = secrets.token_hex(4)
    rng = random.Random(run)
    partner = {"HTTP_AUTHORIZATION": f"Bearer {data['partner_token']}", "CONTENT_TYPE": "application/json"}
    earn_path = "/api/v1/loyalty/programs/bench/earn"
    me_path = "/api/v1/loyalty/programs/bench/me"
    counter = [0]

    def earn() -> None:
        counter[0] += 1
        n = counter[0]
        body = json.dumps(
            {"member_number": rng.choice(data["numbers"]), "points": rng.randint(1, 500), "reference": f"W-{n}"}
        ).encode()
        status, content = _wsgi_call(
            application, "POST", earn_path, headers={**partner, "HTTP_IDEMPOTENCY_KEY": f"{run}-{n}"}, body=body
        )
        if status != 201:
            raise RuntimeError(f"earn: {status} {content[:300]!r}")

    def balance() -> None:
        token = rng.choice(data["member_tokens"])
        status, content = _wsgi_call(
            application, "GET", me_path, headers={"HTTP_AUTHORIZATION": f"Bearer {token}"}, query="expiring=0"
        )
        if status != 200:
            raise RuntimeError(f"balance: {status} {content[:300]!r}")

    results: dict = {}
    for name, op in (("earn", earn), ("balance", balance)):
        for _ in range(50):
            op()  # warm: caches, connection, translations
        with CaptureQueriesContext(connection) as queries:
            op()
        results[f"wsgi_{name}_statements"] = len(queries.captured_queries)
        done, end = 0, time.perf_counter() + duration
        cpu, db_cpu = time.process_time(), _backend_cpu()
        while time.perf_counter() < end:
            op()
            done += 1
        results[f"wsgi_{name}_cpu_ms_python"] = round((time.process_time() - cpu) / done * 1000, 3)
        results[f"wsgi_{name}_cpu_ms_postgres"] = round((_backend_cpu() - db_cpu) / done * 1000, 3)
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(500):
                op()
            profiler.disable()
            path = f"{profile}.{name}.pstats"
            profiler.dump_stats(path)
            log(f"profile of 500 {name} requests: {path}")
            pstats.Stats(path, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, workers: int, port: int, logfile: Path) -> subprocess.Popen:
    cmd = [
        str(Path(PY).parent / "gunicorn"),
        "idp.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        "--no-control-socket",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logfile.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {logfile}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not answer /healthz")


def run_wrk(script: str, url: str, env: dict, duration: float, conns: int, workdir: Path) -> dict:
    path = workdir / f"s{secrets.token_hex(3)}.lua"
    path.write_text(script)
    cmd = ["wrk", "-t", "2", "-c", str(conns), "-d", f"{int(duration)}s", "--timeout", "10s", "-s", str(path), url]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    r = json.loads(line[len("BENCH_RESULT ") :])
    ok = r["requests"] - r["bad"]
    return {
        "rate": round(ok / (r["duration_us"] / 1e6), 1),
        "p50_ms": round(r["p50_us"] / 1000, 2),
        "p99_ms": round(r["p99_us"] / 1000, 2),
        "errors": r["errors"] + r["bad"],
        "sample_error": r["sample"],
    }


def http(data: dict, env: dict, duration: float, workers: int, conns: int) -> dict:
    if not shutil.which("wrk"):
        log("wrk is not installed: skipping the HTTP figures")
        return {}
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="loyalty-bench-") as tmp:
        workdir = Path(tmp)
        proc = start_gunicorn(env, workers, port, workdir / "gunicorn.log")
        try:
            base = f"http://127.0.0.1:{port}"
            earn_env = dict(
                os.environ,
                BENCH_MEMBERS=" ".join(data["numbers"]),
                BENCH_AUTH=f"Bearer {data['partner_token']}",
                BENCH_PATH="/api/v1/loyalty/programs/bench/earn",
            )
            run_wrk(EARN_LUA, base + "/", {**earn_env, "BENCH_RUN": "warm"}, 2, conns, workdir)
            earn = run_wrk(
                EARN_LUA, base + "/", {**earn_env, "BENCH_RUN": secrets.token_hex(4)}, duration, conns, workdir
            )
            read_env = dict(
                os.environ,
                BENCH_TOKENS=" ".join(data["member_tokens"]),
                BENCH_PATH="/api/v1/loyalty/programs/bench/me?expiring=0",
            )
            run_wrk(_read_lua(), base + "/", read_env, 2, conns, workdir)
            read = run_wrk(_read_lua(), base + "/", read_env, duration, conns, workdir)
            # The same reads from two connections: the latency of a read itself, not of a queue.
            light = run_wrk(_read_lua(), base + "/", read_env, min(duration, 5), 2, workdir)
            healthz = run_wrk(
                _read_lua(), base + "/", {**read_env, "BENCH_PATH": "/healthz"}, min(duration, 5), conns, workdir
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {
        "http_earn_per_s": earn["rate"],
        "http_earn_p50_ms": earn["p50_ms"],
        "http_earn_p99_ms": earn["p99_ms"],
        "http_earn_errors": earn["errors"],
        "http_balance_reads_per_s": read["rate"],
        "http_balance_p50_ms": read["p50_ms"],
        "http_balance_p99_ms": read["p99_ms"],
        "http_balance_errors": read["errors"],
        "http_balance_2conns_per_s": light["rate"],
        "http_balance_2conns_p50_ms": light["p50_ms"],
        "http_balance_2conns_p99_ms": light["p99_ms"],
        "http_healthz_per_s": healthz["rate"],
        "http_config": f"gunicorn sync x{workers}, wrk 2 threads x {conns} connections",
        **(
            {"http_error_sample": earn["sample_error"] or read["sample_error"] or light["sample_error"]}
            if earn["errors"] or read["errors"] or light["errors"]
            else {}
        ),
    }


def measure(
    duration: float = 10,
    members: int = 2000,
    workers: int = 4,
    threads: int = 4,
    conns: int = 16,
    http_too: bool = True,
    db: str | None = None,
    profile: str | None = None,
) -> dict:
    """Everything above, in this process (it configures Django for the bench database)."""
    global DB_NAME
    if db:
        if not db.replace("_", "").isalnum():
            raise SystemExit(f"--db: not a plain database name: {db!r}")
        DB_NAME = db
    env = server_env()
    log(f"recreating {DB_NAME}, migrating")
    recreate_database(env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECURE_COOKIES")})
    os.environ["CONN_MAX_AGE"] = "600"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    log(f"loading {members} members")
    data = load_data(members)
    results: dict = {
        "database": DB_NAME,
        "members": members,
        "duration_s": duration,
        "cpus": len(os.sched_getaffinity(0)),
        "load_avg_at_start": os.getloadavg(),  # the machine is shared: read the figures against it
    }
    log("service layer, in-process")
    results.update(inprocess(data, duration, threads))
    log("the WSGI application, in-process (CPU and statements per request)")
    results.update(wsgi_inprocess(data, duration, profile))
    connections.close_all()
    if http_too:
        log(f"HTTP through gunicorn ({workers} sync workers) and wrk")
        results.update(http(data, env, duration, workers, conns))
    from loyalty.models import LedgerEntry

    results["load_avg_at_end"] = os.getloadavg()
    results["entries_posted"] = LedgerEntry.objects.count()
    call_command("loyalty_check", verbosity=0)  # raises if the ledger does not add up
    results["ledger_consistent"] = True
    results["aims"] = AIMS
    return results


def run(**options) -> dict:
    """Run the benchmark in a fresh interpreter (it needs its own Django settings); its figures."""
    args = []
    for key, value in options.items():
        if value is False:
            args.append("--no-http") if key == "http_too" else None
        elif value is not True:
            args += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run([PY, str(Path(__file__)), "--json", "-", *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-4000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])  # the figures are the last line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=4, help="in-process posting threads")
    parser.add_argument("--conns", type=int, default=16, help="wrk connections")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--db", default=DB_NAME, help="PostgreSQL database to recreate (dropped first!)")
    parser.add_argument("--profile", help="also cProfile 500 in-process requests of each kind into PREFIX.*.pstats")
    parser.add_argument("--json", help="write the figures as JSON to FILE ('-' for stdout only)")
    args = parser.parse_args()
    results = measure(
        duration=args.duration,
        members=args.members,
        workers=args.workers,
        threads=args.threads,
        conns=args.conns,
        http_too=not args.no_http,
        db=args.db,
        profile=args.profile,
    )
    if args.json == "-":
        print(json.dumps(results))
        return
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
