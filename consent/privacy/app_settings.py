"""Tunables of the privacy part, read from Django settings as ``PRIVACY_<NAME>`` with defaults::

from consent.privacy.app_settings import privacy_settings
privacy_settings.EXPORT_LINK_SECONDS
"""

from __future__ import annotations

from django.conf import settings


class _PrivacySettings:
    prefix = "PRIVACY_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def EXPORT_LINK_SECONDS(self) -> int:
        """How long the emailed download link of a data export works (the export is deleted then)."""
        return self._get("EXPORT_LINK_SECONDS", 60 * 60 * 48)

    @property
    def JOB_STALE_SECONDS(self) -> int:
        """An export or erasure job without progress for this long is resumed by the sweeper (beat).

        Not the broker's redelivery: Redis gives an unacknowledged message back only after its
        visibility timeout (an hour).
        """
        return self._get("JOB_STALE_SECONDS", 15 * 60)

    @property
    def JOB_MAX_RETRIES(self) -> int:
        """Retries of a failing export or erasure job (exponential backoff) before it shows as failed."""
        return self._get("JOB_MAX_RETRIES", 5)

    @property
    def JOB_RETRY_DELAY(self) -> int:
        """Seconds before the first retry of a failing job; doubled at each retry."""
        return self._get("JOB_RETRY_DELAY", 60)

    @property
    def INACTIVE_NOTICE_DAYS(self) -> int:
        """Days without a sign-in after which the member is told the account will be deleted (0: never)."""
        return self._get("INACTIVE_NOTICE_DAYS", 730)

    @property
    def INACTIVE_ERASURE_DAYS(self) -> int:
        """Days after that notice, still without a sign-in, after which the account is erased."""
        return self._get("INACTIVE_ERASURE_DAYS", 30)

    @property
    def INACTIVE_BATCH(self) -> int:
        """At most this many notices and erasures per run of the inactivity sweep."""
        return self._get("INACTIVE_BATCH", 500)


privacy_settings = _PrivacySettings()
