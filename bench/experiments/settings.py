"""idp.settings plus the fixes listed in BENCH_FIXES (see bench/experiments/fixes.py).

Every hook is installed whatever BENCH_FIXES says and checks ``FIXES`` when it runs, so a
process can switch fixes on and off (bench/experiments/ab.py); only ``healthcheck`` is fixed
at start-up.
"""

from __future__ import annotations

import os

from bench.experiments.policy import ALL, pkce_required_cached
from idp.settings import *  # noqa: F403
from idp.settings import CACHES, DATABASES, OAUTH2_PROVIDER, REDIS_URL

_raw = os.environ.get("BENCH_FIXES", "all")
FIXES = set(ALL if _raw == "all" else [f for f in _raw.split(",") if f])
unknown = FIXES - set(ALL)
if unknown:
    raise ValueError(f"unknown BENCH_FIXES {sorted(unknown)}; known: {ALL}")

OAUTH2_PROVIDER = {
    **OAUTH2_PROVIDER,
    "OAUTH2_VALIDATOR_CLASS": "bench.experiments.fixes.FastValidator",
    "PKCE_REQUIRED": pkce_required_cached,
}
ROOT_URLCONF = "bench.experiments.urls"
if REDIS_URL:
    CACHES = {"default": {**CACHES["default"], "BACKEND": "bench.experiments.fixes.ReusingRedisCache"}}
if "healthcheck" in FIXES:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
