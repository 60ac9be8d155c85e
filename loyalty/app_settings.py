"""Tunables of the loyalty app, read from Django settings with documented defaults.

Each is read as ``LOYALTY_<NAME>`` (the pattern of ``accounts/app_settings.py``)::

    from loyalty.app_settings import loyalty_settings
    loyalty_settings.STEP_UP_MAX_AGE

Per-program rules (expiry, tier window, redemption thresholds and limits) live on
:class:`loyalty.models.Program`, so that each brand can set its own in the admin.
"""

from __future__ import annotations

from django.conf import settings


class _LoyaltySettings:
    prefix = "LOYALTY_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def STEP_UP_MAX_AGE(self) -> int:
        """Seconds since the second factor within which a large redemption is allowed (RFC 9470 max_age)."""
        return self._get("STEP_UP_MAX_AGE", 600)

    @property
    def NEW_DEVICE_HOLD_SECONDS(self) -> int:
        """Redemptions are held for this long after a sign-in from a new device (0: no hold)."""
        return self._get("NEW_DEVICE_HOLD_SECONDS", 24 * 3600)

    @property
    def EXPIRING_SOON_DAYS(self) -> int:
        """The statement warns about points expiring within this many days."""
        return self._get("EXPIRING_SOON_DAYS", 90)

    @property
    def IDEMPOTENCY_RETENTION_DAYS(self) -> int:
        """Idempotency keys are remembered this long; a retry must come within it."""
        return self._get("IDEMPOTENCY_RETENTION_DAYS", 90)

    @property
    def EXPIRY_BATCH_SIZE(self) -> int:
        """Memberships handled per transaction by the expiry and tier jobs."""
        return self._get("EXPIRY_BATCH_SIZE", 500)

    @property
    def PROGRAM_CACHE_SECONDS(self) -> float:
        """Programs, tiers and client links are kept per process this long (0: read every time)."""
        return self._get("PROGRAM_CACHE_SECONDS", 5)


loyalty_settings = _LoyaltySettings()
