"""Reads of the accounts app handed to views, stages and the provider."""

from __future__ import annotations

import zoneinfo
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

from accounts.app_settings import app_settings
from accounts.services import ACR_LEVELS, ACR_MFA


def member_timezone(user):
    """The member's time zone (``zoneinfo`` claim) for showing times, else the site's."""
    try:
        return zoneinfo.ZoneInfo(user.zoneinfo) if user.zoneinfo else timezone.get_default_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def authorization_request_from(url: str | None) -> dict[str, str]:
    """The OAuth parameters of an /authorize URL (a login's ``next``), first value of each."""
    if not url:
        return {}
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items() if v}


def required_acr(*, user, client=None, acr_values: str = "") -> str | None:
    """The lowest acr that satisfies the RP's acr_values, the client's and the user's policy."""
    needed = 0
    requested = [ACR_LEVELS[v] for v in acr_values.split() if v in ACR_LEVELS]
    if requested:
        needed = min(requested)
    if client is not None and getattr(client, "require_mfa", False):
        needed = max(needed, ACR_LEVELS[ACR_MFA])
    if user is not None and user.is_authenticated and mfa_required_for_user(user):
        needed = max(needed, ACR_LEVELS[ACR_MFA])
    if not needed:
        return None
    return next(acr for acr, level in ACR_LEVELS.items() if level == needed)


def acr_meets(current: str, required: str | None) -> bool:
    return required is None or ACR_LEVELS.get(current, 0) >= ACR_LEVELS[required]


def mfa_required_for_user(user) -> bool:
    """Staff always; members of the configured groups."""
    if user.is_staff:
        return True
    groups = app_settings.MFA_REQUIRED_GROUPS
    return bool(groups) and user.groups.filter(name__in=groups).exists()
