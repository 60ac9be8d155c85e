"""Reads of the dashboard: the rollup of the chosen period, and today's figures counted live."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from consent.models import ErasureRequest
from idp.app_settings import app_settings
from idp.dashboard import charts, metrics
from idp.models import DailyMetric

PERIODS = (30, 90)
# A day has figures for a flow metric when its sign-ups were counted, for a stock when its members were.
_FLOWS = (
    metrics.SIGNUPS,
    metrics.SIGNUPS_BY_METHOD,
    metrics.LOGINS,
    metrics.LOGINS_SECOND_FACTOR,
    metrics.ACTIVE_DAY,
    metrics.ERASURES_REQUESTED,
)
_COVERAGE = {m: metrics.SIGNUPS for m in _FLOWS} | {
    m: metrics.MEMBERS
    for m in (metrics.MEMBERS, metrics.ACTIVE_30D, metrics.FACTORS, metrics.CONSENT_GRANTED, metrics.ERASURES_BY_STATE)
}


def shown(value: int | None) -> str:
    """A count as staff see it: small counts as "<N" (``IDP_DASHBOARD_SMALL_COUNT``)."""
    if value is None:
        return "–"
    threshold = app_settings.DASHBOARD_SMALL_COUNT
    if 0 < value < threshold:
        return f"<{threshold}"
    return formats.number_format(value, force_grouping=True)


def is_hidden(value: int | None) -> bool:
    return value is not None and 0 < value < app_settings.DASHBOARD_SMALL_COUNT


def percent(part: int | None, whole: int | None) -> tuple[float, str]:
    if part is None or not whole:
        return 0.0, "–"
    if is_hidden(part):
        return 0.0, "–"
    value = 100.0 * part / whole
    return value, formats.number_format(round(value, 1), decimal_pos=1) + "%"


def _plot(value: int | None) -> float:
    """What a chart draws: a hidden small count draws as nothing (its label says "<N")."""
    return 0.0 if value is None or is_hidden(value) else float(value)


@dataclass
class Table:
    """One data table (and what its chart is drawn from): a header row and rows of cells."""

    id: str
    caption: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    per_day: bool = False  # a long table: folded under its chart


@dataclass
class Section:
    id: str
    title: str
    description: str
    charts: list[dict]
    tables: list[Table]


def _rollup(first: date, last: date) -> tuple[dict, datetime | None]:
    """{metric: {day: {dimension: value}}} for [first, last], in one query."""
    data: dict = defaultdict(lambda: defaultdict(dict))
    computed = None
    for day, metric, dimension, value, at in DailyMetric.objects.filter(day__gte=first, day__lte=last).values_list(
        "day", "metric", "dimension", "value", "computed_at"
    ):
        data[metric][day][dimension] = value
        computed = at if computed is None or at > computed else computed
    return data, computed


def _series(data: dict, metric: str, days: list[date], dimension: str = "") -> list[int | None]:
    """Values per day: None for a day without figures, 0 for a breakdown missing on a day with."""
    covered = data[_COVERAGE[metric]]
    return [data[metric].get(d, {}).get(dimension, 0) if d in covered else None for d in days]


def _dimensions(data: dict, metric: str, days: list[date]) -> list[str]:
    dims = set()
    for d in days:
        dims.update(data[metric].get(d, {}))
    return sorted(dims)


def dashboard(*, days: int = 30) -> dict:
    """Everything the page shows. Queries: one for the rollup, a few for today (indexed ranges)."""
    days = days if days in PERIODS else PERIODS[0]
    today = metrics.today()
    last = today - timedelta(days=1)
    first = today - timedelta(days=days)
    day_list = [first + timedelta(days=i) for i in range(days)]
    data, computed_at = _rollup(first, last)
    # Today so far, counted live: one indexed range per flow metric.
    for metric, dimension, value in metrics.flows(today, until=timezone.now()):
        data[metric][today][dimension] = value
    all_days = [*day_list, today]
    day_labels = [d.isoformat() for d in day_list] + [str(_("today so far"))]
    latest = max((d for d in day_list if d in data[metrics.MEMBERS]), default=None)

    sections = [
        _signups(data, all_days, day_labels),
        _logins(data, all_days, day_labels),
        _active(data, day_list, day_labels[:-1]),
        _factors(data, day_list, day_labels[:-1], latest),
        _consent(data, latest),
        _erasures(data, all_days, day_labels, latest),
    ]
    members = data[metrics.MEMBERS].get(latest, {}).get("") if latest else None
    active = data[metrics.ACTIVE_30D].get(latest, {}).get("") if latest else None
    return {
        "days": days,
        "periods": PERIODS,
        "first": first,
        "last": last,
        "latest": latest,
        "behind": latest != last,
        "computed_at": computed_at,
        "summary": [
            (_("Members"), shown(members)),
            (_("Active members (30 days)"), shown(active)),
            (_("Sign-ups today so far"), shown(data[metrics.SIGNUPS][today].get(""))),
            (_("Sign-ins today so far"), shown(sum(data[metrics.LOGINS][today].values()))),
        ],
        "sections": sections,
    }


def _day_table(tid, caption, first_header, columns, all_days, labels) -> Table:
    """Rows per day: label, then each column's series value as shown."""
    table = Table(id=tid, caption=str(caption), header=[str(first_header), *[str(c[0]) for c in columns]], per_day=True)
    for i, label in enumerate(labels):
        table.rows.append([label, *[shown(series[i]) for _name, series in columns]])
    return table


def _signups(data, all_days, labels) -> Section:
    total = _series(data, metrics.SIGNUPS, all_days)
    methods = _dimensions(data, metrics.SIGNUPS_BY_METHOD, all_days)
    by_method = {m: _series(data, metrics.SIGNUPS_BY_METHOD, all_days, m) for m in methods}
    columns = [(_("Sign-ups"), total)] + [(metrics.method_label(m), by_method[m]) for m in methods]
    sums = [(metrics.method_label(m), sum(v or 0 for v in by_method[m])) for m in methods]
    return Section(
        id="signups",
        title=str(_("Sign-ups")),
        description=str(_("New accounts per day, and by how they were created over the period.")),
        charts=[
            {
                "title": _("Sign-ups per day"),
                **charts.columns([(lb, _plot(v), shown(v)) for lb, v in zip(labels, total, strict=True)]),
            },
            {"title": _("Sign-ups by method"), **charts.rows([(lb, _plot(n), shown(n)) for lb, n in sums])},
        ],
        tables=[
            _day_table("signups-per-day", _("Sign-ups per day"), _("Day"), columns, all_days, labels),
            Table(
                id="signups-by-method",
                caption=str(_("Sign-ups by method over the period")),
                header=[str(_("Method")), str(_("Sign-ups"))],
                rows=[[lb, shown(n)] for lb, n in sums],
            ),
        ],
    )


def _logins(data, all_days, labels) -> Section:
    methods = _dimensions(data, metrics.LOGINS, all_days)
    by_method = {m: _series(data, metrics.LOGINS, all_days, m) for m in methods}
    total = [sum(data[metrics.LOGINS].get(d, {}).values()) if d in data[metrics.SIGNUPS] else None for d in all_days]
    second = _series(data, metrics.LOGINS_SECOND_FACTOR, all_days)
    columns = [(_("Sign-ins"), total), (_("With a second step"), second)]
    columns += [(metrics.method_label(m), by_method[m]) for m in methods]
    sums = [(metrics.method_label(m), sum(v or 0 for v in by_method[m])) for m in methods]
    return Section(
        id="logins",
        title=str(_("Sign-ins")),
        description=str(_("Completed sign-ins per day, by their first step; a second step is a second factor.")),
        charts=[
            {
                "title": _("Sign-ins per day"),
                **charts.columns([(lb, _plot(v), shown(v)) for lb, v in zip(labels, total, strict=True)]),
            },
            {"title": _("Sign-ins by method"), **charts.rows([(lb, _plot(n), shown(n)) for lb, n in sums])},
        ],
        tables=[
            _day_table("logins-per-day", _("Sign-ins per day"), _("Day"), columns, all_days, labels),
            Table(
                id="logins-by-method",
                caption=str(_("Sign-ins by method over the period")),
                header=[str(_("Method")), str(_("Sign-ins"))],
                rows=[[lb, shown(n)] for lb, n in sums],
            ),
        ],
    )


def _active(data, day_list, labels) -> Section:
    members = _series(data, metrics.MEMBERS, day_list)
    active = _series(data, metrics.ACTIVE_30D, day_list)
    daily = _series(data, metrics.ACTIVE_DAY, day_list)
    columns = [(_("Members"), members), (_("Active (30 days)"), active), (_("Signed in that day"), daily)]
    return Section(
        id="active",
        title=str(_("Active members")),
        description=str(_("Members who signed in at least once in the 30 days up to each day.")),
        charts=[
            {
                "title": _("Active members (30 days)"),
                **charts.columns([(lb, _plot(v), shown(v)) for lb, v in zip(labels, active, strict=True)]),
            }
        ],
        tables=[_day_table("active-per-day", _("Active members per day"), _("Day"), columns, day_list, labels)],
    )


def _factors(data, day_list, labels, latest) -> Section:
    members = _series(data, metrics.MEMBERS, day_list)
    any_series = _series(data, metrics.FACTORS, day_list, "any")
    trend = [percent(a, m) for a, m in zip(any_series, members, strict=True)]
    snapshot = data[metrics.FACTORS].get(latest, {}) if latest else {}
    total = data[metrics.MEMBERS].get(latest, {}).get("") if latest else None
    rows = [
        (str(metrics.FACTOR_LABELS[k]), snapshot.get(k), percent(snapshot.get(k), total)) for k in metrics.FACTOR_LABELS
    ]
    return Section(
        id="factors",
        title=str(_("Second factor and passkey adoption")),
        description=str(_("Members with an authenticator app or a passkey, as a share of all members.")),
        charts=[
            {
                "title": _("Members with a second factor or passkey (%)"),
                **charts.columns([(lb, p[0], p[1]) for lb, p in zip(labels, trend, strict=True)], percent=True),
            },
            {
                "title": _("Adoption on the latest day"),
                **charts.rows([(lb, p[0], p[1]) for lb, _n, p in rows], percent=True),
            },
        ],
        tables=[
            Table(
                id="factors-latest",
                caption=str(_("Adoption on the latest day")),
                header=[str(_("Factor")), str(_("Members")), str(_("Share of members"))],
                rows=[[lb, shown(n), p[1]] for lb, n, p in rows],
            )
        ],
    )


def _consent(data, latest) -> Section:
    granted = data[metrics.CONSENT_GRANTED].get(latest, {}) if latest else {}
    total = data[metrics.MEMBERS].get(latest, {}).get("") if latest else None
    # Purposes by code: the stable name staff use in the admin and in exports.
    rows = [(code, n, percent(n, total)) for code, n in sorted(granted.items())]
    return Section(
        id="consent",
        title=str(_("Consent by purpose")),
        description=str(_("Members whose current choice for each purpose is yes, as a share of all members.")),
        charts=[
            {"title": _("Consent rate by purpose"), **charts.rows([(c, p[0], p[1]) for c, _n, p in rows], percent=True)}
        ],
        tables=[
            Table(
                id="consent-latest",
                caption=str(_("Consent by purpose on the latest day")),
                header=[str(_("Purpose")), str(_("Members who agreed")), str(_("Rate"))],
                rows=[[c, shown(n), p[1]] for c, n, p in rows],
            )
        ],
    )


def _erasures(data, all_days, labels, latest) -> Section:
    requested = _series(data, metrics.ERASURES_REQUESTED, all_days)
    states = data[metrics.ERASURES_BY_STATE].get(latest, {}) if latest else {}
    state_rows = [
        (str(label), states.get(value, 0 if latest else None)) for value, label in ErasureRequest.State.choices
    ]
    return Section(
        id="erasures",
        title=str(_("Erasure requests")),
        description=str(_("Requests made per day, and all requests by their state now.")),
        charts=[
            {
                "title": _("Erasure requests per day"),
                **charts.columns([(lb, _plot(v), shown(v)) for lb, v in zip(labels, requested, strict=True)]),
            },
            {
                "title": _("Erasure requests by state"),
                **charts.rows([(lb, _plot(n), shown(n)) for lb, n in state_rows]),
            },
        ],
        tables=[
            _day_table(
                "erasures-per-day",
                _("Erasure requests per day"),
                _("Day"),
                [(_("Requested"), requested)],
                all_days,
                labels,
            ),
            Table(
                id="erasures-by-state",
                caption=str(_("Erasure requests by state on the latest day")),
                header=[str(_("State")), str(_("Requests"))],
                rows=[[lb, shown(n)] for lb, n in state_rows],
            ),
        ],
    )
