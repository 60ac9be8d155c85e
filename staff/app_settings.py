"""Tunables of the staff app, read as ``STAFF_<NAME>`` from Django settings::

from staff.app_settings import staff_settings
staff_settings.UNMASK_MINUTES
"""

from __future__ import annotations

from django.conf import settings


class _StaffSettings:
    prefix = "STAFF_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def UNMASK_MINUTES(self) -> int:
        """How long "Show personal data" (break glass) unmasks one member for one staff session."""
        return self._get("UNMASK_MINUTES", 15)

    @property
    def REASON_MIN_LENGTH(self) -> int:
        """The shortest reason staff may give for unmasking a member's personal data."""
        return self._get("REASON_MIN_LENGTH", 10)

    @property
    def CUSTOMER_VIEW_ROWS(self) -> int:
        """How many of the latest rows (security events, ledger entries, consent changes) the customer view shows."""
        return self._get("CUSTOMER_VIEW_ROWS", 10)


staff_settings = _StaffSettings()
