"""Tunables of account protection, read from Django settings with documented defaults.

Each is read as ``ACCOUNTS_<NAME>`` (the pattern of ``accounts/app_settings.py``)::

    from accounts.security.app_settings import security_settings
    security_settings.STUFFING_DISTINCT_ACCOUNTS
"""

from __future__ import annotations

from django.conf import settings


class _SecuritySettings:
    prefix = "ACCOUNTS_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def SESSION_SEEN_INTERVAL(self) -> int:
        """Seconds between two updates of a session's "last seen" time (one write per interval)."""
        return self._get("SESSION_SEEN_INTERVAL", 60)

    @property
    def KNOWN_DEVICE_MAX_AGE_DAYS(self) -> int:
        """A browser not seen signing in to the account for this long counts as new again."""
        return self._get("KNOWN_DEVICE_MAX_AGE_DAYS", 365)

    @property
    def DEVICE_COOKIE_AGE(self) -> int:
        """Lifetime of the device cookie in seconds (browsers cap cookies at 400 days)."""
        return self._get("DEVICE_COOKIE_AGE", 400 * 24 * 3600)

    @property
    def STUFFING_WINDOW(self) -> int:
        """Seconds over which failed sign-ins to different accounts from one source are counted."""
        return self._get("STUFFING_WINDOW", 15 * 60)

    @property
    def STUFFING_DISTINCT_ACCOUNTS(self) -> int:
        """Failed sign-ins to this many different accounts from one source within the window
        mark the source as a likely credential-stuffing source."""
        return self._get("STUFFING_DISTINCT_ACCOUNTS", 10)

    @property
    def STUFFING_SUSPECT_SECONDS(self) -> int:
        """How long a source stays under the stricter limit once marked."""
        return self._get("STUFFING_SUSPECT_SECONDS", 3600)

    @property
    def STUFFING_LOGIN_RATE(self) -> str:
        """Sign-in attempts allowed from a marked source (allauth's rate syntax), unless the
        browser shows a device cookie known for the account it signs in to."""
        return self._get("STUFFING_LOGIN_RATE", "3/15m/ip")

    @property
    def THROTTLE_EVENT_INTERVAL(self) -> int:
        """At most one "too many attempts" event per source, account and action in this many seconds."""
        return self._get("THROTTLE_EVENT_INTERVAL", 300)

    @property
    def BACKCHANNEL_TIMEOUT(self) -> float:
        """Seconds to wait for a relying party's back-channel logout endpoint."""
        return self._get("BACKCHANNEL_TIMEOUT", 5.0)

    @property
    def BACKCHANNEL_MAX_RETRIES(self) -> int:
        """Deliveries of a logout token retried after the first attempt (with exponential backoff)."""
        return self._get("BACKCHANNEL_MAX_RETRIES", 5)

    @property
    def BACKCHANNEL_RETRY_DELAY(self) -> int:
        """Seconds before the first retry; doubled for each further retry (capped at 10 minutes)."""
        return self._get("BACKCHANNEL_RETRY_DELAY", 2)

    @property
    def LOGOUT_TOKEN_LIFETIME(self) -> int:
        """``exp`` - ``iat`` of a logout token (OIDC Back-Channel Logout 1.0 §2.4: short)."""
        return self._get("LOGOUT_TOKEN_LIFETIME", 120)

    @property
    def GEO_COUNTRY_HEADER(self) -> str:
        """Request header a trusted proxy or CDN sets to the client's country (shown, never trusted
        for decisions). Empty to disable."""
        return self._get("GEO_COUNTRY_HEADER", "CF-IPCountry")

    @property
    def GEO_CITY_HEADER(self) -> str:
        """Request header with the client's city, where the proxy or CDN provides one."""
        return self._get("GEO_CITY_HEADER", "CF-IPCity")


security_settings = _SecuritySettings()
