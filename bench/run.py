"""`make bench`: throughput, latency and CPU per operation of the production set-up.

What it does, all against 127.0.0.1 only and bounded in time and count:

1. Recreates the database ``idp_bench`` on the local PostgreSQL, migrates it and loads the
   bench clients and users (bench/setup_data.py); empties Redis database 13.
2. For each gunicorn configuration (``--configs``): starts gunicorn serving idp.wsgi with
   the production environment, waits for /healthz, warms up, then runs
     healthz  GET /healthz: the floor of the stack (wrk, bench/wrk/healthz.lua)
     cc       POST /token grant_type=client_credentials (wrk, bench/wrk/client_credentials.lua)
     refresh  POST /token grant_type=refresh_token, each wrk thread chaining its rotated
              refresh token (bench/wrk/refresh.lua)
     login    the full authorization-code login with PKCE through the hosted login form,
              a fresh cookie jar per iteration (bench/loadgen.py, Python processes)
   and reads the CPU time of the gunicorn master and workers, PostgreSQL, Redis, the load
   generator and the whole machine from /proc before and after each scenario.
3. Measures in-process (bench/inprocess.py): one Argon2id check, one client secret check,
   one RS256 signature, SQL queries per request, and a cProfile of each scenario.
4. Unless --no-loyalty, the loyalty ledger (bench/loyalty.py); unless --import-members 0, the
   member import with 20,000 members (bench/import_members.py, its own database).
5. Prints the results and writes them into docs/benchmarks.md between the markers.

Usage: .venv/bin/python bench/run.py [--duration 15] [--configs sync:4 sync:8 gthread:2x4]
           [--tree worktree|REV] [--pyspy refresh] [--no-doc] [--json FILE]
An experiment (another settings module for the server): --settings MODULE --no-doc.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# The tree whose code is measured: the working tree, or a git export (--tree REV), see main().
APP = {"root": ROOT, "label": "working tree"}
sys.path.insert(0, str(BENCH))

import procstat  # noqa: E402

PY = sys.executable
NPROC = len(os.sched_getaffinity(0))
# BENCH_DB_NAME / BENCH_REDIS_URL let two checkouts on one machine bench without sharing them.
DB_NAME = os.environ.get("BENCH_DB_NAME", "idp_bench")
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin (written by bench/run.py) -->", "<!-- bench:end -->"

SCENARIOS = {
    "healthz": "GET /healthz (floor: middleware + SELECT 1)",
    "cc": "client-credentials grant",
    "refresh": "refresh grant (rotating)",
    "login": "authorization-code login",
}
AIMS = {"cc": 1000.0, "refresh": 600.0}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def server_env(settings_module: str = "idp.settings") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "SECURE_COOKIES": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": f"{APP['root']}{os.pathsep}{ROOT}",
            "BENCH_APP_ROOT": str(APP["root"]),
        }
    )
    env.pop("DEBUG", None)
    return env


# --- set-up ------------------------------------------------------------------------------------------
def ensure_wrk() -> str | None:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        cmd = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = shutil.which("wrk")
    if not path:
        log("wrk unavailable: the grant scenarios fall back to the Python load generator")
    return path


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def prepare_tree(tree: str, workdir: Path) -> str:
    """Point APP at the code to measure and describe it for the report."""
    if tree == "worktree":
        head = git("rev-parse", "--short", "HEAD")
        dirty = [ln for ln in git("status", "--porcelain").splitlines() if not ln[3:].startswith(("bench/", "docs/"))]
        return f"working tree at {head}" + (f" with {len(dirty)} uncommitted paths" if dirty else "")
    rev = git("rev-parse", "--short", tree)
    src = workdir / "src"
    src.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    APP["root"] = src
    return f"commit {rev} (git export)"


def check_services() -> None:
    for port, name in ((5432, "PostgreSQL"), (6379, "Redis")):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            sys.exit(f"{name} is not listening on 127.0.0.1:{port}")


def recreate_database(env: dict, users: int, workdir: Path) -> dict:
    import psycopg
    import redis

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    subprocess.run([PY, "-m", "idp.bootstrap"], cwd=APP["root"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [PY, "manage.py", "migrate", "--noinput"],
        cwd=APP["root"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    creds = json.loads(run_script("setup_data.py", ["--users", str(users)], env))
    (workdir / "creds.json").write_text(json.dumps(creds))
    return creds


def run_script(name: str, args: list[str], env: dict, timeout: float = 900) -> str:
    """Run bench/NAME with the server's environment in the measured tree; its stdout."""
    proc = subprocess.run(
        [PY, str(BENCH / name), *args],
        cwd=APP["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"bench/{name} {' '.join(args)} exited with {proc.returncode}")
    return proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- gunicorn ----------------------------------------------------------------------------------------
def parse_config(spec: str) -> dict:
    """``sync:4`` (4 sync workers) or ``gthread:2x4`` (2 workers with 4 threads each)."""
    kind, _, size = spec.partition(":")
    if kind == "sync":
        return {"name": spec, "worker_class": "sync", "workers": int(size or 4), "threads": 1}
    if kind == "gthread":
        w, _, t = (size or "2x4").partition("x")
        return {"name": spec, "worker_class": "gthread", "workers": int(w), "threads": int(t or 4)}
    raise ValueError(f"unknown gunicorn config {spec!r}")


def gunicorn_cmd(cfg: dict, port: int) -> list[str]:
    cmd = [
        str(Path(PY).parent / "gunicorn"),
        "idp.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        cfg["worker_class"],
        "--workers",
        str(cfg["workers"]),
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--log-level",
        "warning",
        "--no-control-socket",
    ]
    if cfg["worker_class"] == "gthread":
        cmd += ["--threads", str(cfg["threads"])]
    return cmd


def start_gunicorn(cfg: dict, port: int, env: dict, workdir: Path) -> subprocess.Popen:
    logf = open(workdir / f"gunicorn-{cfg['name'].replace(':', '-')}.log", "w")
    proc = subprocess.Popen(gunicorn_cmd(cfg, port), cwd=APP["root"], env=env, stdout=logf, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}; see {logf.name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    stop_gunicorn(proc)
    sys.exit("gunicorn did not answer /healthz within 60 s")


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- load ----------------------------------------------------------------------------------------------
def basic(client: dict) -> str:
    return "Basic " + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()


def run_loadgen(scenario: str, port: int, workdir: Path, procs: int, duration: float, max_ops: int, extra=()) -> dict:
    out = workdir / f"loadgen-{scenario}.json"
    cmd = [
        PY,
        str(BENCH / "loadgen.py"),
        "--scenario",
        scenario,
        "--port",
        str(port),
        "--creds",
        str(workdir / "creds.json"),
        "--procs",
        str(procs),
        "--duration",
        str(duration),
        "--max-ops",
        str(max_ops),
        "--out",
        str(out),
        *extra,
    ]
    subprocess.run(cmd, check=True, timeout=duration + 120)
    return json.loads(out.read_text())


def run_wrk(
    wrk: str,
    scenario: str,
    port: int,
    creds: dict,
    threads: int,
    conns: int,
    duration: float,
    seeds: list[str] | None = None,
) -> dict:
    env = dict(os.environ, BENCH_LUA_DIR=str(BENCH / "wrk"))
    if scenario == "healthz":
        script = BENCH / "wrk" / "healthz.lua"
    elif scenario == "cc":
        script = BENCH / "wrk" / "client_credentials.lua"
        env.update(BENCH_AUTH=basic(creds["cc"]), BENCH_SCOPE=creds["cc"]["scope"])
    else:
        script = BENCH / "wrk" / "refresh.lua"
        env.update(BENCH_AUTH=basic(creds["web"]), BENCH_REFRESH_TOKENS=" ".join(seeds or []))
    cmd = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(conns),
        "-d",
        f"{int(duration)}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/" + ("healthz" if scenario == "healthz" else "token"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    r = json.loads(line[len("BENCH_RESULT ") :])
    errors = sum(r[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    elapsed = r["duration_us"] / 1e6
    return {
        "client": "wrk",
        "ops": r["requests"] - r["status_errors"],
        "elapsed": elapsed,
        "rate": (r["requests"] - r["status_errors"]) / elapsed,
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": errors + r["bad_bodies"],
        "error_samples": {r["sample"]: 1} if r["sample"] else {},
        "concurrency": conns,
        "wrk_threads": threads,
    }


def measured(gunicorn_pid: int, fn) -> dict:
    before = procstat.snapshot(gunicorn_pid, DB_NAME)
    result = fn()
    after = procstat.snapshot(gunicorn_pid, DB_NAME)
    cpu = procstat.delta(before, after)
    ops = max(result["ops"], 1)
    accounted = cpu["gunicorn"] + cpu["postgres"] + cpu["redis"] + cpu["client"]
    result["cpu"] = cpu
    result["cpu_ms_per_op"] = {k: cpu[k] / ops * 1000 for k in ("gunicorn", "postgres", "redis", "client")}
    result["machine_busy_pct"] = 100 * cpu["machine_busy"] / cpu["machine_total"] if cpu["machine_total"] else 0
    result["client_share_pct"] = 100 * cpu["client"] / cpu["machine_busy"] if cpu["machine_busy"] else 0
    result["other_cpu_s"] = max(0.0, cpu["machine_busy"] - accounted)
    server = sum(result["cpu_ms_per_op"][k] for k in ("gunicorn", "postgres", "redis"))
    # What the machine's cores could sustain if the server side (gunicorn + PostgreSQL + Redis)
    # had them all: less sensitive to other jobs on the machine than the measured rate.
    result["ceiling_per_s"] = NPROC * 1000 / server if server else 0.0
    return result


def pyspy_record(gunicorn_pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    pyspy = Path(PY).parent / "py-spy"
    if not pyspy.exists():
        return None
    cmd = [
        str(pyspy),
        "record",
        "--pid",
        str(gunicorn_pid),
        "--subprocesses",
        "--duration",
        str(int(seconds)),
        "--rate",
        "100",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
        "--gil",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise_pyspy(path: Path, top: int = 60) -> dict:
    """Self and inclusive sample shares from py-spy's collapsed stacks, request frames only."""
    self_c: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        if not any("handle_request" in f for f in frames):
            continue  # idle workers waiting in accept()/select()
        count = int(n)
        total += count
        leaf = frames[-1]
        self_c[leaf] = self_c.get(leaf, 0) + count
        for f in set(frames):
            incl[f] = incl.get(f, 0) + count

    def rows(counter):
        return [{"frame": f, "pct": 100 * c / total} for f, c in sorted(counter.items(), key=lambda kv: -kv[1])[:top]]

    return {"samples": total, "self": rows(self_c), "inclusive": rows(incl)}


def run_config(cfg: dict, args, wrk: str | None, env: dict, workdir: Path) -> dict:
    log(f"== gunicorn {cfg['name']}: fresh database {DB_NAME}, migrate, bench data")
    creds = recreate_database(env, args.users, workdir)
    port = args.port or free_port()
    proc = start_gunicorn(cfg, port, env, workdir)
    results: dict = {"config": cfg, "command": " ".join(gunicorn_cmd(cfg, port)).replace(str(ROOT) + "/", "")}
    try:
        log(f"gunicorn pid {proc.pid} on 127.0.0.1:{port}; warm-up")
        seeds_file = workdir / "refresh-seeds.txt"
        run_loadgen(
            "login",
            port,
            workdir,
            args.refresh_conns,
            60,
            args.refresh_conns,
            ["--emit-refresh-tokens", str(seeds_file)],
        )
        run_loadgen("cc", port, workdir, 4, 3, 400)
        seeds = seeds_file.read_text().split()

        def one(scenario: str) -> dict:
            spy = None
            if args.pyspy and scenario in args.pyspy:
                spy = pyspy_record(proc.pid, max(1, args.duration - 2), workdir / f"pyspy-{scenario}.txt")
            if scenario == "healthz":
                if not wrk:
                    return {}
                r = measured(
                    proc.pid,
                    lambda: run_wrk(wrk, "healthz", port, creds, args.wrk_threads, args.cc_conns, args.duration),
                )
            elif scenario == "cc":
                if wrk:
                    r = measured(
                        proc.pid,
                        lambda: run_wrk(wrk, "cc", port, creds, args.wrk_threads, args.cc_conns, args.duration),
                    )
                else:
                    r = measured(
                        proc.pid,
                        lambda: run_loadgen("cc", port, workdir, args.cc_conns, args.duration, args.max_ops),
                    )
            elif scenario == "refresh":
                if wrk:
                    r = measured(
                        proc.pid,
                        lambda: run_wrk(
                            wrk,
                            "refresh",
                            port,
                            creds,
                            args.refresh_conns,
                            args.refresh_conns,
                            args.duration,
                            seeds,
                        ),
                    )
                else:
                    r = measured(
                        proc.pid,
                        lambda: run_loadgen(
                            "refresh",
                            port,
                            workdir,
                            args.refresh_conns,
                            args.duration,
                            args.max_ops,
                            ["--refresh-tokens", str(seeds_file)],
                        ),
                    )
            else:
                r = measured(
                    proc.pid,
                    lambda: run_loadgen("login", port, workdir, args.login_procs, args.duration, args.max_ops),
                )
            if spy is not None:
                spy.wait(timeout=60)
                out = workdir / f"pyspy-{scenario}.txt"
                if out.exists():
                    r["pyspy"] = summarise_pyspy(out)
            return r

        for scenario in args.scenarios:
            log(f"{scenario}: {SCENARIOS[scenario]}, {args.duration:g} s")
            r = one(scenario)
            if not r:
                continue
            results[scenario] = r
            log(
                f"{scenario}: {r['rate']:.1f}/s  p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  "
                f"server CPU {r['cpu_ms_per_op']['gunicorn']:.2f} ms/op  "
                f"postgres {r['cpu_ms_per_op']['postgres']:.2f}  "
                f"client {r['cpu_ms_per_op']['client']:.2f} ({r['client_share_pct']:.0f}% of busy CPU)  "
                f"machine busy {r['machine_busy_pct']:.0f}%  errors {r['errors']}"
            )
            if r["errors"]:
                log(f"   error samples: {r['error_samples']}")
            time.sleep(1)
    finally:
        stop_gunicorn(proc)
    return results


def run_inprocess(env: dict, workdir: Path, profile: str | None, quick: bool) -> dict:
    creds = ["--creds", str(workdir / "creds.json")]
    result = json.loads(
        run_script("inprocess.py", creds + (["--n-fast", "50", "--n-login", "5"] if quick else []), env)
    )
    result["profiles"] = {}
    for scenario in ["client_credentials", "refresh", "login"] if profile == "all" else [profile] if profile else []:
        n = (20 if scenario == "login" else 200) // (4 if quick else 1)
        args = [*creds, "--skip", "primitives", "scenarios", "--profile", scenario, "--profile-n", str(n)]
        out = run_script("inprocess.py", args, env)
        result["profiles"][scenario] = json.loads(out)["profile"]
    return result


# --- report ------------------------------------------------------------------------------------------
def fmt(x: float, nd: int = 1) -> str:
    return f"{x:,.{nd}f}"


def _row(config: str, scenario: str, r: dict) -> str:
    c = r["cpu_ms_per_op"]
    cells = [
        config,
        scenario,
        f"{r['client']}, {r['concurrency']}",
        f"{r['ops']:,}",
        f"**{fmt(r['rate'])}**",
        fmt(r["p50_ms"]),
        fmt(r["p99_ms"]),
        fmt(c["gunicorn"], 2),
        fmt(c["postgres"], 2),
        fmt(c["redis"], 2),
        f"{fmt(c['client'], 2)} ({fmt(r['client_share_pct'], 0)}%)",
        f"{fmt(r['machine_busy_pct'], 0)}%",
        fmt(r["other_cpu_s"]),
        fmt(r["ceiling_per_s"], 0),
        str(r["errors"]),
    ]
    return "| " + " | ".join(cells) + " |"


def render(report: dict) -> str:
    m = report["machine"]
    lines = [
        BEGIN,
        "",
        f"**Run of {report['date']}** on {m['nproc']} cores ({m['cpu']}), {m['python']}, "
        f"PostgreSQL and Redis on the same machine. Code measured: {report.get('code', 'working tree')}.",
        "",
        f"Command: `{report['command']}` ({report['duration']:g} s per scenario; "
        f"gunicorn started as `{report['configs'][0]['command']}` and the other configurations below).",
        "",
        "| gunicorn | scenario | client, concurrency | ops | rate /s | p50 ms | p99 ms "
        "| gunicorn CPU ms/op | PostgreSQL ms/op | Redis ms/op | client ms/op (share) "
        "| machine busy | others' CPU s | server CPU ceiling /s | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for res in report["configs"]:
        for sc in SCENARIOS:
            r = res.get(sc)
            if r:
                lines.append(_row(res["config"]["name"], SCENARIOS[sc], r))
    lines += [
        "",
        "Best rate per scenario against the aims of the issue:",
        "",
        "| scenario | best rate /s | gunicorn config | server CPU ceiling /s | aim | met |",
        "|---|---:|---|---:|---|---|",
    ]
    for sc in ("cc", "refresh", "login"):
        runs = [
            (res[sc]["rate"], res["config"]["name"], res[sc]["ceiling_per_s"])
            for res in report["configs"]
            if res.get(sc)
        ]
        if not runs:
            continue
        rate, name, ceiling = max(runs)
        if sc in AIMS:
            aim, met = f"≥ {AIMS[sc]:,.0f}/s", "yes" if rate >= AIMS[sc] else "**no**"
        else:
            aim = "≈ 35/s per core (bound by Argon2id)"
            met = f"{fmt(rate / int(m['nproc']))}/s per core"
        lines.append(f"| {SCENARIOS[sc]} | {fmt(rate)} | {name} | {fmt(ceiling, 0)} | {aim} | {met} |")

    ip = report.get("inprocess") or {}
    if ip.get("primitives"):
        p = ip["primitives"]
        lines += [
            "",
            "In-process costs (CPU time of one process, the cheapest of five batches):",
            "",
            f"- one Argon2id password check (`accounts.hashers.Argon2idHasher`, {p['argon2id_params']}): "
            f"**{fmt(p['argon2id_verify_ms'])} ms**",
            f"- one client secret check (`idp.hashers.ClientSecretHasher`, keyed HMAC-SHA256): "
            f"**{fmt(p['client_secret_verify_us'])} µs**",
            f"- one RS256 ID token signature (jwcrypto, 2048-bit key): **{fmt(p['rs256_id_token_sign_ms'], 2)} ms**"
            + (
                f"; as the app signs it (`idp.oauth.signing`, key and header kept per process): "
                f"**{fmt(p['rs256_app_sign_ms'], 2)} ms**"
                if "rs256_app_sign_ms" in p
                else ""
            ),
            "- loading the RSA signing key from its PEM (`jwk.JWK.from_pem`; the app parses each key once "
            f"per process through DOT's cached `jwk_from_pem`): **{fmt(p['jwk_from_pem_ms'])} ms**",
        ]
    if ip.get("scenarios"):
        s = ip["scenarios"]
        lines += [
            "",
            "SQL queries per operation (Django test client with `CaptureQueriesContext`, transaction "
            "statements included; CONN_HEALTH_CHECKS adds one `SELECT 1` per request that is not captured) "
            "and CPU time of one process per operation (cheapest of five batches, no HTTP server):",
            "",
            "| operation | queries | CPU ms/op (in-process) |",
            "|---|---:|---:|",
            f"| client-credentials grant | {s['client_credentials']['queries']} "
            f"| {fmt(s['client_credentials']['cpu_ms'], 2)} |",
            f"| refresh grant | {s['refresh']['queries']} | {fmt(s['refresh']['cpu_ms'], 2)} |",
            f"| authorization-code login (5 requests) | {s['login']['queries']} | {fmt(s['login']['cpu_ms'], 2)} |",
        ]
        for k, v in s["login"]["steps"].items():
            cpu = fmt(v["cpu_ms"], 2) if "cpu_ms" in v else "–"
            lines.append(f"| &nbsp;&nbsp;login step `{k}` | {v['queries']} | {cpu} |")
    for res in report["configs"]:
        steps = (res.get("login") or {}).get("steps_p50_ms")
        if steps:
            lines += [
                "",
                f"Login steps, p50 latency under load ({res['config']['name']}): "
                + ", ".join(f"{k} {fmt(v)} ms" for k, v in steps.items())
                + ".",
            ]
            break
    lines += render_loyalty(report.get("loyalty"))
    lines += render_import(report.get("import"))
    lines += [
        "",
        "Columns: *rate* counts successful operations (a login is its five requests); latency is per "
        "operation as the client saw it; *gunicorn CPU* is the user+system time of the master and its "
        "workers read from `/proc/<pid>/stat` before and after, divided by the operations; *PostgreSQL* "
        f"counts the backends connected to `{DB_NAME}` and the server's background processes (other "
        "databases' backends are left out); *Redis* is the whole redis-server (shared); *client* is the "
        "load generator (wrk, or the Python processes) and its share of the machine's busy time; "
        "*machine busy* is from `/proc/stat`; *others' CPU* is busy time none of these account for "
        "(other jobs on the machine during the run); *server CPU ceiling* is "
        f"{NPROC} cores divided by the gunicorn + PostgreSQL + Redis CPU per operation: the rate the "
        "server side could sustain with the machine to itself, at the per-operation cost measured "
        "under this load.",
        "",
        END,
    ]
    return "\n".join(lines)


def render_import(res: dict | None) -> list[str]:
    """The member import's rate (bench/import_members.py)."""
    if not res:
        return []
    load = res.get("load_avg_at_start", [0])[0]
    return [
        "",
        f"Member import (`bench/import_members.py`, database `{res['database']}`): {res['members']:,} members "
        f"in {fmt(res['seconds'])} s, **{res['members_per_s']:,} members/s** (aim ≥ {res['aim_members_per_s']:,}/s), "
        f"{fmt(res['command_cpu_s'])} s of the command's CPU; load average {load:.1f} at the start.",
    ]


def render_loyalty(res: dict | None) -> list[str]:
    """The loyalty ledger's figures (bench/loyalty.py) against the aims of its issue."""
    if not res:
        return []
    aims = res.get("aims", {})
    lines = [
        "",
        f"Loyalty ledger (`bench/loyalty.py`, database `{res.get('database', 'idp_loyalty_bench')}`, "
        f"{res['members']:,} members, "
        f"{fmt(res['duration_s'])} s per measurement; the ledger is checked by `manage.py loyalty_check` "
        "afterwards: the figures count only if it adds up):",
        "",
        "| measurement | rate /s | p50 ms | p99 ms | aim |",
        "|---|---:|---:|---:|---|",
    ]
    if "http_earn_per_s" in res:
        lines += [
            f"| earn postings over HTTP, new idempotency key each ({res['http_config']}) "
            f"| **{fmt(res['http_earn_per_s'])}** | {fmt(res['http_earn_p50_ms'])} | {fmt(res['http_earn_p99_ms'])} "
            f"| ≥ {fmt(aims.get('http_earn_per_s', 2000))}/s |",
            f"| balance reads over HTTP (member token) | **{fmt(res['http_balance_reads_per_s'])}** "
            f"| {fmt(res['http_balance_p50_ms'])} | {fmt(res['http_balance_p99_ms'])} "
            f"| p99 < {fmt(aims.get('http_balance_p99_ms', 5))} ms |",
        ]
        if "http_balance_2conns_per_s" in res:
            lines.append(
                f"| balance reads over HTTP, 2 connections (latency without queueing) "
                f"| {fmt(res['http_balance_2conns_per_s'])} | {fmt(res['http_balance_2conns_p50_ms'])} "
                f"| {fmt(res['http_balance_2conns_p99_ms'])} | |"
            )
    lines += [
        f"| earn postings, service layer, one thread | {fmt(res['service_earn_per_s_1thread'])} | | | |",
        f"| balance reads, service layer | {fmt(res['service_balance_reads_per_s'])} "
        f"| {fmt(res['service_balance_p50_ms'], 2)} | {fmt(res['service_balance_p99_ms'], 2)} | |",
        "",
        f"CPU per earn posting: {fmt(res['service_earn_cpu_ms_python'], 2)} ms of Python and "
        f"{fmt(res['service_earn_cpu_ms_postgres'], 2)} ms of PostgreSQL (ceiling "
        f"{fmt(res['service_earn_ceiling_per_s'])}/s on this machine); "
        f"{res.get('entries_posted', 0):,} entries posted, ledger consistent: {res.get('ledger_consistent')}."
        + (
            f" Statements per earn {res['service_earn_statements']}, per balance read "
            f"{res.get('service_balance_statements', '?')} (transaction statements included)."
            if "service_earn_statements" in res
            else ""
        )
        + (
            f" Load average {res['load_avg_at_start'][0]:.1f} at the start, {res['load_avg_at_end'][0]:.1f} at the end."
            if "load_avg_at_start" in res and "load_avg_at_end" in res
            else ""
        ),
    ]
    if "wsgi_earn_cpu_ms_python" in res:
        lines += [
            "",
            "Through the WSGI application in-process (`idp.wsgi.application` called directly: every "
            "middleware, the token check and the view, no server or load generator), CPU per request: "
            f"earn {fmt(res['wsgi_earn_cpu_ms_python'], 2)} ms of Python + "
            f"{fmt(res['wsgi_earn_cpu_ms_postgres'], 2)} ms of PostgreSQL, "
            f"{res['wsgi_earn_statements']} statements; balance read "
            f"{fmt(res['wsgi_balance_cpu_ms_python'], 2)} ms + {fmt(res['wsgi_balance_cpu_ms_postgres'], 2)} ms, "
            f"{res['wsgi_balance_statements']} statements.",
        ]
    return lines


DOC_HEAD = """# Benchmarks

`make bench` (that is `.venv/bin/python bench/run.py`) measures the production set-up on this
machine: gunicorn serving `idp.wsgi`, PostgreSQL at 127.0.0.1:5432 (database `idp_bench`, dropped
and recreated), Redis at 127.0.0.1:6379 database 13, `SECURE_COOKIES=0`. See the docstring of
`bench/run.py` for what each scenario does. The section between the markers is rewritten by each
run; the analysis after it is kept.

"""


def write_doc(report: dict) -> None:
    block = render(report)
    text = DOC.read_text() if DOC.exists() else DOC_HEAD + BEGIN + "\n" + END + "\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15, help="seconds per scenario (default 15)")
    parser.add_argument("--max-ops", type=int, default=50_000, help="operation cap per scenario (Python client)")
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["sync:4", "sync:8", "gthread:2x4"],
        help="gunicorn configurations: sync:WORKERS or gthread:WORKERSxTHREADS",
    )
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (default: a free one)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads for the client-credentials scenario")
    parser.add_argument("--cc-conns", type=int, default=16)
    parser.add_argument(
        "--refresh-conns", type=int, default=16, help="refresh chains (one wrk thread and connection each)"
    )
    parser.add_argument("--login-procs", type=int, default=8)
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk")
    parser.add_argument(
        "--profile",
        choices=["all", "client_credentials", "refresh", "login", "none"],
        default="all",
        help="cProfile scenarios in-process (default all)",
    )
    parser.add_argument(
        "--pyspy",
        nargs="*",
        choices=list(SCENARIOS),
        help="sample the gunicorn workers with py-spy during these scenarios (py-spy must be in .venv)",
    )
    parser.add_argument(
        "--settings",
        default="idp.settings",
        help="settings module for the server (an experiment; needs --no-doc)",
    )
    parser.add_argument(
        "--tree",
        default="worktree",
        help="code to measure: the working tree (default) or a git revision, exported to a temporary "
        "directory (stable while others edit the working tree)",
    )
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--no-loyalty", action="store_true", help="skip bench/loyalty.py (the ledger)")
    parser.add_argument(
        "--import-members",
        type=int,
        default=20_000,
        help="members for bench/import_members.py (0: skip; the figure in docs/import.md is for 1,000,000)",
    )
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--quick", action="store_true", help="fewer in-process iterations")
    args = parser.parse_args()
    # SIGTERM (a timeout, an impatient user) still stops gunicorn through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.pyspy == []:
        args.pyspy = list(SCENARIOS)

    check_services()
    wrk = ensure_wrk() if args.client == "wrk" else None
    if args.settings != "idp.settings" and not args.no_doc:
        sys.exit("--settings other than idp.settings measures an experiment: add --no-doc")
    started = dt.datetime.now(dt.UTC)
    report: dict = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["make bench"] if len(sys.argv) == 1 else [".venv/bin/python bench/run.py", *sys.argv[1:]]),
        "duration": args.duration,
        "settings": args.settings,
        "machine": {**procstat.machine_info(), "python": f"Python {platform.python_version()}"},
        "configs": [],
    }
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
        workdir = Path(tmp)
        report["code"] = prepare_tree(args.tree, workdir)
        log(f"measuring {report['code']}")
        env = server_env(args.settings)
        for spec in args.configs:
            report["configs"].append(run_config(parse_config(spec), args, wrk, env, workdir))
        log("in-process measurements (hashers, queries per request, cProfile)")
        report["inprocess"] = run_inprocess(env, workdir, None if args.profile == "none" else args.profile, args.quick)
    if not args.no_loyalty:
        log("loyalty ledger: earn postings and balance reads (bench/loyalty.py)")
        sys.path.insert(0, str(BENCH))
        import loyalty as loyalty_bench

        try:
            report["loyalty"] = loyalty_bench.run(duration=args.duration)
        except Exception as error:  # noqa: BLE001 - the other figures are still worth writing down
            log(f"loyalty benchmark failed: {error}")
    if args.import_members:
        log(f"member import: {args.import_members:,} members (bench/import_members.py)")
        import import_members as import_bench

        try:
            report["import"] = import_bench.run(members=args.import_members)
        except Exception as error:  # noqa: BLE001 - the other figures are still worth writing down
            log(f"import benchmark failed: {error}")
    p = report["inprocess"]["primitives"]
    log(
        f"Argon2id check {p['argon2id_verify_ms']:.1f} ms, "
        f"client secret check {p['client_secret_verify_us']:.1f} µs, "
        f"RS256 signature {p['rs256_id_token_sign_ms']:.2f} ms"
    )
    for name, s in report["inprocess"]["scenarios"].items():
        log(f"{name}: {s['queries']} queries, {s['cpu_ms']:.2f} ms CPU per operation in-process")
    for name, prof in report["inprocess"]["profiles"].items():
        log(f"cProfile {name}: top functions by cumulative time (profiled CPU {prof['cpu_ms_per_op']:.1f} ms/op)")
        for row in prof["by_cumtime"][:25]:
            print(f"    {row['cumtime_ms']:8.2f} ms {row['calls_per_op']:6.1f}x  {row['func']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if not args.no_doc:
        write_doc(report)
        log(f"wrote {DOC.relative_to(ROOT)}")
    print()
    print(render(report))


if __name__ == "__main__":
    main()
