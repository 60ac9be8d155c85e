"""Tunables of phone verification, read as ``ACCOUNTS_PHONE_<NAME>`` from Django settings.

The SMS gateway itself is configured with ``SMS_URL`` / ``SMS_TOKEN`` (see ``accounts.phone.sms``).
"""

from __future__ import annotations

from django.conf import settings


class _PhoneSettings:
    prefix = "ACCOUNTS_PHONE_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def CODE_SECONDS(self) -> int:
        """How long a code sent by SMS can be used."""
        return self._get("CODE_SECONDS", 600)

    @property
    def MAX_ATTEMPTS(self) -> int:
        """Wrong codes allowed per code; then a new code must be sent."""
        return self._get("MAX_ATTEMPTS", 5)

    @property
    def MAX_SENDS(self) -> int:
        """Codes sent per account (and per number) within SEND_WINDOW seconds."""
        return self._get("MAX_SENDS", 3)

    @property
    def SEND_WINDOW(self) -> int:
        return self._get("SEND_WINDOW", 3600)

    @property
    def DEFAULT_COUNTRY_CODE(self) -> str:
        """Country calling code for numbers entered without one (090-1234-5678 → +8190…)."""
        return self._get("DEFAULT_COUNTRY_CODE", "81")


phone_settings = _PhoneSettings()
