"""Tunables of profile attributes, read as ``ACCOUNTS_PROFILE_<NAME>`` from Django settings::

from accounts.profile.app_settings import app_settings
app_settings.ATTRIBUTE_SCOPES
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

DEFAULT_ATTRIBUTE_SCOPES = {
    "profile:preferences": {
        "claim": "preferences",
        "description": _("Your preferences (for example diet, seating or fuel)"),
    },
    "profile:household": {
        "claim": "household",
        "description": _("Your household (for example pets)"),
    },
}


class _AppSettings:
    prefix = "ACCOUNTS_PROFILE_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def ATTRIBUTE_SCOPES(self) -> dict[str, dict]:
        """Attribute groups: ``{scope: {"claim": name, "description": text}}``.

        Each scope is registered at start-up; its attributes are released together as one JSON
        object claim named ``claim`` (``"preferences": {"diet": "vegetarian"}``), so staff-chosen
        keys can never shadow a standard claim and discovery's ``claims_supported`` stays static.
        """
        return self._get("ATTRIBUTE_SCOPES", DEFAULT_ATTRIBUTE_SCOPES)

    @property
    def SKIP_DAYS(self) -> int:
        """After a member skips a question at sign-in, that attribute is not asked again for this long."""
        return self._get("SKIP_DAYS", 90)


app_settings = _AppSettings()
