"""Map features of a dataset: its positions (points, lines, polygons) from the records query.

A dataset is drawn on a map when a visible column holds geometries (kind ``geometry`` in
the version's profile: GeoJSON or WKT text) or when it has a latitude/longitude pair
(semantic type in the profile, else the column names). The rows come from the records
query (:func:`beffroi.query.service.records_page`) on the view the access layer allows —
same filters as the table preview — bounded to :data:`MAX_FEATURES`. Coordinates are
WGS 84 degrees, longitude first.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog.models import DatasetVersion
from beffroi.ingest.names import name_tokens
from beffroi.ingest.semantic import _LATITUDE_NAMES, _LONGITUDE_NAMES
from beffroi.query import records as rec
from beffroi.query import service
from beffroi.query.engine import Column
from beffroi.settings import Settings

MAX_FEATURES: Final = 5_000
FRAME_MIN_POSITIONS: Final = 50
Ring = list[tuple[float, float]]
_NUMERIC = frozenset({"DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT", "DECIMAL"})
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_GROUP = re.compile(r"\(([^()]*)\)")


@dataclass(frozen=True, slots=True)
class Positions:
    """Where a dataset keeps its positions (all None: nowhere)."""

    geometry: str | None = None
    latitude: str | None = None
    longitude: str | None = None

    @property
    def found(self) -> bool:
        """Whether the dataset can be drawn on a map."""
        return self.geometry is not None or self.latitude is not None

    @property
    def columns(self) -> list[str]:
        """The columns to read."""
        if self.geometry is not None:
            return [self.geometry]
        return [c for c in (self.longitude, self.latitude) if c is not None]


@dataclass(slots=True)
class Shape:
    """A line or polygon: ``kind`` is ``line`` or ``polygon``; its parts."""

    kind: str
    parts: list[Ring]


@dataclass(slots=True)
class MapFeatures:
    """The features drawn (at most :data:`MAX_FEATURES` rows) and what was left out."""

    positions: Positions
    points: list[tuple[float, float]] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    total: int = 0  # rows matching the filters
    read: int = 0  # rows read (total, bounded)
    unplaced: int = 0  # rows read without a usable position
    outside: int = 0  # features left out of the frame (:meth:`within`)

    @property
    def truncated(self) -> bool:
        """Whether more rows match than were drawn."""
        return self.total > self.read

    def _coords(self) -> list[tuple[float, float]]:
        return list(self.points) + [p for s in self.shapes for part in s.parts for p in part]

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """(min lon, min lat, max lon, max lat) of everything read; None when empty."""
        coords = self._coords()
        if not coords:
            return None
        lons = [c[0] for c in coords]
        lats = [c[1] for c in coords]
        return min(lons), min(lats), max(lons), max(lats)

    def frame(self) -> tuple[float, float, float, float] | None:
        """The box to draw: the bounds, less stray positions when there are many (a few
        swapped latitude/longitude values would otherwise shrink the map to a dot): the
        1st to 99th percentiles of each axis, widened by a tenth of their span."""
        coords = self._coords()
        if len(coords) < FRAME_MIN_POSITIONS:
            return self.bounds
        lons = sorted(c[0] for c in coords)
        lats = sorted(c[1] for c in coords)
        cut = max(1, len(coords) // 100)
        low, high = cut, len(coords) - 1 - cut
        pad_x = (lons[high] - lons[low]) / 10
        pad_y = (lats[high] - lats[low]) / 10
        return (
            max(lons[0], lons[low] - pad_x),
            max(lats[0], lats[low] - pad_y),
            min(lons[-1], lons[high] + pad_x),
            min(lats[-1], lats[high] + pad_y),
        )

    def within(self, box: tuple[float, float, float, float]) -> MapFeatures:
        """The features inside ``box`` (shapes: any part of them); counts kept."""
        min_lon, min_lat, max_lon, max_lat = box

        def inside(point: tuple[float, float]) -> bool:
            return min_lon <= point[0] <= max_lon and min_lat <= point[1] <= max_lat

        kept = MapFeatures(
            self.positions,
            points=[p for p in self.points if inside(p)],
            shapes=[s for s in self.shapes if any(inside(p) for part in s.parts for p in part)],
            total=self.total,
            read=self.read,
            unplaced=self.unplaced,
        )
        kept.outside = len(self.points) + len(self.shapes) - len(kept.points) - len(kept.shapes)
        return kept


def find_positions(profile: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> Positions:
    """The position columns among the visible ``columns``."""
    kinds = {str(p.get("name")): p for p in profile}
    for column in columns:
        if kinds.get(column.name, {}).get("type") == "geometry" and column.type == "VARCHAR":
            return Positions(geometry=column.name)
    latitude = longitude = None
    for column in columns:
        if column.type.split("(")[0] not in _NUMERIC and column.type != "VARCHAR":
            continue
        semantic = kinds.get(column.name, {}).get("semantic")
        tokens = set(name_tokens(column.name))
        if latitude is None and (semantic == "latitude" or tokens & _LATITUDE_NAMES):
            latitude = column.name
        elif longitude is None and (semantic == "longitude" or tokens & _LONGITUDE_NAMES):
            longitude = column.name
    if latitude is not None and longitude is not None:
        return Positions(latitude=latitude, longitude=longitude)
    return Positions()


def _valid(lon: float, lat: float) -> bool:
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        return None


def _pairs(text: str) -> Ring:
    numbers = [float(n) for n in _NUMBER.findall(text)]
    return [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers) - 1, 2)]


def _add_geojson(found: MapFeatures, geometry: Mapping[str, Any]) -> bool:
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "GeometryCollection":
        parts = [_add_geojson(found, g) for g in geometry.get("geometries") or []]
        return any(parts)
    if not isinstance(coords, list) or not coords:
        return False
    if kind == "Point":
        found.points.append((float(coords[0]), float(coords[1])))
    elif kind == "MultiPoint":
        found.points.extend((float(c[0]), float(c[1])) for c in coords)
    elif kind == "LineString":
        found.shapes.append(Shape("line", [[(float(x), float(y)) for x, y, *_ in coords]]))
    elif kind in {"MultiLineString", "Polygon"}:
        rings = [[(float(x), float(y)) for x, y, *_ in part] for part in coords]
        found.shapes.append(Shape("line" if kind == "MultiLineString" else "polygon", rings))
    elif kind == "MultiPolygon":
        rings = [[(float(x), float(y)) for x, y, *_ in ring] for poly in coords for ring in poly]
        found.shapes.append(Shape("polygon", rings))
    else:
        return False
    return True


def _add_wkt(found: MapFeatures, text: str) -> bool:
    kind = text.lstrip().split("(", 1)[0].strip().upper().split(" ")[0]
    groups = [_pairs(g) for g in _GROUP.findall(text)]
    groups = [g for g in groups if g]
    if not groups:
        return False
    if kind in {"POINT", "MULTIPOINT"}:
        found.points.extend(p for g in groups for p in g)
    elif kind in {"LINESTRING", "MULTILINESTRING"}:
        found.shapes.append(Shape("line", groups))
    elif kind in {"POLYGON", "MULTIPOLYGON"}:
        found.shapes.append(Shape("polygon", groups))
    else:
        return False
    return True


def _add_geometry(found: MapFeatures, value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    try:
        if text.startswith("{"):
            return _add_geojson(found, json.loads(text))
        return _add_wkt(found, text)
    except (ValueError, TypeError, IndexError, KeyError):
        return False


def _keep_valid(found: MapFeatures) -> None:
    """Coordinates that are not WGS 84 degrees (Lambert 93 metres…) are not drawn."""
    found.points = [p for p in found.points if _valid(*p)]
    found.shapes = [
        s for s in found.shapes if all(_valid(*p) for part in s.parts for p in part) and s.parts
    ]


def from_rows(positions: Positions, rows: Iterable[Mapping[str, Any]]) -> MapFeatures:
    """Map features of records (as served by the records query)."""
    found = MapFeatures(positions)
    for row in rows:
        found.read += 1
        if positions.geometry is not None:
            placed = _add_geometry(found, row.get(positions.geometry))
        else:
            lon = _number(row.get(positions.longitude or ""))
            lat = _number(row.get(positions.latitude or ""))
            placed = lon is not None and lat is not None and _valid(lon, lat)
            if placed and lon is not None and lat is not None:
                found.points.append((lon, lat))
        if not placed:
            found.unplaced += 1
    _keep_valid(found)
    return found


def map_features(
    session: Session,
    actor: Actor,
    settings: Settings,
    slug: str,
    filters: Sequence[tuple[str, str]] = (),
    *,
    limit: int = MAX_FEATURES,
) -> MapFeatures:
    """The positions of a readable dataset's rows matching the records-API ``filters``
    (``q``, ``field__op=value``), at most ``limit`` rows; empty when it has none."""
    database, view = service.dataset_view(session, actor, settings, slug)
    profile = session.scalar(
        select(DatasetVersion.profile).where(
            DatasetVersion.dataset_id == view.table.dataset_id,
            DatasetVersion.number == view.table.version,
        )
    )
    positions = find_positions(profile or [], view.columns)
    if not positions.found:
        return MapFeatures(positions)
    params = [*filters, ("select", ",".join(positions.columns)), ("limit", str(limit))]
    query = rec.parse(params, default_limit=limit, max_limit=limit)
    page = service.records_page(database, view, query)
    found = from_rows(positions, page.data)
    found.total = page.total
    return found


__all__ = ["MAX_FEATURES", "MapFeatures", "Positions", "Shape", "find_positions", "map_features"]
