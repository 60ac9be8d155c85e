"""The staff dashboard: sign-ups, sign-ins, factor adoption, consent and erasures in figures.

It lives in ``idp`` because it spans the apps (accounts, consent) and asks each through its
selectors, as the provider does for claims. Figures come from a daily rollup
(:class:`idp.models.DailyMetric`, filled by :func:`services.metrics_rollup` on beat and by
``manage.py metrics_rollup``); only today's running figures are counted live, from indexed
ranges. See docs/dashboard.md for the definitions.
"""
