"""Outlines of communes and EPCI for ``dct:spatial`` (``locn:geometry``, ``dcat:bbox``).

Read from the simplified national layer shipped for the dashboards' maps
(``beffroi/indicators/data/communes-france.geojson.gz``, ~100 m precision): a commune gets
its own polygon(s), an EPCI the bounding box of its member communes (a true union would need
a geometry engine for little use: harvesters index the box). Coordinates are WGS 84
longitude/latitude, written as GeoSPARQL WKT literals with the CRS84 prefix omitted (the
default CRS of ``geo:wktLiteral``).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

Ring = list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Outline:
    """A place's geometry (WKT) and bounding box (WKT polygon)."""

    wkt: str
    bbox: str


# Each feature opens with its properties: indexing them with a pattern and decoding only the
# features asked for is some 30 times faster than parsing the whole 11 MB layer.
_FEATURE = re.compile(
    r'\{"type":\s*"Feature",\s*"properties":\s*\{"code_insee":\s*"(\w+)"'
    r'(?:,\s*"nom":\s*"(?:[^"\\]|\\.)*")?(?:,\s*"epci_siren":\s*"(\d+)")?'
)


@cache
def _layer() -> tuple[str, dict[str, int], dict[str, list[str]]]:
    """The layer's text, each commune's feature offset in it, commune codes by EPCI."""
    source = resources.files("beffroi.indicators") / "data" / "communes-france.geojson.gz"
    text = gzip.decompress(source.read_bytes()).decode("utf-8")
    offsets: dict[str, int] = {}
    members: dict[str, list[str]] = {}
    for match in _FEATURE.finditer(text):
        code, siren = match.group(1), match.group(2)
        offsets[code] = match.start()
        if siren:
            members.setdefault(siren, []).append(code)
    return text, offsets, members


def _polygons(code: str) -> list[list[Ring]]:
    text, offsets, _ = _layer()
    if code not in offsets:
        return []
    feature, _end = json.JSONDecoder().raw_decode(text, offsets[code])
    geometry = feature["geometry"]
    raw = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [[[(float(x), float(y)) for x, y in ring] for ring in poly] for poly in raw]


def _ring(ring: Ring) -> str:
    return "(" + ", ".join(f"{x:g} {y:g}" for x, y in ring) + ")"


def _box(points: list[tuple[float, float]]) -> str:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    west, east, south, north = min(xs), max(xs), min(ys), max(ys)
    corners = [(west, south), (east, south), (east, north), (west, north), (west, south)]
    return f"POLYGON({_ring(corners)})"


def commune_outline(code: str) -> Outline | None:
    """A commune's polygon(s) and box (None: not in the shipped layer)."""
    polygons = _polygons(code)
    if not polygons:
        return None
    points = [point for polygon in polygons for ring in polygon for point in ring]
    if len(polygons) == 1:
        wkt = "POLYGON(" + ", ".join(_ring(r) for r in polygons[0]) + ")"
    else:
        parts = ("(" + ", ".join(_ring(r) for r in polygon) + ")" for polygon in polygons)
        wkt = "MULTIPOLYGON(" + ", ".join(parts) + ")"
    return Outline(wkt, _box(points))


def epci_outline(siren: str) -> Outline | None:
    """An EPCI's box (from its member communes), as geometry and as bbox."""
    codes = _layer()[2].get(siren, [])
    points = [
        point for code in codes for polygon in _polygons(code) for ring in polygon for point in ring
    ]
    if not points:
        return None
    box = _box(points)
    return Outline(box, box)


def outline(item: str) -> Outline | None:
    """The outline of ``commune:<INSEE>`` or ``epci:<SIREN>``."""
    kind, _, code = item.partition(":")
    return commune_outline(code) if kind == "commune" else epci_outline(code)
