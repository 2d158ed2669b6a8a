"""Geographic filters of the records API: ``bbox``, ``near`` and ``commune``.

A dataset is *geographic* when one of its visible columns holds geometries (kind
``geometry`` in the version's profile: WKT or GeoJSON text) or when it has a pair of
latitude/longitude columns (semantic type in the profile, else the column names:
``lat``/``latitude``/``Ylatitude``…, ``lon``/``lng``/``Xlongitude``…). Coordinates are
WGS 84 degrees (longitude first, as in GeoJSON).

* ``bbox=minlon,minlat,maxlon,maxlat`` — rows whose geometry intersects the box (points:
  inside it, edges included; a box whose ``minlon`` exceeds its ``maxlon`` crosses the
  antimeridian);
* ``near=lon,lat,metres`` — rows within that distance of the point: the great-circle
  (haversine, Earth radius 6 371 008.8 m) distance for points; for lines and polygons the
  distance to their nearest point in a local equirectangular projection centred on the
  point (error well under 1 % within 100 km);
* ``commune=<code INSEE>`` — rows whose geometry intersects the commune's outline (points:
  inside it). Outlines come from the simplified national layer shipped with Beffroi
  (``beffroi/indicators/data/communes-france.geojson.gz``, about 400 m, coordinates rounded
  to 0.001°): a point a few hundred metres from a boundary may fall on the wrong side.

Lat/lon columns stored as text are read with ``TRY_CAST`` (values that are no number, or not
finite, match no geographic filter). Point-in-polygon and geometry parsing use DuckDB's
spatial extension (loaded from its pinned wheel); bbox and near on lat/lon columns are
plain arithmetic.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

from beffroi.errors import InvalidInputError, NotFoundError
from beffroi.ingest.names import name_tokens
from beffroi.ingest.semantic import _LATITUDE_NAMES, _LONGITUDE_NAMES
from beffroi.query.engine import Column, quote

PARAMETERS: Final = frozenset({"bbox", "near", "commune"})
EARTH_RADIUS_M: Final = 6_371_008.8
MAX_NEAR_M: Final = 1_000_000.0
NUMERIC_TYPES: Final = frozenset({"DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT"})
OUTLINES: Final = "communes-france.geojson.gz"
OUTLINES_NOTE: Final = (
    "contours simplifiés (environ 400 m) : un point proche d'une limite communale peut être "
    "attribué à la commune voisine"
)


@dataclass(frozen=True, slots=True)
class GeoColumns:
    """Where a dataset keeps its positions: one geometry column or a lat/lon pair."""

    geometry: str | None = None
    latitude: str | None = None
    longitude: str | None = None

    @property
    def needs_spatial(self) -> bool:
        """Whether filters on these columns need DuckDB's spatial extension (always for a
        geometry column; for lat/lon, only ``commune``)."""
        return self.geometry is not None


@dataclass(frozen=True, slots=True)
class GeoFilter:
    """One geographic condition: ``kind`` is ``bbox``, ``near`` or ``commune``."""

    kind: str
    numbers: tuple[float, ...] = ()
    code: str | None = None


def _bad(parameter: str, message: str, hint: str, message_en: str, hint_en: str) -> Exception:
    return InvalidInputError(
        message,
        hint=hint,
        message_en=message_en,
        hint_en=hint_en,
        details={"errors": [{"field": parameter, "message": message}]},
    )


def find_columns(profile: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> GeoColumns:
    """The geographic columns among the visible ``columns`` (empty when there is none)."""
    visible = {c.name: c for c in columns}
    kinds = {str(p.get("name")): p for p in profile}
    for column in columns:
        if kinds.get(column.name, {}).get("type") == "geometry" and column.type == "VARCHAR":
            return GeoColumns(geometry=column.name)
    latitude = longitude = None
    for column in columns:
        semantic = kinds.get(column.name, {}).get("semantic")
        tokens = set(name_tokens(column.name))
        if column.type not in NUMERIC_TYPES and column.type != "VARCHAR":
            continue
        if latitude is None and (semantic == "latitude" or tokens & _LATITUDE_NAMES):
            latitude = column.name
        elif longitude is None and (semantic == "longitude" or tokens & _LONGITUDE_NAMES):
            longitude = column.name
    if latitude in visible and longitude in visible:
        return GeoColumns(latitude=latitude, longitude=longitude)
    return GeoColumns()


def _numbers(parameter: str, value: str, count: int, example: str) -> tuple[float, ...]:
    parts = [p.strip() for p in value.split(",")]
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise _bad(
            parameter,
            f"{parameter} invalide : {value!r} ({count} nombres séparés par des virgules)",
            f"exemple : {parameter}={example} (degrés WGS 84, longitude d'abord)",
            f"invalid {parameter}: {value!r} ({count} comma-separated numbers)",
            f"example: {parameter}={example} (WGS 84 degrees, longitude first)",
        )
    return numbers


def _check_lon_lat(parameter: str, lon: float, lat: float) -> None:
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _bad(
            parameter,
            f"{parameter} : coordonnées hors bornes (longitude {lon:g}, latitude {lat:g})",
            "longitude entre -180 et 180, latitude entre -90 et 90, longitude d'abord",
            f"{parameter}: coordinates out of range (longitude {lon:g}, latitude {lat:g})",
            "longitude between -180 and 180, latitude between -90 and 90, longitude first",
        )


def parse(params: Iterable[tuple[str, str]]) -> list[GeoFilter]:
    """The geographic filters among the query-string pairs (checked values)."""
    found: list[GeoFilter] = []
    for name, value in params:
        if name == "bbox":
            box = _numbers("bbox", value, 4, "-3.45,47.70,-3.30,47.80")
            _check_lon_lat("bbox", box[0], box[1])
            _check_lon_lat("bbox", box[2], box[3])
            if box[1] > box[3]:
                raise _bad(
                    "bbox",
                    f"bbox : latitude minimale {box[1]:g} au-dessus de la maximale {box[3]:g}",
                    "ordre : minlon,minlat,maxlon,maxlat",
                    f"bbox: minimum latitude {box[1]:g} above the maximum {box[3]:g}",
                    "order: minlon,minlat,maxlon,maxlat",
                )
            found.append(GeoFilter("bbox", box))
        elif name == "near":
            near = _numbers("near", value, 3, "-3.37,47.75,500")
            _check_lon_lat("near", near[0], near[1])
            if not 0 < near[2] <= MAX_NEAR_M:
                raise _bad(
                    "near",
                    f"near : distance hors bornes ({near[2]:g} m)",
                    f"une distance en mètres, de 0 à {MAX_NEAR_M:g}",
                    f"near: distance out of range ({near[2]:g} m)",
                    f"a distance in metres, from 0 to {MAX_NEAR_M:g}",
                )
            found.append(GeoFilter("near", near))
        elif name == "commune":
            code = value.strip().upper()
            if code not in outlines():
                raise _bad(
                    "commune",
                    f"commune inconnue : {value!r} (code INSEE attendu)",
                    "un code INSEE de commune du COG 2026, ex. commune=56121 (Lorient)",
                    f"unknown commune: {value!r} (an INSEE code is expected)",
                    "an INSEE commune code of the 2026 COG, e.g. commune=56121 (Lorient)",
                )
            found.append(GeoFilter("commune", code=code))
    return found


def not_geographic(slug: str, names: Iterable[str]) -> InvalidInputError:
    """The 422 of a geographic filter on a dataset without positions."""
    unique = sorted(set(names))
    listed = ", ".join(unique)
    return InvalidInputError(
        f"Filtre géographique ({listed}) impossible : le jeu de données {slug} n'a ni colonne "
        "géométrique ni colonnes latitude/longitude",
        hint="ces filtres valent pour les données géolocalisées ; filtrez ici par champ "
        "(ex. code_insee=56121)",
        message_en=f"Geographic filter ({listed}) not possible: dataset {slug} has no geometry "
        "column and no latitude/longitude columns",
        hint_en="these filters apply to geolocated data; filter by field here (e.g. "
        "code_insee=56121)",
        details={"errors": [{"field": n, "message": "jeu non géographique"} for n in unique]},
    )


@cache
def outlines() -> Mapping[str, str]:
    """The simplified outline of every commune (GeoJSON geometry text), by INSEE code."""
    source = resources.files("beffroi.indicators") / "data" / OUTLINES
    try:
        features = json.loads(gzip.decompress(source.read_bytes()))["features"]
    except FileNotFoundError as exc:  # pragma: no cover - shipped with the package
        raise NotFoundError(
            "Contours des communes absents", hint="réinstallez Beffroi (fichier " + OUTLINES + ")"
        ) from exc
    return {
        str(f["properties"]["code_insee"]): json.dumps(f["geometry"], separators=(",", ":"))
        for f in features
    }


def where(filters: Sequence[GeoFilter], columns: GeoColumns) -> tuple[list[str], list[Any]]:
    """SQL conditions (AND-ed by the caller) and their bound parameters."""
    parts: list[str] = []
    params: list[Any] = []
    for item in filters:
        sql, values = _condition(item, columns)
        parts.append(sql)
        params += values
    return parts, params


def number_sql(name: str) -> str:
    """A lat/lon column as a finite DOUBLE (NULL when it is no number)."""
    value = f"TRY_CAST(trim(CAST({quote(name)} AS VARCHAR)) AS DOUBLE)"
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def _geometry(name: str) -> str:
    text = quote(name)
    return (
        f"(CASE WHEN starts_with(ltrim({text}), '{{') THEN try(ST_GeomFromGeoJSON({text})) "
        f"ELSE try(ST_GeomFromText({text})) END)"
    )


def _haversine(lon: str, lat: str) -> str:
    """Great-circle distance in metres from ``(?, ?)`` (lon, lat parameters)."""
    return (
        f"(2 * {EARTH_RADIUS_M} * asin(sqrt(least(1, "
        f"pow(sin(radians({lat} - ?) / 2), 2) + "
        f"cos(radians(?)) * cos(radians({lat})) * pow(sin(radians({lon} - ?) / 2), 2)))))"
    )


def _condition(item: GeoFilter, columns: GeoColumns) -> tuple[str, list[Any]]:  # noqa: PLR0911
    if columns.geometry is None:
        lon, lat = number_sql(columns.longitude or ""), number_sql(columns.latitude or "")
        if item.kind == "bbox":
            min_lon, min_lat, max_lon, max_lat = item.numbers
            join = "AND" if min_lon <= max_lon else "OR"  # across the antimeridian: OR
            return (
                f"({lat} BETWEEN ? AND ? AND ({lon} >= ? {join} {lon} <= ?))",
                [min_lat, max_lat, min_lon, max_lon],
            )
        if item.kind == "near":
            x, y, metres = item.numbers
            return f"({_haversine(lon, lat)} <= ?)", [y, y, x, metres]
        return (
            f"ST_Intersects(ST_GeomFromGeoJSON(?), ST_Point({lon}, {lat}))",
            [outlines()[item.code or ""]],
        )
    geometry = _geometry(columns.geometry)
    if item.kind == "bbox":
        min_lon, min_lat, max_lon, max_lat = item.numbers
        if min_lon <= max_lon:
            return (
                f"ST_Intersects({geometry}, ST_MakeEnvelope(?, ?, ?, ?))",
                [min_lon, min_lat, max_lon, max_lat],
            )
        return (
            (
                f"(ST_Intersects({geometry}, ST_MakeEnvelope(?, ?, 180, ?)) OR "
                f"ST_Intersects({geometry}, ST_MakeEnvelope(-180, ?, ?, ?)))"
            ),
            [min_lon, min_lat, max_lat, min_lat, max_lon, max_lat],
        )
    if item.kind == "near":
        x, y, metres = item.numbers
        # Points: haversine. Other shapes: planar distance in metres after a local
        # equirectangular projection around the point (x scaled by cos(latitude)).
        kx = math.cos(math.radians(y)) * math.pi * EARTH_RADIUS_M / 180
        ky = math.pi * EARTH_RADIUS_M / 180
        point = f"ST_GeometryType({geometry}) = 'POINT'"
        projected = f"ST_Affine({geometry}, {kx!r}, 0, 0, {ky!r}, {-x * kx!r}, {-y * ky!r})"
        return (
            (
                f"(CASE WHEN {point} THEN {_haversine(f'ST_X({geometry})', f'ST_Y({geometry})')} "
                f"<= ? ELSE ST_DWithin({projected}, ST_Point(0, 0), ?) END)"
            ),
            [y, y, x, metres, metres],
        )
    return f"ST_Intersects({geometry}, ST_GeomFromGeoJSON(?))", [outlines()[item.code or ""]]
