"""Queries and CPU per operation with each suggested fix alone, none, and all of them.

    .venv/bin/python bench/experiments/matrix.py [--n-fast 300] [--n-login 15]

Recreates the bench database (as bench/run.py does), then runs bench/inprocess.py once per
fix set with ``DJANGO_SETTINGS_MODULE=bench.experiments.settings``. In-process, one process,
Django's test client: no HTTP server, so the figures isolate the application's own cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402

from experiments.policy import ALL  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-fast", type=int, default=300)
    parser.add_argument("--n-login", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3, help="runs per fix set; the lowest CPU counts")
    parser.add_argument("--tree", default="worktree", help="as bench/run.py --tree")
    parser.add_argument("--json")
    args = parser.parse_args()

    sets = [("none", ""), *[(f, f) for f in ALL], ("all", "all")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
        workdir = Path(tmp)
        print("measuring", run.prepare_tree(args.tree, workdir), flush=True)
        env = run.server_env("bench.experiments.settings", "")
        run.recreate_database(env, 32, workdir)
        results: dict[str, dict] = {}
        # Repeats go round the whole list, so that a burst of other load on the machine hits
        # one run of each set rather than every run of one set.
        for _ in range(args.repeats):
            for name, fixes in sets:
                env = run.server_env("bench.experiments.settings", fixes)
                out = run.run_script(
                    "inprocess.py",
                    ["--creds", str(workdir / "creds.json"), "--skip", "primitives"]
                    + ["--n-fast", str(args.n_fast), "--n-login", str(args.n_login)],
                    env,
                )
                s = json.loads(out)["scenarios"]
                prev = results.get(name)
                results[name] = {
                    k: {
                        "queries": v["queries"],
                        "cpu_ms": min(v["cpu_ms"], prev[k]["cpu_ms"]) if prev else v["cpu_ms"],
                    }
                    for k, v in s.items()
                }
        for name, _fixes in sets:
            row = {"fixes": name, **results[name]}
            rows.append(row)
            print(
                f"{name:12s} "
                + "  ".join(f"{k} {v['queries']:3d} q {v['cpu_ms']:7.2f} ms" for k, v in row.items() if k != "fixes"),
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    base = rows[0]
    print("\n| fix | client-credentials queries / CPU ms | refresh queries / CPU ms | login queries / CPU ms |")
    print("|---|---|---|---|")
    for row in rows:
        cells = []
        for k in ("client_credentials", "refresh", "login"):
            v, b = row[k], base[k]
            delta = (
                ""
                if row is base
                else f" ({v['queries'] - b['queries']:+d} q, {100 * (v['cpu_ms'] / b['cpu_ms'] - 1):+.0f}%)"
            )
            cells.append(f"{v['queries']} / {v['cpu_ms']:.2f}{delta}")
        print(f"| {row['fixes']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
