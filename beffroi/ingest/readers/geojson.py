"""GeoJSON: one row per feature, its properties as columns, its geometry as GeoJSON text.

The ``geometry`` column holds each feature's geometry as compact GeoJSON (null when the
feature has none); a property also called ``geometry`` becomes ``geometry_2``. A feature
``id`` becomes an ``id`` column. Properties are flattened like JSON records (dotted names).

Accepted: a FeatureCollection (streamed, in two passes like :mod:`.json`), a single Feature,
a bare geometry, an array of features, and GeoJSON text sequences (one feature per line).
The coordinate reference system is noted in ``dialect.notes``: the legacy ``crs`` member when
present (``EPSG:2154``…), else WGS 84 as RFC 7946 mandates — with a warning when coordinates
are obviously not degrees.

Geometries in the projections of French GIS exports — Lambert 93 (EPSG:2154), the conic
conformal zones CC42 to CC50 (EPSG:3942 to 3950) and Web Mercator (EPSG:3857) — are
reprojected to WGS 84 longitude/latitude while the batches are read, which is what maps,
``bbox`` and ``near`` filters and GeoJSON exports expect. The work is DuckDB's spatial
extension (PROJ and its database ship inside the pinned wheel: nothing is downloaded), one
query per batch: ``ST_GeomFromGeoJSON`` → ``ST_Transform`` → ``ST_AsGeoJSON``. Other systems
are kept as they are, with a note saying so and how to convert them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

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
from beffroi.store.duck import connect

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
_EPSG = re.compile(r"EPSG:(?:[\d.]*:)?(\d+)", re.IGNORECASE)  # EPSG:2154, urn:…:EPSG::2154
GEOMETRY_COLUMN = "geometry"

# Projected systems converted to WGS 84: declared code → (PROJ code, name shown in notes).
REPROJECTED: dict[int, tuple[str, str]] = {
    2154: ("EPSG:2154", "Lambert 93"),
    **{code: (f"EPSG:{code}", f"Lambert CC{code - 3900}") for code in range(3942, 3951)},
    3857: ("EPSG:3857", "Web Mercator"),
    3785: ("EPSG:3857", "Web Mercator"),  # its former EPSG code
    900913: ("EPSG:3857", "Web Mercator"),  # "google" in old exports
    102100: ("EPSG:3857", "Web Mercator"),  # Esri's code, written EPSG:102100 by some tools
    # Former national system, still in old exports (PROJ has no NTF grid here: its
    # Helmert fallback is good to a few metres, enough for maps and filters).
    27572: ("EPSG:27572", "Lambert II étendu"),
    # Overseas départements and territories (their legal systems, and WGS 84 UTM zones).
    2972: ("EPSG:2972", "RGFG95 / UTM 22N, Guyane"),
    2975: ("EPSG:2975", "RGR92 / UTM 40S, La Réunion"),
    4471: ("EPSG:4471", "RGM04 / UTM 38S, Mayotte"),
    5490: ("EPSG:5490", "RGAF09 / UTM 20N, Antilles"),
    4467: ("EPSG:4467", "RGSPM06 / UTM 21N, Saint-Pierre-et-Miquelon"),
    **{code: (f"EPSG:{code}", f"WGS 84 / UTM {code - 32600}N") for code in (32620, 32621, 32622)},
    **{code: (f"EPSG:{code}", f"WGS 84 / UTM {code - 32700}S") for code in (32738, 32740)},
}
# Systems whose coordinates are already longitude/latitude degrees (kept as they are).
DEGREES = {4326, 4171, 4258, 4019}
_TO_WGS84 = (
    "SELECT ST_AsGeoJSON(TRY(ST_Transform(ST_GeomFromGeoJSON(g), '{crs}', 'EPSG:4326', "
    "always_xy := true))) AS g FROM geometries"
)


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


class Reprojection:
    """Converts the ``geometry`` column of batches from a projected system to WGS 84.

    One DuckDB connection (spatial extension loaded from its wheel) for the whole read, closed
    by :meth:`close`; each batch's geometries go through one vectorised query. A geometry
    DuckDB cannot read is an :class:`~beffroi.errors.InvalidFileError` naming the feature,
    rather than a column that would mix metres and degrees.
    """

    def __init__(self, path: Path, crs: str, declared: str) -> None:
        self._path = path
        self._sql = _TO_WGS84.format(crs=crs)
        self._declared = declared
        self._con = connect(extensions=("spatial",), config={"threads": 1})

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()

    def __call__(self, batch: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
        """``batch`` with its geometries in WGS 84 (``first_row``: features before it)."""
        index = batch.schema.get_field_index(GEOMETRY_COLUMN)
        column = batch.column(index) if index >= 0 else None
        if column is None or column.null_count == len(column):
            return batch
        self._con.register("geometries", pa.table({"g": column}))
        try:
            converted = self._con.execute(self._sql).to_arrow_table().column("g")
        finally:
            self._con.unregister("geometries")
        if len(converted) != len(column):  # pragma: no cover - DuckDB keeps one row per row
            raise RuntimeError("reprojection changed the number of rows")
        failed = pc.and_(pc.is_null(converted), pc.is_valid(column))
        if pc.any(failed).as_py():
            position = pc.index(failed, True).as_py()
            raise self._error(str(column[position].as_py()), first_row + position + 1)
        return batch.set_column(
            index, batch.schema.field(index), converted.combine_chunks().cast(pa.string())
        )

    def _error(self, geometry: str, feature: int) -> Exception:
        """Why the ``feature``-th geometry cannot be converted (DuckDB's own words)."""
        reason = "géométrie illisible"
        try:
            self._con.execute("SELECT ST_AsGeoJSON(ST_GeomFromGeoJSON(?))", [geometry])
        except duckdb.Error as error:
            text = str(error).removeprefix("Invalid Input Error: ").split("\n")[0]
            reason = text.split(": {")[0][:200]  # without the geometry, shown in ``value``
        shown = geometry if len(geometry) <= 120 else geometry[:117] + "…"
        return invalid(
            f"GeoJSON invalide : la géométrie de l'entité n° {feature} ne peut pas être "
            f"reprojetée depuis {self._declared} vers WGS 84 ({reason}).",
            "Corrigez cette géométrie (type et coordonnées selon la RFC 7946) ou remplacez-la "
            "par null, puis déposez le fichier à nouveau.",
            self._path,
            message_en=f"Invalid GeoJSON: the geometry of feature no. {feature} cannot be "
            f"reprojected from {self._declared} to WGS 84 ({reason}).",
            hint_en="Fix this geometry (type and coordinates as RFC 7946 says) or replace it "
            "with null, then upload the file again.",
            row=feature,
            value=shown,
        )


class GeoJsonSource(JsonSource):
    """A :class:`JsonSource` whose batches have their geometries reprojected to WGS 84 when
    ``reprojection`` (PROJ code of the file's system, and its declared name) is set."""

    reprojection: tuple[str, str] | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The records, with geometries in WGS 84 longitude/latitude when reprojected."""
        if self.reprojection is None:
            yield from super().batches()
            return
        reproject = Reprojection(self.path, *self.reprojection)
        try:
            rows = 0
            for batch in super().batches():
                yield reproject(batch, rows)
                rows += batch.num_rows
        finally:
            reproject.close()


def _epsg_code(crs: str | None) -> int | None:
    if crs is None or not crs.startswith("EPSG:"):
        return None
    return int(crs[5:])


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


def _crs_notes(source: GeoJsonSource, crs: str | None, point: list[float] | None) -> None:
    """Note the coordinate system, and set up the reprojection to WGS 84 when there is one."""
    in_degrees = point is not None and abs(point[0]) <= 180 and abs(point[1]) <= 90
    if crs:
        source.dialect.notes.append(f"système de coordonnées : {crs} (membre « crs »)")
        code = _epsg_code(crs)
        if crs == "WGS 84 (CRS84)" or code in DEGREES or point is None:
            return  # degrees already, or no position at all
        target = REPROJECTED.get(code) if code is not None else None
        if target is not None and in_degrees:
            source.dialect.notes.append(
                f"attention : le membre « crs » annonce {crs} ({target[1]}) mais les "
                "coordonnées sont en degrés — conservées telles quelles, sans reprojection"
            )
        elif target is not None:
            source.reprojection = (target[0], crs)
            source.dialect.notes.append(
                f"reprojeté depuis {crs} vers WGS 84 ({target[1]} → longitude, latitude en degrés)"
            )
        else:
            source.dialect.notes.append(
                f"attention : {crs} n'est pas reprojeté — coordonnées conservées telles "
                "quelles ; la carte et les filtres par emprise (en degrés) ne les trouveront "
                "pas. Reprojetez le fichier en WGS 84 (EPSG:4326) avant le dépôt, par exemple "
                "ogr2ogr -t_srs EPSG:4326 sortie.geojson entree.geojson"
            )
    else:
        source.dialect.notes.append(
            "système de coordonnées : WGS 84 (EPSG:4326), implicite en GeoJSON"
        )
        if point is not None and not in_degrees:
            source.dialect.notes.append(
                "attention : coordonnées hors des bornes des degrés — projection métrique "
                "probable (Lambert 93, EPSG:2154 ?)"
            )


def open_geojson(path: Path, options: ReadOptions, size: int, fmt: str) -> GeoJsonSource:
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

    source = GeoJsonSource(
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
    _crs_notes(source, _crs_name(members.get("crs")), seen.first_point)
    if seen.types:
        kinds = ", ".join(f"{kind} x{n}" for kind, n in seen.types.most_common())
        dialect.notes.append(f"géométries : {kinds}")
    source.dialect.notes = dialect.notes
    return source
