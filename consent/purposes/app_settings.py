"""Tunables of consent purposes, read from Django settings as ``CONSENT_<NAME>`` with defaults."""

from __future__ import annotations

from django.conf import settings


class _AppSettings:
    prefix = "CONSENT_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def CLIENT_CHANNELS(self) -> dict[str, str]:
        """Collection channel per OAuth ``client_id`` for the consent API, e.g.
        ``{"store-kiosk-jp": "kiosk"}``. Clients not listed: ``device`` for the device grant,
        ``app`` for public clients, ``api`` otherwise. A request body may still name its channel."""
        return self._get("CLIENT_CHANNELS", {})

    @property
    def AUDIENCE_PAGE_SIZE(self) -> int:
        """Members per page of the audience API unless ``limit`` asks for fewer or more."""
        return self._get("AUDIENCE_PAGE_SIZE", 1000)

    @property
    def AUDIENCE_MAX_PAGE_SIZE(self) -> int:
        return self._get("AUDIENCE_MAX_PAGE_SIZE", 5000)

    @property
    def CURSOR_MAX_AGE(self) -> int:
        """Seconds an audience or history cursor stays valid (an export must be walked within it)."""
        return self._get("CURSOR_MAX_AGE", 24 * 3600)

    @property
    def HISTORY_PAGE_SIZE(self) -> int:
        return self._get("HISTORY_PAGE_SIZE", 50)


app_settings = _AppSettings()
