"""What the dashboard counts: metric names, how one day of each is computed, and their labels."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import selectors as accounts
from consent.privacy import selectors as privacy
from consent.purposes import selectors as purposes

# Flows: what happened during the day (exact, can be recomputed for any past day).
SIGNUPS = "signups"
SIGNUPS_BY_METHOD = "signups_by_method"
LOGINS = "logins"
LOGINS_SECOND_FACTOR = "logins_second_factor"
ACTIVE_DAY = "active_day"
ERASURES_REQUESTED = "erasures_requested"
# Stocks: the state at the end of the day.
MEMBERS = "members"
ACTIVE_30D = "active_30d"
FACTORS = "factors"
CONSENT_GRANTED = "consent_granted"
ERASURES_BY_STATE = "erasures_by_state"

ACTIVE_WINDOW_DAYS = 30

METHOD_LABELS = {
    "password": _("Password"),
    "passkey": _("Passkey"),
    "code": _("Emailed code"),
    "password_reset": _("Password reset link"),
    "signup": _("Right after sign-up"),
    "other": _("Other"),
    accounts.SIGNUP_UNRECORDED: _("Not recorded"),
}
FACTOR_LABELS = {
    "totp": _("Authenticator app"),
    "passkey": _("Passkey"),
    "any": _("Either (second factor or passkey)"),
}


def method_label(method: str) -> str:
    if method.startswith("social:"):
        return _("Social: %(provider)s") % {"provider": method.removeprefix("social:")}
    return str(METHOD_LABELS.get(method, method))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in the site's time zone (``TIME_ZONE``)."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def today() -> date:
    return timezone.localdate()


def flows(day: date, *, until: datetime | None = None) -> list[tuple[str, str, int]]:
    """The day's flow metrics as ``(metric, dimension, value)`` rows; ``until`` cuts a day short
    (today's running figures). Every query is one range of one index."""
    start, end = day_bounds(day)
    if until is not None:
        end = min(end, until)
    signups = accounts.signups_between(start=start, end=end)
    by_method = accounts.signups_by_method_between(start=start, end=end)
    # Accounts created without a sign-up event (admin, imports, before methods were recorded).
    unrecorded = signups - sum(by_method.values())
    if unrecorded > 0:
        by_method[accounts.SIGNUP_UNRECORDED] = by_method.get(accounts.SIGNUP_UNRECORDED, 0) + unrecorded
    rows = [(SIGNUPS, "", signups)]
    rows += [(SIGNUPS_BY_METHOD, m, n) for m, n in sorted(by_method.items())]
    logins, second = accounts.logins_between(start=start, end=end)
    rows += [(LOGINS, m, n) for m, n in sorted(logins.items())]
    rows.append((LOGINS_SECOND_FACTOR, "", second))
    rows.append((ACTIVE_DAY, "", accounts.active_members_between(start=start, end=end)))
    rows.append((ERASURES_REQUESTED, "", privacy.erasures_requested_between(start=start, end=end)))
    return rows


def stocks(day: date) -> list[tuple[str, str, int]]:
    """The state at the end of ``day``. These read larger ranges and run in the rollup only."""
    start, end = day_bounds(day)
    window_start = day_bounds(day - timedelta(days=ACTIVE_WINDOW_DAYS - 1))[0]
    rows = [
        (MEMBERS, "", accounts.members_before(end=end)),
        (ACTIVE_30D, "", accounts.active_members_between(start=window_start, end=end)),
    ]
    rows += [(FACTORS, k, n) for k, n in accounts.factor_adoption(end=end).items()]
    rows += [(CONSENT_GRANTED, code, n) for code, n in purposes.granted_counts(end=end).items()]
    rows += [(ERASURES_BY_STATE, state, n) for state, n in privacy.erasure_counts_by_state(end=end).items()]
    return rows


def compute_day(day: date) -> list[tuple[str, str, int]]:
    return flows(day) + stocks(day)
