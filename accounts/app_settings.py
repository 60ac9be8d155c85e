"""Tunables of the accounts app, read from Django settings with documented defaults.

Each is read as ``ACCOUNTS_<NAME>`` from settings (allauth's pattern)::

    from accounts import app_settings
    app_settings.RECENT_AUTH_SECONDS
"""

from __future__ import annotations

from django.conf import settings


class _AppSettings:
    prefix = "ACCOUNTS_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def MFA_REQUIRED_GROUPS(self) -> list[str]:
        """Names of groups whose members must use a second factor at every sign-in."""
        return self._get("MFA_REQUIRED_GROUPS", [])

    @property
    def RECENT_AUTH_SECONDS(self) -> int:
        """How recent an authentication must be for sensitive actions (factor changes, email)."""
        return self._get("RECENT_AUTH_SECONDS", 300)

    @property
    def RECOVERY_CODE_COUNT(self) -> int:
        """How many recovery codes are generated at a time."""
        return self._get("RECOVERY_CODE_COUNT", 10)

    @property
    def DEVICE_COOKIE_NAME(self) -> str:
        """Long-lived cookie that recognises a browser that has signed in before."""
        return self._get("DEVICE_COOKIE_NAME", "idp_device")


app_settings = _AppSettings()
