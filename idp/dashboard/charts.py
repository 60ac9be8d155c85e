"""Charts drawn on the server as SVG geometry for ``templates/idp/dashboard/_*.html``.

No script and no inline style (the CSP allows neither): the template writes ``<svg>`` elements
with presentation attributes. Every chart has a title and each bar a ``<title>`` with its figure,
and the page shows the same figures in a table next to it.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 720
HEIGHT = 200
PAD_LEFT = 48
PAD_BOTTOM = 24
PAD_TOP = 8
ROW = 22
LABEL_WIDTH = 260


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    shown: str  # the figure as the table shows it ("<5" for a small count)

    @property
    def value_x(self) -> float:
        return round(self.x + self.width + 6, 2)


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for m in (1, 2, 5, 10):
        if m * step >= value:
            return m * step
    return 10 * step


def columns(points: list[tuple[str, float, str]], *, percent: bool = False) -> dict:
    """A column per point ``(label, value, shown)``, e.g. one per day, with a y axis."""
    top = _nice_max(max((v for _l, v, _s in points), default=0)) if not percent else 100
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    plot_w = WIDTH - PAD_LEFT - 8
    slot = plot_w / max(len(points), 1)
    bars = []
    for i, (label, value, shown) in enumerate(points):
        h = plot_h * (value / top) if top else 0
        bars.append(
            Bar(
                x=round(PAD_LEFT + i * slot + slot * 0.1, 2),
                y=round(PAD_TOP + plot_h - h, 2),
                width=round(max(slot * 0.8, 1), 2),
                height=round(h, 2),
                label=label,
                shown=shown,
            )
        )
    # Counts get whole-number ticks only (no "0.5 sign-ups").
    fractions = (0, 0.5, 1) if percent or top >= 2 else (0, 1)
    ticks = [
        Tick(y=round(PAD_TOP + plot_h - plot_h * f, 2), label=f"{top * f:g}{'%' if percent else ''}") for f in fractions
    ]
    first = points[0][0] if points else ""
    last = points[-1][0] if points else ""
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "ticks": ticks,
        "axis_x": PAD_LEFT,
        "axis_right": WIDTH - 8,
        "axis_y": PAD_TOP + plot_h,
        "first": first,
        "last": last,
        "label_y": HEIGHT - 6,
    }


def rows(items: list[tuple[str, float, str]], *, percent: bool = False) -> dict:
    """A horizontal bar per item ``(label, value, shown)``, e.g. one per method or purpose."""
    top = 100 if percent else _nice_max(max((v for _l, v, _s in items), default=0))
    plot_w = WIDTH - LABEL_WIDTH - 80
    bars = []
    for i, (label, value, shown) in enumerate(items):
        w = plot_w * (value / top) if top else 0
        bars.append(Bar(x=LABEL_WIDTH, y=i * ROW + 4, width=round(w, 2), height=ROW - 8, label=label, shown=shown))
    return {
        "width": WIDTH,
        "height": max(len(items), 1) * ROW + 4,
        "bars": bars,
        "label_x": LABEL_WIDTH - 8,
        "value_dx": 6,
    }
