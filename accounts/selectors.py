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


# --- aggregates for the staff dashboard (idp.dashboard) ---------------------------------------------
# Each reads one indexed range (``start <= t < end``) or counts a small table; none returns a member.

SIGNUP_UNRECORDED = "unrecorded"


def signups_between(*, start, end) -> int:
    """Accounts created in [start, end) (index ``user_date_joined_idx``)."""
    from accounts.models import User

    return User.objects.filter(date_joined__gte=start, date_joined__lt=end).count()


def members_before(*, end) -> int:
    """Accounts that existed at ``end`` and still exist (erased ones are gone)."""
    from accounts.models import User

    return User.objects.filter(date_joined__lt=end).count()


def signups_by_method_between(*, start, end) -> dict[str, int]:
    """``signup`` events in [start, end) by ``data.method`` (password, passkey, social:<provider>)."""
    from django.db.models import Count
    from django.db.models.fields.json import KeyTextTransform

    from accounts.models import SecurityEvent

    rows = (
        SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SIGNUP, created__gte=start, created__lt=end)
        .annotate(method=KeyTextTransform("method", "data"))
        .values("method")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[str, int] = {}
    for row in rows:
        key = row["method"] or SIGNUP_UNRECORDED
        counts[key] = counts.get(key, 0) + row["n"]
    return counts


def logins_between(*, start, end) -> tuple[dict[str, int], int]:
    """``login`` events in [start, end): counts by first method, and how many had a second step.

    The method is the first authentication of the sign-in (``password``, ``passkey``, ``code``
    for an emailed code, ``social:<provider>``); a second factor is a second method recorded.
    """
    from django.db.models import Count
    from django.db.models.fields.json import KeyTextTransform, KeyTransform

    from accounts.models import SecurityEvent

    rows = (
        SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOGIN, created__gte=start, created__lt=end)
        .annotate(
            method=KeyTextTransform("method", "data"),
            provider=KeyTextTransform("provider", "data"),
            second=KeyTextTransform("1", KeyTransform("methods", "data")),
        )
        .values("method", "provider", "second")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_method: dict[str, int] = {}
    second_factor = 0
    for row in rows:
        method = row["method"] or "other"
        if method == "socialaccount":
            method = "social:" + (row["provider"] or "other")
        by_method[method] = by_method.get(method, 0) + row["n"]
        if row["second"]:
            second_factor += row["n"]
    return by_method, second_factor


def active_members_between(*, start, end) -> int:
    """Members with at least one sign-in in [start, end).

    On PostgreSQL an index-only scan of ``security_event_kind_time`` (it includes the member).
    """
    from django.db.models import Count

    from accounts.models import SecurityEvent

    return SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.LOGIN, created__gte=start, created__lt=end, user__isnull=False
    ).aggregate(n=Count("user", distinct=True))["n"]


def factor_adoption(*, end) -> dict[str, int]:
    """Members with an authenticator app (``totp``), a passkey, and either (``any``), at ``end``.

    Counts the factors that still exist and were added before ``end`` (a removed factor is gone,
    so an earlier day recomputed later is an approximation). Authenticator apps added before
    django-otp kept ``created_at`` count as always there.
    """
    from django.db.models import Q
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import WebAuthnCredential

    totp = (
        TOTPDevice.objects.filter(confirmed=True)
        .filter(Q(created_at__lt=end) | Q(created_at__isnull=True))
        .values_list("user_id", flat=True)
        .order_by()
    )
    passkey = WebAuthnCredential.objects.filter(created__lt=end).values_list("user_id", flat=True).order_by()
    return {
        "totp": totp.distinct().count(),
        "passkey": passkey.distinct().count(),
        "any": totp.union(passkey).count(),
    }
