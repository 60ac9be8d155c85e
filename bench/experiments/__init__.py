"""Prototypes of the performance fixes suggested in docs/benchmarks.md, for measuring them.

Nothing in the app imports this package. ``bench.experiments.settings`` layers the fixes
named in ``BENCH_FIXES`` (comma-separated, or ``all``) over ``idp.settings``, so that
``bench/run.py --settings bench.experiments.settings --fixes all`` measures the gain before
anyone changes the app. Each fix is a few lines; see fixes.py.
"""
