"""Geometry through the whole chain: a GeoJSON file or a WKT column ingested, stored, filtered
by bounding box, exported as GeoJSON and drawn on the dataset's map.

Geometries are stored as text (GeoJSON as compact text, WKT as written): the query side
(``beffroi.query.geo``, ``.geojson``, ``.features``) reads them from a ``VARCHAR`` column.
Expected answers are computed here from the files with the ``json`` and ``csv`` modules.
GeoJSON in Lambert 93 is reprojected to WGS 84 on reading: the fixture is a real file
projected to Lambert 93 by DuckDB's spatial extension, read back within 1e-6°.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.ingest.pipeline import IngestSummary, ingest_file
from beffroi.store import store_for
from beffroi.store.duck import connect
from tests.conftest import SHARED_DATA
from tests.functional.test_records_geo import walk

ZFE = SHARED_DATA / "schemas/zfe/examples/exemple-valide-zone.geojson"
CORSE = SHARED_DATA / "reference/geo/communes-by-departement/communes-2A-corse-du-sud.geojson"
SLUG = "arbres-alignement"  # a public demo dataset
HTML = {"Accept": "text/html"}
Box = tuple[float, float, float, float]


def ingest(client: TestClient, path: Path) -> IngestSummary:
    settings = client.app.state.settings
    return ingest_file(
        client.app.state.session_factory,
        store_for(settings),
        Actor.system(name="test"),
        SLUG,
        path,
        publish=True,
    )


def bounds(geometry: dict[str, Any]) -> Box:
    """The bounding box of a GeoJSON (Multi)Polygon."""
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    xs = [x for polygon in polygons for ring in polygon for x, _ in ring]
    ys = [y for polygon in polygons for ring in polygon for _, y in ring]
    return min(xs), min(ys), max(xs), max(ys)


def box_text(box: Box) -> str:
    return ",".join(str(v) for v in box)


def export(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/datasets/{SLUG}/export.geojson", params=params)
    assert response.status_code == 200, response.text
    document = json.loads(response.content)
    assert document["type"] == "FeatureCollection"
    features: list[dict[str, Any]] = document["features"]
    return features


def map_page(client: TestClient) -> str:
    response = client.get(f"/jeux-de-donnees/{SLUG}/carte?lang=en", headers=HTML)
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


def test_zfe_zone_geojson_through_the_chain(client: TestClient) -> None:
    source = json.loads(ZFE.read_text(encoding="utf-8"))
    feature = source["features"][0]
    summary = ingest(client, ZFE)
    assert summary.rows == 1
    stored = {c["name"]: c["type"] for c in summary.columns}
    assert stored["geometry"] == "string"  # GeoJSON text, not WKB
    assert stored["date_debut"] == "date32[day]"
    assert (
        "système de coordonnées : WGS 84 (EPSG:4326), implicite en GeoJSON"
        in (summary.dialect["notes"])
    )
    fields = client.get(f"/api/v1/datasets/{SLUG}/records", params={"limit": 1}).json()["fields"]
    assert {f["name"]: f["duckdb_type"] for f in fields}["geometry"] == "VARCHAR"
    # Records: the geometry is the feature's own, as compact GeoJSON text.
    rows, total = walk(client, SLUG)
    assert total == 1
    assert json.loads(rows[0]["geometry"]) == feature["geometry"]
    assert rows[0]["id"] == "200046977-ZFE-001"
    assert rows[0]["date_debut"] == "2019-07-01"
    # Bounding boxes: inside the zone (Paris centre), across its edge, far away (Lyon).
    assert walk(client, SLUG, bbox="2.34,48.85,2.35,48.86")[1] == 1
    west, south, _east, north = bounds(feature["geometry"])
    assert walk(client, SLUG, bbox=box_text((west - 0.01, south, west + 0.001, north)))[1] == 1
    assert walk(client, SLUG, bbox=box_text((west - 0.2, south, west - 0.1, north)))[1] == 0
    assert walk(client, SLUG, bbox="4.80,45.70,4.90,45.80")[1] == 0
    # GeoJSON export: the same geometry and properties back.
    (exported,) = export(client)
    assert exported["geometry"] == feature["geometry"]
    assert exported["properties"]["id"] == "200046977-ZFE-001"
    assert exported["properties"]["url_site"] == feature["properties"]["url_site"]
    assert "geometry" not in exported["properties"]
    assert export(client, bbox="4.80,45.70,4.90,45.80") == []
    # Map: one polygon drawn.
    text = map_page(client)
    assert "1 rows read out of 1" in text
    assert "0 points, 0 lines, 1 polygons" in text


def test_corse_du_sud_communes_bbox_export_and_map(client: TestClient) -> None:
    source = json.loads(CORSE.read_text(encoding="utf-8"))
    by_code = {f["properties"]["code"]: f["geometry"] for f in source["features"]}
    summary = ingest(client, CORSE)
    assert summary.rows == len(by_code) == 124
    # Around Ajaccio: communes whose outline lies within the box are in; those whose
    # bounding box does not meet it are out.
    box = (8.60, 41.85, 8.85, 42.00)
    rows, _ = walk(client, SLUG, bbox=box_text(box))
    found = {r["code"] for r in rows}
    assert "2A004" in found  # Ajaccio, its code kept as text
    for code, geometry in by_code.items():
        w, s, e, n = bounds(geometry)
        if box[0] <= w and e <= box[2] and box[1] <= s and n <= box[3]:
            assert code in found, code
        if e < box[0] or w > box[2] or n < box[1] or s > box[3]:
            assert code not in found, code
    features = export(client, bbox=box_text(box))
    assert {f["properties"]["code"] for f in features} == found
    for feature in features:
        assert feature["geometry"] == by_code[feature["properties"]["code"]]
    text = map_page(client)
    assert "124 rows read out of 124" in text
    assert "0 points, 0 lines, 124 polygons" in text


def test_wkt_column_through_the_chain(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "equipements.csv"
    path.write_text(
        "nom;geom;capacite\n"
        "Médiathèque;POINT (2.3522 48.8566);120\n"
        "Piscine;POINT (4.8357 45.764);300\n"
        "Piste cyclable;LINESTRING (2.30 48.80, 2.40 48.90);\n"
        "Parc;POLYGON ((2.20 48.70, 2.25 48.70, 2.25 48.75, 2.20 48.75, 2.20 48.70));\n"
        "Sans position;;\n",
        encoding="utf-8",
    )
    summary = ingest(client, path)
    assert summary.rows == 5
    assert {c["name"]: c["type"] for c in summary.columns}["geom"] == "string"  # WKT text
    rows, _ = walk(client, SLUG)
    assert rows[0]["geom"] == "POINT (2.3522 48.8566)"
    # Paris: the point, the line crossing the box, not the park south-west of it.
    rows, total = walk(client, SLUG, bbox="2.33,48.84,2.37,48.87")
    assert sorted(r["nom"] for r in rows) == ["Médiathèque", "Piste cyclable"]
    assert total == 2
    rows, _ = walk(client, SLUG, bbox="2.21,48.71,2.22,48.72")  # inside the park
    assert [r["nom"] for r in rows] == ["Parc"]
    # Export: WKT made GeoJSON geometries; the row without a position has a null geometry.
    features = {f["properties"]["nom"]: f for f in export(client)}
    assert features["Médiathèque"]["geometry"] == {
        "type": "Point",
        "coordinates": [2.3522, 48.8566],
    }
    assert features["Piste cyclable"]["geometry"] == {
        "type": "LineString",
        "coordinates": [[2.3, 48.8], [2.4, 48.9]],
    }
    assert features["Parc"]["geometry"]["type"] == "Polygon"
    assert features["Parc"]["geometry"]["coordinates"][0][2] == [2.25, 48.75]
    assert features["Sans position"]["geometry"] is None
    assert features["Piscine"]["properties"]["capacite"] == 300
    text = map_page(client)
    assert "5 rows read out of 5" in text
    assert "2 points, 1 lines, 1 polygons" in text


def test_projected_coordinates_are_kept_as_they_are(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "utm.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {
                    "type": "name",
                    "properties": {"name": "EPSG:2056"},
                },  # Swiss CH1903+ / LV95
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"nom": "Saint-Denis"},
                        "geometry": {"type": "Point", "coordinates": [338_000.5, 7_690_000.25]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    summary = ingest(client, path)
    assert "système de coordonnées : EPSG:2056 (membre « crs »)" in summary.dialect["notes"]
    rows, _ = walk(client, SLUG)
    assert json.loads(rows[0]["geometry"])["coordinates"] == [338_000.5, 7_690_000.25]
    # Metres are not degrees: nothing is drawn, and no degree box finds the point.
    assert walk(client, SLUG, bbox="55.4,-20.9,55.5,-20.8")[1] == 0
    text = map_page(client)
    assert "This dataset has no position to show on a map" in text


def lambert93(source: dict[str, Any]) -> dict[str, Any]:
    """The collection projected to Lambert 93 by DuckDB's spatial extension (PROJ), in one
    query, with the legacy ``crs`` member that GIS exports write."""
    geometries = pa.table({"g": [json.dumps(f["geometry"]) for f in source["features"]]})
    con = connect(extensions=("spatial",))
    try:
        con.register("geometries", geometries)
        projected = con.execute(
            "SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromGeoJSON(g), 'EPSG:4326', "
            "'EPSG:2154', always_xy := true)) FROM geometries"
        ).fetchall()
    finally:
        con.close()
    features = [
        {**feature, "geometry": json.loads(text)}
        for feature, (text,) in zip(source["features"], projected, strict=True)
    ]
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}
    return {"type": "FeatureCollection", "crs": crs, "features": features}


def largest_gap(a: Any, b: Any) -> float:
    """The largest coordinate difference between two same-shaped coordinate arrays."""
    if isinstance(a, list):
        assert isinstance(b, list)
        return max((largest_gap(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    return abs(float(a) - float(b))


def test_lambert_93_geojson_is_reprojected_to_wgs84(client: TestClient, tmp_path: Path) -> None:
    source = json.loads(CORSE.read_text(encoding="utf-8"))
    by_code = {f["properties"]["code"]: f["geometry"] for f in source["features"]}
    projected = lambert93(source)
    first = projected["features"][0]["geometry"]["coordinates"][0][0][0]
    assert first[0] > 1_000_000  # metres (Corsica lies east of Lambert 93's false easting)
    path = tmp_path / "communes-2a-lambert93.geojson"
    path.write_text(json.dumps(projected), encoding="utf-8")
    summary = ingest(client, path)
    assert summary.rows == 124
    notes = summary.dialect["notes"]
    assert "système de coordonnées : EPSG:2154 (membre « crs »)" in notes
    assert any(note.startswith("reprojeté depuis EPSG:2154 vers WGS 84") for note in notes)
    # Records: the stored text is in degrees, longitude first, within 1e-6° of the original.
    rows, total = walk(client, SLUG)
    assert total == 124
    for row in rows:
        geometry = json.loads(row["geometry"])
        original = by_code[row["code"]]
        assert geometry["type"] == original["type"]
        assert largest_gap(geometry["coordinates"], original["coordinates"]) < 1e-6, row["code"]
    # A box in degrees around Ajaccio finds what it finds in the original file.
    box = (8.60, 41.85, 8.85, 42.00)
    rows, _ = walk(client, SLUG, bbox=box_text(box))
    found = {r["code"] for r in rows}
    assert "2A004" in found
    for code, geometry in by_code.items():
        w, s, e, n = bounds(geometry)
        if box[0] <= w and e <= box[2] and box[1] <= s and n <= box[3]:
            assert code in found, code
        if e < box[0] or w > box[2] or n < box[1] or s > box[3]:
            assert code not in found, code
    assert walk(client, SLUG, bbox="8.73,41.91,8.74,41.92")[1] >= 1  # central Ajaccio
    assert walk(client, SLUG, bbox="2.30,48.80,2.40,48.90")[1] == 0  # Paris
    # GeoJSON export: degrees too, matching the original outlines.
    features = export(client, bbox=box_text(box))
    assert {f["properties"]["code"] for f in features} == found
    for feature in features:
        original = by_code[feature["properties"]["code"]]
        gap = largest_gap(feature["geometry"]["coordinates"], original["coordinates"])
        assert gap < 1e-6
    # Map: every commune drawn.
    text = map_page(client)
    assert "124 rows read out of 124" in text
    assert "0 points, 0 lines, 124 polygons" in text


def test_unknown_projection_is_kept_with_a_hint(client: TestClient, tmp_path: Path) -> None:
    point = {"type": "Point", "coordinates": [338_000.5, 7_690_000.25]}
    path = tmp_path / "utm.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {
                    "type": "name",
                    "properties": {"name": "EPSG:2056"},
                },  # Swiss CH1903+ / LV95
                "features": [{"type": "Feature", "properties": {"n": 1}, "geometry": point}],
            }
        ),
        encoding="utf-8",
    )
    summary = ingest(client, path)
    assert any("EPSG:2056 n'est pas reprojeté" in note for note in summary.dialect["notes"])
    rows, _ = walk(client, SLUG)
    assert json.loads(rows[0]["geometry"]) == point
