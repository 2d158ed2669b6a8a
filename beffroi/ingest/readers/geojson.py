"""GeoJSON: one row per feature, its properties as columns, its geometry as GeoJSON text.

The ``geometry`` column holds each feature's geometry as compact GeoJSON (null when the
feature has none); a property also called ``geometry`` becomes ``geometry_2``. A feature
``id`` becomes an ``id`` column. Properties are flattened like JSON records (dotted names).

Accepted: a FeatureCollection (streamed, in two passes like :mod:`.json`), a single Feature,
a bare geometry, an array of features, and GeoJSON text sequences (one feature per line).
The coordinate reference system is noted in ``dialect.notes``: the legacy ``crs`` member when
present (``EPSG:2154``…), else WGS 84 as RFC 7946 mandates — with a warning when coordinates
are obviously not degrees.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.readers.json import (
    CACHE_BYTES,
    JsonSource,
    JsonText,
    Record,
    encoding_of,
    flatten,
    load_small,
    ndjson_lines,
)
from beffroi.ingest.sniff import EncodingGuess, invalid

GEOMETRY_KEY = "\x00geometry"
ID_KEY = "\x00id"
GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}
_EPSG = re.compile(r"EPSG:+(\d+)", re.IGNORECASE)


class _Seen:
    """What the first pass noticed about geometries (for the notes)."""

    def __init__(self) -> None:
        self.types: Counter[str] = Counter()
        self.first_point: list[float] | None = None


class FeatureMapper:
    """Feature → record: ``id``, flattened properties, ``geometry`` as GeoJSON text."""

    def __init__(self, path: Path, seen: _Seen) -> None:
        self._path = path
        self._seen = seen
        self._index = 0

    def __call__(self, item: Any) -> Record | None:
        self._index += 1
        if not isinstance(item, dict):
            raise invalid(
                f"GeoJSON invalide : l'entité n° {self._index} n'est pas un objet.",
                "Chaque élément de « features » doit être un objet Feature.",
                self._path,
                message_en=f"Invalid GeoJSON: feature no. {self._index} is not an object.",
                hint_en="Each item of 'features' must be a Feature object.",
                row=self._index,
            )
        if item.get("type") in GEOMETRY_TYPES:
            item = {"type": "Feature", "geometry": item, "properties": None}
        record: Record = {}
        if "id" in item:
            record[ID_KEY] = item["id"]
        properties = item.get("properties")
        if isinstance(properties, dict):
            record.update(flatten(properties))
        geometry = item.get("geometry")
        if isinstance(geometry, dict):
            kind = str(geometry.get("type"))
            self._seen.types[kind] += 1
            if self._seen.first_point is None:
                self._seen.first_point = _first_point(geometry)
            record[GEOMETRY_KEY] = json.dumps(geometry, ensure_ascii=False, separators=(",", ":"))
        else:
            record[GEOMETRY_KEY] = None
        return record


def _first_point(geometry: dict[str, Any]) -> list[float] | None:
    value: Any = geometry.get("coordinates")
    if value is None and geometry.get("geometries"):
        first = geometry["geometries"][0]
        return _first_point(first) if isinstance(first, dict) else None
    while isinstance(value, list) and value and isinstance(value[0], list):
        value = value[0]
    if (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(v, int | float) for v in value[:2])
    ):
        return [float(value[0]), float(value[1])]
    return None


def _crs_name(crs: Any) -> str | None:
    if not isinstance(crs, dict):
        return None
    properties = crs.get("properties")
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str):
        return None
    if name.upper().endswith("CRS84"):
        return "WGS 84 (CRS84)"
    match = _EPSG.search(name)
    return f"EPSG:{match.group(1)}" if match else name


def _metadata(path: Path, guess: EncodingGuess) -> tuple[str, dict[str, Any]]:
    """Top-level shape (``collection``, ``feature``, ``geometry``, ``array``) and members."""
    text = JsonText(path, guess, [0])
    members: dict[str, Any] = {}
    try:
        start = text.peek()
        if start == "[":
            return "array", members
        if start != "{":
            raise text.error("objet GeoJSON attendu", "GeoJSON object expected")
        for key in text.members():
            if key == "features":
                members["features"] = True
                break
            if key in {"type", "crs"}:
                members[key] = text.value()
            else:
                text.skip()
    finally:
        text.close()
    kind = members.get("type")
    if "features" in members or kind == "FeatureCollection":
        return "collection", members
    if kind == "Feature":
        return "feature", members
    if kind in GEOMETRY_TYPES:
        return "geometry", members
    raise invalid(
        f"GeoJSON invalide : « type » vaut {json.dumps(kind, ensure_ascii=False)} au lieu de "
        "FeatureCollection, Feature ou d'un type de géométrie.",
        "Vérifiez le fichier : un GeoJSON commence par "
        '{"type": "FeatureCollection", "features": [...]}.',
        path,
        message_en=f"Invalid GeoJSON: 'type' is {json.dumps(kind, ensure_ascii=False)} instead "
        "of FeatureCollection, Feature or a geometry type.",
        hint_en="Check the file: a GeoJSON document starts with "
        '{"type": "FeatureCollection", "features": [...]}.',
        value=kind,
    )


def open_geojson(path: Path, options: ReadOptions, size: int, fmt: str) -> JsonSource:
    """Open GeoJSON (or a GeoJSON text sequence when ``fmt`` is ``ndjson``)."""
    guess = encoding_of(path, options)
    dialect = Dialect(format="geojson", encoding=guess.name)
    seen = _Seen()
    if fmt == "ndjson":
        shape = "sequence"
        members: dict[str, Any] = {}

        def items(counter: list[int]) -> Iterator[Any]:
            return ndjson_lines(path, guess, counter)

    else:
        shape, members = _metadata(path, guess)
        if "crs" not in members and shape == "collection" and size <= CACHE_BYTES:
            document = load_small(path, guess)
            if isinstance(document, dict) and "crs" in document:
                members["crs"] = document["crs"]

        def items(counter: list[int]) -> Iterator[Any]:
            text = JsonText(path, guess, counter)
            try:
                if shape == "collection":
                    for key in text.members():
                        if key == "features":
                            yield from text.items()
                            return
                        text.skip()
                elif shape == "array":
                    yield from text.items()
                else:
                    yield text.value()
            finally:
                text.close()

    source = JsonSource(
        path,
        size,
        dialect,
        items,
        lambda: FeatureMapper(path, seen),
        options,
        first=[ID_KEY],
        last=[GEOMETRY_KEY],
    )
    if shape == "sequence":
        dialect.notes.append("séquence GeoJSON : une entité par ligne")
    crs = _crs_name(members.get("crs"))
    if crs:
        dialect.notes.append(f"système de coordonnées : {crs} (membre « crs »)")
    else:
        dialect.notes.append("système de coordonnées : WGS 84 (EPSG:4326), implicite en GeoJSON")
        point = seen.first_point
        if point is not None and (abs(point[0]) > 180 or abs(point[1]) > 90):
            dialect.notes.append(
                "attention : coordonnées hors des bornes des degrés — projection métrique "
                "probable (Lambert 93, EPSG:2154 ?)"
            )
    if seen.types:
        kinds = ", ".join(f"{kind} x{n}" for kind, n in seen.types.most_common())
        dialect.notes.append(f"géométries : {kinds}")
    source.dialect.notes = dialect.notes
    return source
