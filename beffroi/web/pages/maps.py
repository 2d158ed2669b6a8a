"""Server-side SVG maps: the member communes (each a link) and a dataset's features.

Outlines are the ones the dashboards draw (:func:`beffroi.indicators.dashboards.shapes`: the
EPCI's own file, else the simplified national layer shipped gzipped). The projection is a
plain equirectangular one scaled by the cosine of the middle latitude — right enough at the
scale of an intercommunality. No JavaScript; every map has a title, a description and a
text alternative on its page (the list of communes, the summary of the features).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from markupsafe import Markup, escape

from beffroi.indicators import dashboards
from beffroi.query.features import MapFeatures, Ring

WIDTH = 720
PAD = 8
INK = "#1b1f24"
LAND = "#eef1f5"
EDGE = "#8d96a3"
POINT = "#1d4e89"  # --brand
SHAPE = "#8a4b00"  # --warn: 6.4:1 on white, apart from the blue points


@dataclass(frozen=True, slots=True)
class Outline:
    """A commune's outline: INSEE code, name, rings (lon, lat)."""

    code: str
    name: str
    rings: Sequence[Ring]


def outlines(codes: Iterable[str], epci_siren: str | None = None) -> list[Outline]:
    """The outlines of these communes (the EPCI's file first, else the national layer)."""
    wanted = list(codes)
    own = dashboards.shapes(epci_siren) if epci_siren else {}
    if any(code not in own for code in wanted):  # a member outside the EPCI's file: national
        national = _national()
        own = {**national, **own}
    found: list[Outline] = []
    for code in wanted:
        if code in own:
            name, rings = own[code]
            found.append(Outline(code, name, rings))
    return found


@cache
def _national() -> dict[str, tuple[str, list[Ring]]]:
    """Every commune of the national layer (read once, on the first need)."""
    found: dict[str, tuple[str, list[Ring]]] = {}
    for feature in dashboards._national_features():
        geometry = feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        rings = [
            [(float(x), float(y)) for x, y in ring] for polygon in polygons for ring in polygon
        ]
        found[str(feature["properties"]["code_insee"])] = (str(feature["properties"]["nom"]), rings)
    return found


def outlines_within(
    communes: Sequence[Outline], bounds: tuple[float, float, float, float]
) -> list[Outline]:
    """The communes whose bounding box meets ``bounds``."""
    min_lon, min_lat, max_lon, max_lat = bounds
    found = []
    for commune in communes:
        box = _bounds(p for ring in commune.rings for p in ring)
        if (
            box
            and box[0] <= max_lon
            and box[2] >= min_lon
            and box[1] <= max_lat
            and box[3] >= min_lat
        ):
            found.append(commune)
    return found


class _Projection:
    def __init__(self, bounds: tuple[float, float, float, float]) -> None:
        min_lon, min_lat, max_lon, max_lat = bounds
        self.min_lon, self.max_lat = min_lon, max_lat
        self.cos = math.cos(math.radians((min_lat + max_lat) / 2))
        span_x = (max_lon - min_lon) * self.cos
        span_y = max_lat - min_lat
        span = max(span_x, span_y * 0.6, 0.01)  # a single point still gets a small area
        self.scale = (WIDTH - 2 * PAD) / span
        self.offset_x = PAD + ((WIDTH - 2 * PAD) - span_x * self.scale) / 2
        self.height = max(int(span_y * self.scale + 2 * PAD), 160)
        self.offset_y = PAD + ((self.height - 2 * PAD) - span_y * self.scale) / 2

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            self.offset_x + (lon - self.min_lon) * self.cos * self.scale,
            self.offset_y + (self.max_lat - lat) * self.scale,
        )

    def path(self, rings: Iterable[Ring], *, closed: bool = True) -> str:
        end = " Z" if closed else ""
        return " ".join(
            "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in (self(*p) for p in ring)) + end
            for ring in rings
            if ring
        )


def _bounds(points: Iterable[tuple[float, float]]) -> tuple[float, float, float, float] | None:
    coords = list(points)
    if not coords:
        return None
    lons = [c[0] for c in coords]
    lats = [c[1] for c in coords]
    return min(lons), min(lats), max(lons), max(lats)


def _head(ident: str, height: int, title: str, description: str, *, image: bool) -> list[str]:
    role = ' role="img"' if image else ' role="group"'
    return [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="map"{role} '
            f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
            f'aria-labelledby="{ident}-titre {ident}-desc">'
        ),
        f'<title id="{ident}-titre">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def communes_map(
    communes: Sequence[Outline], *, ident: str, title: str, description: str, href: str
) -> Markup:
    """The communes, each a link (``href`` with ``{code}``) named by the commune's name."""
    bounds = _bounds(p for c in communes for ring in c.rings for p in ring)
    if bounds is None:
        return Markup("")
    project = _Projection(bounds)
    parts = _head(ident, project.height, title, description, image=False)
    for commune in communes:
        target = escape(href.format(code=commune.code))
        parts.append(
            f'<a href="{target}" aria-label="{escape(commune.name)}">'
            f'<path d="{project.path(commune.rings)}"><title>{escape(commune.name)}</title>'
            "</path></a>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def features_map(
    features: MapFeatures,
    background: Sequence[Outline],
    frame: tuple[float, float, float, float],
    *,
    ident: str,
    title: str,
    description: str,
) -> Markup:
    """The features (blue points, brown lines and polygons) over the communes' outlines,
    the map framed on ``frame`` (lon/lat box)."""
    project = _Projection(frame)
    parts = _head(ident, project.height, title, description, image=True)
    for commune in background:
        parts.append(
            f'<path d="{project.path(commune.rings)}" fill="{LAND}" stroke="{EDGE}" '
            'stroke-width="0.8"/>'
        )
    for shape in features.shapes:
        polygon = shape.kind == "polygon"
        fill = f'fill="{SHAPE}" fill-opacity="0.35"' if polygon else 'fill="none"'
        parts.append(
            f'<path d="{project.path(shape.parts, closed=polygon)}" {fill} stroke="{SHAPE}" '
            'stroke-width="1.4"/>'
        )
    radius = 2.2 if len(features.points) > 500 else 3.5
    for lon, lat in features.points:
        x, y = project(lon, lat)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{POINT}" '
            'stroke="#ffffff" stroke-width="0.6"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


__all__ = ["Outline", "communes_map", "features_map", "outlines", "outlines_within"]
