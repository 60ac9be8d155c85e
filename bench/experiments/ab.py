"""Paired A/B of the suggested fixes in one process: CPU per operation with and without.

    .venv/bin/python bench/experiments/ab.py [--tree HEAD] [--rounds 15] [--block 10]

Other jobs on a shared two-core machine make two runs minutes apart hard to compare, so
this alternates short blocks with the fix off and on, in one process, on the same data,
and compares the sums: machine-wide noise hits both sides alike. Django's test client, no
HTTP server (see bench/inprocess.py). ``healthcheck`` cannot be switched at run time and
is measured over HTTP only (bench/run.py --settings bench.experiments.settings).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402

from experiments.policy import ALL  # noqa: E402

SWITCHABLE = [f for f in ALL if f != "healthcheck"]


def child(args) -> None:
    import django

    django.setup()
    import inprocess
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    flows = inprocess.Flows(json.load(open(args.creds)))
    fns = {
        "client_credentials": inprocess._scenario_fn(flows, "client_credentials"),
        "refresh": inprocess._scenario_fn(flows, "refresh"),
        "login": flows.login,
    }
    sets = {f: {f} for f in SWITCHABLE} | {"all": set(SWITCHABLE)}
    out = {}
    for scenario, fn in fns.items():
        block = max(1, args.block // 5) if scenario == "login" else args.block
        for _ in range(3):
            fn()  # warm caches of both sides
        for name, fixes in sets.items():
            spent = {"off": 0.0, "on": 0.0}
            queries = {}
            for _ in range(args.rounds):
                for side in ("off", "on"):
                    settings.FIXES.clear()
                    settings.FIXES.update(fixes if side == "on" else set())
                    fn()  # one untimed operation after each switch (caches of the side)
                    t = time.process_time()
                    for _ in range(block):
                        fn()
                    spent[side] += time.process_time() - t
            for side in ("off", "on"):
                settings.FIXES.clear()
                settings.FIXES.update(fixes if side == "on" else set())
                with CaptureQueriesContext(connection) as ctx:
                    fn()
                queries[side] = len(ctx.captured_queries)
            n = args.rounds * block
            off, on = spent["off"] / n * 1000, spent["on"] / n * 1000
            out.setdefault(scenario, {})[name] = {
                "off_ms": off,
                "on_ms": on,
                "gain_pct": 100 * (1 - on / off),
                "queries_off": queries["off"],
                "queries_on": queries["on"],
            }
            print(
                f"{scenario:18s} {name:13s} off {off:7.2f} ms  on {on:7.2f} ms  "
                f"({100 * (1 - on / off):+5.1f}%)  queries {queries['off']} -> {queries['on']}",
                file=sys.stderr,
                flush=True,
            )
    json.dump(out, sys.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", default="worktree", help="as bench/run.py --tree")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--block", type=int, default=10, help="operations per block (logins: a fifth)")
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--creds", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
        workdir = Path(tmp)
        print("measuring", run.prepare_tree(args.tree, workdir), file=sys.stderr, flush=True)
        env = run.server_env("bench.experiments.settings", "")
        run.recreate_database(env, 32, workdir)
        cmd = [sys.executable, __file__, "--child", "--creds", str(workdir / "creds.json")]
        cmd += ["--rounds", str(args.rounds), "--block", str(args.block)]
        proc = subprocess.run(cmd, cwd=run.APP["root"], env=env, stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(proc.stdout)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print("\n| fix | client-credentials | refresh | login |\n|---|---|---|---|")  # CPU change: negative is a gain
    for name in [*SWITCHABLE, "all"]:
        cells = []
        for scenario in ("client_credentials", "refresh", "login"):
            r = result[scenario][name]
            queries = f"{r['queries_off']}→{r['queries_on']} q"
            cells.append(f"{queries}, {r['off_ms']:.2f}→{r['on_ms']:.2f} ms ({-r['gain_pct']:+.0f}% CPU)")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.experiments.settings")
    main()
