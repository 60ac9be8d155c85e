"""In-process measurements that explain the HTTP figures.

Run by bench/run.py with the production environment (DATABASE_URL, REDIS_URL) pointing at
the bench database, after bench/setup_data.py. Prints one JSON object:

* ``primitives``: the cost of one Argon2id password check (accounts.hashers.Argon2idHasher),
  one client secret check (idp.hashers.ClientSecretHasher) and one RS256 ID token signature.
* ``scenarios``: for each scenario, through Django's test client (whole middleware stack,
  no HTTP server): SQL queries per request (CaptureQueriesContext), the SQL itself, and
  CPU time per operation of this one process (no contention, no network).
* ``profile`` (with --profile): cProfile of N operations of one scenario, top functions.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import json
import os
import pstats
import re
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(os.environ.get("BENCH_APP_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HOST = "127.0.0.1"


BATCHES = 5


def _timeit(fn, n: int) -> float:
    """CPU seconds per call: the cheapest of BATCHES batches, so that other jobs on a shared
    machine (which slow a batch down, never speed it up) weigh as little as possible."""
    fn()  # warm
    size = max(1, n // BATCHES)
    best = float("inf")
    for _ in range(BATCHES):
        t = time.process_time()
        for _ in range(size):
            fn()
        best = min(best, (time.process_time() - t) / size)
    return best


def primitives() -> dict:
    from django.contrib.auth.hashers import make_password
    from jwcrypto import jwk, jwt
    from oauth2_provider.settings import oauth2_settings

    from accounts.hashers import Argon2idHasher
    from idp.hashers import ClientSecretHasher

    argon = Argon2idHasher()
    pw = secrets.token_urlsafe(12)
    encoded = argon.encode(pw, argon.salt())
    cs = ClientSecretHasher()
    secret = secrets.token_urlsafe(96)
    cs_encoded = make_password(secret, hasher="idp_client_secret")

    key = jwk.JWK.from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY.encode())
    claims = {"iss": "http://127.0.0.1", "sub": "x" * 36, "aud": "bench-web", "exp": 2_000_000_000, "iat": 1}

    def sign():
        token = jwt.JWT(header={"alg": "RS256", "kid": key.thumbprint()}, claims=claims)
        token.make_signed_token(key)
        return token.serialize()

    extra = {}
    try:  # the app's own signer (absent from trees measured with --tree before it existed)
        from idp.models import Client
        from idp.oauth.signing import sign_id_token
    except ImportError:
        pass
    else:
        rs256_client = Client(algorithm=Client.RS256_ALGORITHM)
        extra["rs256_app_sign_ms"] = _timeit(lambda: sign_id_token(claims, rs256_client), 200) * 1000

    return {
        **extra,
        "argon2id_verify_ms": _timeit(lambda: argon.verify(pw, encoded), 30) * 1000,
        "argon2id_params": f"m={argon.memory_cost} KiB, t={argon.time_cost}, p={argon.parallelism}",
        "client_secret_verify_us": _timeit(lambda: cs.verify(secret, cs_encoded), 20000) * 1e6,
        "rs256_id_token_sign_ms": _timeit(sign, 200) * 1000,
        "jwk_from_pem_ms": _timeit(lambda: jwk.JWK.from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY.encode()), 200) * 1000,
    }


def basic(client: dict) -> str:
    return "Basic " + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()


class Flows:
    """The three scenarios on Django's test client, step by step."""

    def __init__(self, creds: dict):
        from django.test import Client

        self.creds = creds
        self.n = 0
        # One client, so one request handler: building the middleware chain is a per-process
        # cost in gunicorn (WhiteNoise scans the static files then), not a per-request one.
        self._client = Client(enforce_csrf_checks=True, HTTP_HOST=HOST)

    def client(self):
        """The shared test client with an empty cookie jar (a fresh browser)."""
        from http.cookies import SimpleCookie

        self._client.cookies = SimpleCookie()
        return self._client

    def cc(self, c=None):
        c = c or self.client()
        cc = self.creds["cc"]
        r = c.post(
            "/token",
            {"grant_type": "client_credentials", "scope": cc["scope"]},
            HTTP_AUTHORIZATION=basic(cc),
        )
        assert r.status_code == 200, r.content
        return r

    def refresh(self, token: str, c=None) -> str:
        c = c or self.client()
        r = c.post(
            "/token",
            {"grant_type": "refresh_token", "refresh_token": token},
            HTTP_AUTHORIZATION=basic(self.creds["web"]),
        )
        assert r.status_code == 200, r.content
        return r.json()["refresh_token"]

    def login_steps(self):
        """Yield (step name, callable) in order; each callable does one HTTP request."""
        web = self.creds["web"]
        self.n += 1
        ip = f"127.200.{self.n // 250 % 250 + 1}.{self.n % 250 + 1}"  # see loadgen.source_ip
        c = self.client()
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
                "nonce": "n",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        users = self.creds["users"]
        email = users[self.n % len(users)]
        box: dict = {}

        def authorize():
            r = c.get("/authorize?" + query, REMOTE_ADDR=ip)
            assert r.status_code == 302 and "/accounts/login/" in r["Location"], (
                r.status_code,
                r.content[:300],
            )
            box["login_url"] = r["Location"]

        def login_page():
            r = c.get(box["login_url"], REMOTE_ADDR=ip)
            assert r.status_code == 200
            box["csrf"] = CSRF_RE.search(r.content.decode()).group(1)
            box["next"] = parse_qs(urlsplit(box["login_url"]).query)["next"][0]

        def login_post():
            r = c.post(
                "/accounts/login/",
                {
                    "login": email,
                    "password": self.creds["password"],
                    "csrfmiddlewaretoken": box["csrf"],
                    "next": box["next"],
                },
                REMOTE_ADDR=ip,
            )
            assert r.status_code == 302 and r["Location"].startswith("/authorize?"), (
                r.status_code,
                r.content[:300],
            )
            box["back"] = r["Location"]

        def authorize_again():
            r = c.get(box["back"], REMOTE_ADDR=ip)
            assert r.status_code == 302 and r["Location"].startswith(web["redirect_uri"]), r
            box["code"] = parse_qs(urlsplit(r["Location"]).query)["code"][0]

        def token():
            r = c.post(
                "/token",
                {
                    "grant_type": "authorization_code",
                    "code": box["code"],
                    "redirect_uri": web["redirect_uri"],
                    "code_verifier": verifier,
                },
                HTTP_AUTHORIZATION=basic(web),
                REMOTE_ADDR=ip,
            )
            assert r.status_code == 200, r.content
            box["tokens"] = r.json()

        yield from [
            ("authorize", authorize),
            ("login_page", login_page),
            ("login_post", login_post),
            ("authorize_again", authorize_again),
            ("token", token),
        ]
        self.last_tokens = box["tokens"]

    def login(self) -> dict:
        for _name, step in self.login_steps():
            step()
        return self.last_tokens


def _normalise(sql: str) -> str:
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r'"[a-z0-9_]+"\."([a-z0-9_]+)"', r"\1", sql)
    return sql[:160]


def capture(fn) -> tuple[int, list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    # Statements run on a server-side binding cursor (idp/oauth/statements.py) may not be rendered.
    return len(ctx.captured_queries), [_normalise(q["sql"] or "(prepared statement)") for q in ctx.captured_queries]


def cpu_per_op(fn, n: int) -> dict:
    """CPU per operation (cheapest of BATCHES batches, see _timeit) and mean wall time."""
    fn()
    w = time.perf_counter()
    cpu = _timeit(fn, n)
    return {
        "cpu_ms": cpu * 1000,
        "wall_ms": (time.perf_counter() - w) / n * 1000,
        "n": n,
    }


def scenarios(flows: Flows, n_fast: int, n_login: int) -> dict:
    out: dict = {}
    # Client credentials (one request first: per-process caches are warm in a running server)
    flows.cc()
    n, sql = capture(flows.cc)
    out["client_credentials"] = {"queries": n, "sql": sql, **cpu_per_op(flows.cc, n_fast)}

    # Refresh: chain on one token
    rt = flows.login()["refresh_token"]
    holder = {"rt": rt}

    def refresh_once():
        holder["rt"] = flows.refresh(holder["rt"])

    n, sql = capture(refresh_once)
    out["refresh"] = {"queries": n, "sql": sql, **cpu_per_op(refresh_once, n_fast)}

    # Login, per step
    steps = {}
    for name, step in flows.login_steps():
        count, sql = capture(step)
        steps[name] = {"queries": count, "sql": sql}
    out["login"] = {
        "queries": sum(s["queries"] for s in steps.values()),
        "steps": steps,
        **cpu_per_op(flows.login, n_login),
    }
    # CPU per step of the login (same number of logins again, timed request by request)
    for _ in range(n_login):
        for name, step in flows.login_steps():
            t = time.process_time()
            step()
            spent = (time.process_time() - t) * 1000 / n_login
            steps[name]["cpu_ms"] = steps[name].get("cpu_ms", 0.0) + spent
    return out


def _scenario_fn(flows: Flows, scenario: str):
    if scenario == "client_credentials":
        return flows.cc
    if scenario == "refresh":
        holder = {"rt": flows.login()["refresh_token"]}

        def fn():
            holder["rt"] = flows.refresh(holder["rt"])

        return fn
    return flows.login


def profile(flows: Flows, scenario: str, n: int, top: int = 30) -> dict:
    fn = _scenario_fn(flows, scenario)
    for _ in range(10):
        fn()
    prof = cProfile.Profile(time.process_time)  # CPU time: waiting on PostgreSQL is not counted
    prof.enable()
    for _ in range(n):
        fn()
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    rows = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        rows.append(
            {
                "func": f"{short}:{line}({func})",
                "calls_per_op": nc / n,
                "tottime_ms": tt / n * 1000,
                "cumtime_ms": ct / n * 1000,
            }
        )
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(60)
    return {
        "scenario": scenario,
        "n": n,
        "cpu_ms_per_op": total / n * 1000,
        "by_cumtime": sorted(rows, key=lambda r: -r["cumtime_ms"])[: top * 2],
        "by_tottime": sorted(rows, key=lambda r: -r["tottime_ms"])[:top],
        "text": text.getvalue(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creds", required=True)
    parser.add_argument("--n-fast", type=int, default=300)
    parser.add_argument("--n-login", type=int, default=20)
    parser.add_argument("--profile", choices=["client_credentials", "refresh", "login"])
    parser.add_argument("--profile-n", type=int, default=300)
    parser.add_argument(
        "--spin",
        choices=["client_credentials", "refresh", "login"],
        help="just run --profile-n operations of a scenario (for an external sampler such as py-spy)",
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["primitives", "scenarios"])
    args = parser.parse_args()

    import django

    django.setup()
    creds = json.load(open(args.creds))
    flows = Flows(creds)
    result: dict = {}
    if "primitives" not in args.skip:
        result["primitives"] = primitives()
    if "scenarios" not in args.skip:
        result["scenarios"] = scenarios(flows, args.n_fast, args.n_login)
    if args.spin:
        fn = _scenario_fn(flows, args.spin)
        t = time.process_time()
        for _ in range(args.profile_n):
            fn()
        result["spin"] = {
            "scenario": args.spin,
            "n": args.profile_n,
            "cpu_ms": (time.process_time() - t) / args.profile_n * 1000,
        }
    if args.profile:
        result["profile"] = profile(flows, args.profile, args.profile_n)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
