"""Server-side SVG charts of the dashboards: time series and bars comparing communes.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (its text
alternative, which states every value), uses the portal's colours, and tells series apart
by line pattern and marker as well as colour (WCAG 1.4.1). No JavaScript. The pages also
print the values as a table next to each chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BRAND = "#1d4e89"  # --brand, 8.6:1 on white
ACCENT = "#8a4b00"  # --warn, 6.4:1 on white
INK = "#1b1f24"
GRID = "#6b7380"
OK = "#1e6b3a"

Formatter = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Series:
    """A named line of (period, value) points."""

    name: str
    points: Sequence[tuple[str, float | None]]


@dataclass(frozen=True, slots=True)
class Bar:
    """One commune's bar."""

    label: str
    value: float | None
    highlight: bool = False
    note: str = ""  # shown instead of a number when the value is missing (secret…)


def _head(ident: str, width: int, height: int, title: str, description: str) -> list[str]:
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}-titre {ident}-desc">'
    )
    return [
        opening,
        f'<title id="{ident}-titre">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def _nice_top(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


DASHES = ("", "6 4", "2 3")
MARKERS = ("circle", "square", "diamond")
COLOURS = (BRAND, ACCENT, OK)


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if kind == "diamond":
        return (
            f'<polygon points="{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y:.1f} {x:.1f},{y + 4.5:.1f} '
            f'{x - 4.5:.1f},{y:.1f}" fill="{colour}"/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.8" fill="{colour}"/>'


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    ident: str,
    fmt: Formatter,
    target: float | None = None,
    target_label: str = "objectif",
) -> Markup:
    """Time series (one line per series; a dashed line at the target)."""
    width, height = 720, 280
    left, right, top, bottom = 70, 20, 16, 56
    periods = sorted({p for s in series for p, _v in s.points})
    values = [v for s in series for _p, v in s.points if v is not None]
    if target is not None:
        values.append(target)
    high = _nice_top(max(values, default=1.0))
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(periods) - 1, 1)

    def x(period: str) -> float:
        return left + (periods.index(period) * step if len(periods) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - (value / high) * plot_h

    parts = _head(ident, width, height, title, description)
    for tick in range(5):
        value = high * tick / 4
        parts.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right}" y2="{y(value):.1f}" '
            f'stroke="{GRID}" stroke-width="{1 if tick == 0 else 0.4}"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(value):.1f}" text-anchor="end" '
            f'dominant-baseline="central" font-size="12" fill="{INK}">{escape(fmt(value))}</text>'
        )
    every = max(1, math.ceil(len(periods) / 12))
    for index, period in enumerate(periods):
        if index % every == 0 or index == len(periods) - 1:
            parts.append(
                f'<text x="{x(period):.1f}" y="{height - bottom + 18}" text-anchor="middle" '
                f'font-size="12" fill="{INK}">{escape(period)}</text>'
            )
    if target is not None:
        parts.append(
            f'<line x1="{left}" y1="{y(target):.1f}" x2="{width - right}" y2="{y(target):.1f}" '
            f'stroke="{OK}" stroke-width="1.5" stroke-dasharray="8 4"/>'
        )
        parts.append(
            f'<text x="{width - right}" y="{y(target) - 5:.1f}" text-anchor="end" '
            f'font-size="12" fill="{OK}">{escape(target_label)} {escape(fmt(target))}</text>'
        )
    for index, line in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = [(x(p), y(v)) for p, v in line.points if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            dash = DASHES[index % len(DASHES)]
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.2"'
                f"{dashed}/>"
            )
        parts += [_marker(MARKERS[index % len(MARKERS)], px, py, colour) for px, py in points]
        legend_x = left + index * 230
        legend_y = height - 14
        parts.append(_marker(MARKERS[index % len(MARKERS)], legend_x + 6, legend_y, colour))
        parts.append(
            f'<text x="{legend_x + 16}" y="{legend_y}" dominant-baseline="central" '
            f'font-size="12" fill="{INK}">{escape(line.name[:34])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    ident: str,
    fmt: Formatter,
    target: float | None = None,
) -> Markup:
    """Horizontal bars, one per commune (the highlighted one darker, bold and marked ▶)."""
    width, bar_h, gap, top = 720, 18, 6, 8
    label_w, value_w = 190, 110
    height = top * 2 + len(bars) * (bar_h + gap) + (18 if target is not None else 0)
    high = max((b.value for b in bars if b.value is not None), default=0.0)
    if target is not None:
        high = max(high, target)
    scale = (width - label_w - value_w) / high if high > 0 else 0.0
    parts = _head(ident, width, height, title, description)
    for index, bar in enumerate(bars):
        y = top + index * (bar_h + gap)
        middle = y + bar_h / 2
        weight = ' font-weight="700"' if bar.highlight else ""
        label = ("▶ " if bar.highlight else "") + bar.label
        parts.append(
            f'<text x="{label_w - 8}" y="{middle:.1f}" text-anchor="end" '
            f'dominant-baseline="central" font-size="12" fill="{INK}"{weight}>'
            f"{escape(label[:30])}</text>"
        )
        length = (bar.value or 0.0) * scale if bar.value is not None else 0.0
        colour = ACCENT if bar.highlight else BRAND
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{max(length, 0.0):.1f}" height="{bar_h}" '
            f'fill="{colour}"/>'
        )
        shown = fmt(bar.value) if bar.value is not None else bar.note or "—"
        parts.append(
            f'<text x="{label_w + max(length, 0.0) + 6:.1f}" y="{middle:.1f}" '
            f'dominant-baseline="central" font-size="12" fill="{INK}"{weight}>'
            f"{escape(shown)}</text>"
        )
    if target is not None and scale:
        tx = label_w + target * scale
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height - 20}" '
            f'stroke="{OK}" stroke-width="1.5" stroke-dasharray="6 3"/>'
        )
        parts.append(
            f'<text x="{tx:.1f}" y="{height - 6}" text-anchor="middle" font-size="12" '
            f'fill="{OK}">{escape(fmt(target))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


# ---------------------------------------------------------------- choropleth map

SHADES = ("#dce6f2", "#a9c1de", "#6f96c4", "#3c6ca6", "#143a66")
"""Light to dark blue; borders in white; a missing value is hatched grey."""
MISSING = "#b8bec7"


@dataclass(frozen=True, slots=True)
class Area:
    """A commune's shape (rings of (lon, lat) in WGS 84) and its value."""

    code: str
    name: str
    rings: Sequence[Sequence[tuple[float, float]]]
    value: float | None
    highlight: bool = False
    note: str = ""


def _classes(values: list[float]) -> list[float]:
    """Upper bounds of five classes of (about) equal counts (quantiles)."""
    ordered = sorted(values)
    if not ordered:
        return []
    bounds = [
        ordered[min(len(ordered) - 1, math.ceil(len(ordered) * k / 5) - 1)] for k in (1, 2, 3, 4)
    ]
    return [*bounds, ordered[-1]]


def choropleth(
    areas: Sequence[Area],
    *,
    title: str,
    description: str,
    ident: str,
    fmt: Formatter,
    missing_label: str,
) -> Markup:
    """A map of communes coloured by value in five quantile classes, with a legend."""
    width, legend_w, pad = 720, 230, 8
    points = [p for a in areas for ring in a.rings for p in ring]
    if not points:
        return Markup("")
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    middle = math.radians((min(lats) + max(lats)) / 2)
    span_x = (max(lons) - min(lons)) * math.cos(middle) or 1.0
    span_y = (max(lats) - min(lats)) or 1.0
    scale = (width - legend_w - 2 * pad) / span_x
    height = max(int(span_y * scale + 2 * pad), 180)

    def project(lon: float, lat: float) -> tuple[float, float]:
        return (
            pad + (lon - min(lons)) * math.cos(middle) * scale,
            pad + (max(lats) - lat) * scale,
        )

    bounds = _classes([a.value for a in areas if a.value is not None])

    def shade(value: float | None) -> str:
        if value is None:
            return f"url(#{ident}-hachures)"
        for bound, colour in zip(bounds, SHADES, strict=False):
            if value <= bound:
                return colour
        return SHADES[-1]

    parts = _head(ident, width, height, title, description)
    parts.append(
        f'<defs><pattern id="{ident}-hachures" width="6" height="6" '
        f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#eef0f3"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{MISSING}" stroke-width="3"/></pattern></defs>'
    )
    for area in areas:
        path = " ".join(
            "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in (project(*p) for p in ring)) + " Z"
            for ring in area.rings
        )
        stroke = (
            f'stroke="{INK}" stroke-width="2.5"'
            if area.highlight
            else ('stroke="#ffffff" stroke-width="1"')
        )
        shown = fmt(area.value) if area.value is not None else area.note or missing_label
        parts.append(
            f'<path d="{path}" fill="{shade(area.value)}" {stroke}>'
            f"<title>{escape(area.name)} : {escape(shown)}</title></path>"
        )
    legend_x = width - legend_w + 12
    low = min((a.value for a in areas if a.value is not None), default=None)
    entries: list[tuple[str, str]] = []
    previous = low
    for bound, colour in zip(bounds, SHADES, strict=False):
        if previous is not None:
            entries.append((colour, f"{fmt(previous)} – {fmt(bound)}"))  # noqa: RUF001
        previous = bound
    entries.append((f"url(#{ident}-hachures)", missing_label))
    for index, (fill, label) in enumerate(entries):
        y = pad + 10 + index * 24
        parts.append(
            f'<rect x="{legend_x}" y="{y}" width="18" height="16" fill="{fill}" '
            f'stroke="{GRID}" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text x="{legend_x + 26}" y="{y + 8}" dominant-baseline="central" font-size="12" '
            f'fill="{INK}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
