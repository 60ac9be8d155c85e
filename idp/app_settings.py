"""Tunables of the provider, read as ``IDP_<NAME>`` from settings with documented defaults."""

from __future__ import annotations

from django.conf import settings


class _AppSettings:
    prefix = "IDP_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def CLIENT_CACHE_SECONDS(self) -> float:
        """How long a worker process keeps a client it has read (0 turns the cache off).

        A change saved through the ORM (admin, commands) clears the cache of the process that
        saved it at once; other worker processes see it after at most this many seconds. Keep it
        short: a deactivated client or a rotated secret is honoured by every worker only then.
        """
        return self._get("CLIENT_CACHE_SECONDS", 10)

    @property
    def DASHBOARD_SMALL_COUNT(self) -> int:
        """Counts from 1 to this minus one show on the staff dashboard as "<N" (0 or 1: exact).

        Every active staff member sees the dashboard, also those who may not look at members: a
        breakdown cell such as "1 sign-up through the partner IdP on Tuesday" must not single
        anyone out. Totals and zeros stay exact; percentages of a hidden count are hidden too.
        """
        return self._get("DASHBOARD_SMALL_COUNT", 5)


app_settings = _AppSettings()
