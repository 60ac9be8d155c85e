"""A small multi-process HTTP load generator for the scenarios wrk cannot drive.

Each worker process runs one scenario in a loop on http.client (standard library, no
cookie or redirect magic, so the client stays cheap and every request is explicit),
until its deadline or its share of the operation count, and sends back its latencies.

Scenarios:
  login    full authorization-code login: GET /authorize -> login page -> POST the login
           form -> /authorize -> redirect_uri?code -> POST /token. A fresh cookie jar and a
           fresh TCP connection from its own loopback source address every iteration (see
           ``source_ip``).
  cc       POST /token grant_type=client_credentials (HTTP Basic), keep-alive connection.
  refresh  POST /token grant_type=refresh_token, chaining the rotated refresh token.

Usage (bench/run.py calls it): python bench/loadgen.py --scenario login --port 8765 \
    --creds creds.json --procs 8 --duration 15 --max-ops 5000 --out result.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import multiprocessing as mp
import re
import secrets
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

HOST = "127.0.0.1"
CSRF_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LOGIN_STEPS = ["authorize", "login_page", "login_post", "authorize_again", "token"]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def source_ip(worker: int, i: int) -> str:
    """A distinct loopback source address per login.

    allauth limits logins to 30 a minute per client IP (ACCOUNT_RATE_LIMITS["login"]);
    customers come from many addresses, so each simulated browser gets its own address in
    127.0.0.0/8 (all of it is loopback on Linux). Traffic still goes only to 127.0.0.1.
    """
    return f"127.{10 + worker}.{(i // 250) % 250 + 1}.{i % 250 + 1}"


class Browser:
    """One cookie jar and one connection: a fresh browser for one login."""

    def __init__(self, port: int, src: str | None):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30, source_address=(src, 0) if src else None)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        for raw in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = raw.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return resp.status, resp.getheader("Location"), data

    def close(self) -> None:
        self.conn.close()


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


class Failure(Exception):
    pass


def expect(cond: bool, step: str, status: int, data: bytes = b"") -> None:
    if not cond:
        raise Failure(f"{step}: HTTP {status} {data[:200]!r}")


def login_once(port: int, creds: dict, email: str, src: str | None, steps: list[float]) -> dict:
    web = creds["web"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(12)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": web["client_id"],
            "redirect_uri": web["redirect_uri"],
            "scope": web["scope"],
            "state": state,
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    b = Browser(port, src)
    try:
        t = time.perf_counter()
        status, loc, data = b.request("GET", "/authorize?" + query)
        expect(status == 302 and loc and "/accounts/login/" in loc, "authorize", status, data)
        t, steps[0] = time.perf_counter(), time.perf_counter() - t

        login_path = _path(loc)
        status, _, data = b.request("GET", login_path)
        m = CSRF_RE.search(data)
        expect(status == 200 and m is not None, "login_page", status, data)
        nxt = parse_qs(urlsplit(login_path).query)["next"][0]
        t, steps[1] = time.perf_counter(), time.perf_counter() - t

        form = urlencode(
            {
                "login": email,
                "password": creds["password"],
                "csrfmiddlewaretoken": m.group(1).decode(),
                "next": nxt,
            }
        )
        status, loc, data = b.request(
            "POST", "/accounts/login/", form, {**FORM, "Referer": f"http://{HOST}:{port}{login_path}"}
        )
        expect(status == 302 and loc and loc.startswith("/authorize?"), "login_post", status, data)
        t, steps[2] = time.perf_counter(), time.perf_counter() - t

        status, loc, data = b.request("GET", _path(loc))
        expect(
            status == 302 and loc and loc.startswith(web["redirect_uri"] + "?"),
            "authorize_again",
            status,
            data,
        )
        params = parse_qs(urlsplit(loc).query)
        expect(params.get("state") == [state] and "code" in params, "authorize_again", status, loc.encode())
        t, steps[3] = time.perf_counter(), time.perf_counter() - t

        form = urlencode(
            {
                "grant_type": "authorization_code",
                "code": params["code"][0],
                "redirect_uri": web["redirect_uri"],
                "code_verifier": verifier,
            }
        )
        status, _, data = b.request(
            "POST", "/token", form, {**FORM, "Authorization": basic(web["client_id"], web["client_secret"])}
        )
        expect(status == 200, "token", status, data)
        steps[4] = time.perf_counter() - t
        return json.loads(data)
    finally:
        b.close()


def worker(scenario: str, wid: int, args, creds: dict, seed_tokens: list[str], deadline: float, quota: int, conn):
    lat: list[float] = []
    step_lat: list[list[float]] = [[] for _ in LOGIN_STEPS]
    errors: dict[str, int] = {}
    refresh_out: list[str] = []
    users = creds["users"]
    ops = 0

    def fail(msg: str) -> None:
        key = msg[:120]
        errors[key] = errors.get(key, 0) + 1

    if scenario in ("cc", "refresh"):
        c = creds["cc"] if scenario == "cc" else creds["web"]
        headers = {**FORM, "Authorization": basic(c["client_id"], c["client_secret"])}
        conn_http = http.client.HTTPConnection(HOST, args.port, timeout=30)
        token = seed_tokens[wid] if scenario == "refresh" else None
        cc_body = urlencode({"grant_type": "client_credentials", "scope": c.get("scope", "")})
    i = 0
    while ops < quota and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        try:
            if scenario == "login":
                steps = [0.0] * len(LOGIN_STEPS)
                src = source_ip(wid, i) if args.spread_ips else None
                body = login_once(args.port, creds, users[(wid + i * args.procs) % len(users)], src, steps)
                if args.emit_refresh_tokens:
                    refresh_out.append(body["refresh_token"])
                for k, v in enumerate(steps):
                    step_lat[k].append(v)
            else:
                form = (
                    cc_body if scenario == "cc" else urlencode({"grant_type": "refresh_token", "refresh_token": token})
                )
                conn_http.request("POST", "/token", body=form, headers=headers)
                resp = conn_http.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    conn_http.close()
                expect(resp.status == 200, scenario, resp.status, data)
                if scenario == "refresh":
                    token = json.loads(data)["refresh_token"]
            lat.append(time.perf_counter() - t0)
            ops += 1
        except Failure as exc:
            fail(str(exc))
            if scenario == "refresh":
                break  # the chain is broken (and its family revoked): stop this worker
        except (OSError, http.client.HTTPException) as exc:
            fail(f"{type(exc).__name__}: {exc}")
            if scenario != "login":
                conn_http.close()
        i += 1
    conn.send({"lat": lat, "steps": step_lat, "errors": errors, "refresh_tokens": refresh_out})
    conn.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=["login", "cc", "refresh"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--creds", required=True)
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--max-ops", type=int, default=100_000)
    parser.add_argument("--refresh-tokens", help="file with one seed refresh token per line (refresh)")
    parser.add_argument("--emit-refresh-tokens", help="write the refresh tokens the logins got here")
    parser.add_argument("--no-spread-ips", dest="spread_ips", action="store_false")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    creds = json.load(open(args.creds))
    seeds = open(args.refresh_tokens).read().split() if args.refresh_tokens else []
    if args.scenario == "refresh" and len(seeds) < args.procs:
        sys.exit(f"need {args.procs} seed refresh tokens, got {len(seeds)}")

    ctx = mp.get_context("fork")
    quota = [args.max_ops // args.procs + (1 if w < args.max_ops % args.procs else 0) for w in range(args.procs)]
    start = time.perf_counter()
    deadline = start + args.duration
    pipes, procs = [], []
    for w in range(args.procs):
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=worker, args=(args.scenario, w, args, creds, seeds, deadline, quota[w], child))
        p.start()
        pipes.append(parent)
        procs.append(p)
    results = [p.recv() for p in pipes]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start

    lat = [x for r in results for x in r["lat"]]
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    out = {
        "client": "python",
        "ops": len(lat),
        "elapsed": elapsed,
        "rate": len(lat) / elapsed if elapsed else 0.0,
        "p50_ms": pct(lat, 50) * 1000,
        "p99_ms": pct(lat, 99) * 1000,
        "errors": sum(errors.values()),
        "error_samples": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5]),
        "concurrency": args.procs,
    }
    if args.scenario == "login":
        out["steps_p50_ms"] = {
            name: pct([x for r in results for x in r["steps"][k]], 50) * 1000 for k, name in enumerate(LOGIN_STEPS)
        }
        out["steps_p99_ms"] = {
            name: pct([x for r in results for x in r["steps"][k]], 99) * 1000 for k, name in enumerate(LOGIN_STEPS)
        }
    if args.emit_refresh_tokens:
        with open(args.emit_refresh_tokens, "w") as fh:
            fh.write("\n".join(t for r in results for t in r["refresh_tokens"]) + "\n")
    with open(args.out, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
