"""Geographic filters of the records API (bbox, near, commune) on real files, against answers
computed here with independent code (Python's csv and json modules, a haversine and a
ray-casting point-in-polygon written in this file), and the 422s of bad parameters."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SHARED_DATA
from tests.functional.test_records import PUBLIC, SUBVENTIONS, load

BORNES_FILE = SHARED_DATA / "messy" / "bornes-irve-20190805.csv"
BORNES = "bornes-recharge-vehicules-electriques"  # public in the demo
COMMUNES_FILE = SHARED_DATA / "reference/geo/communes-by-departement/communes-56-morbihan.geojson"
SHAPES = "arbres-alignement"  # a public demo dataset, filled here with Morbihan's communes
Point = tuple[float, float]


def number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def stations() -> list[tuple[str, float, float]]:
    """(id_pdc, lon, lat) of every charging point with readable coordinates."""
    with BORNES_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    found = []
    for row in rows:
        lon, lat = number(row["Xlongitude"]), number(row["Ylatitude"])
        if lon is not None and lat is not None:
            found.append((row["id_pdc"], lon, lat))
    return found


def haversine(a: Point, b: Point) -> float:
    (lon1, lat1), (lon2, lat2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, h)))


def rings_of(geometry: dict[str, Any]) -> list[list[list[Point]]]:
    """Polygons (outer ring, holes) of a Polygon or MultiPolygon."""
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    return [[[(float(x), float(y)) for x, y in ring] for ring in polygon] for polygon in polygons]


def in_ring(point: Point, ring: list[Point]) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def contains(geometry: dict[str, Any], point: Point) -> bool:
    return any(
        in_ring(point, polygon[0]) and not any(in_ring(point, hole) for hole in polygon[1:])
        for polygon in rings_of(geometry)
    )


def outline(code: str) -> dict[str, Any]:
    source = resources.files("beffroi.indicators") / "data" / "communes-france.geojson.gz"
    for feature in json.loads(gzip.decompress(source.read_bytes()))["features"]:
        if feature["properties"]["code_insee"] == code:
            geometry: dict[str, Any] = feature["geometry"]
            return geometry
    raise AssertionError(code)


def shapes() -> dict[str, dict[str, Any]]:
    features = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))["features"]
    return {f["properties"]["code"]: f["geometry"] for f in features}


def walk(client: TestClient, slug: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every row of a filtered query (following next links) and the announced total."""
    url = f"/api/v1/datasets/{slug}/records"
    response = client.get(url, params={"limit": 7, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    total = body["meta"]["total"]
    rows = list(body["data"])
    while body["links"]["next"]:
        response = client.get(body["links"]["next"])
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
    assert len(rows) == total
    return rows, total


@pytest.fixture
def bornes(client: TestClient) -> TestClient:
    load(client, BORNES, BORNES_FILE)
    return client


@pytest.fixture
def communes(client: TestClient) -> TestClient:
    load(client, SHAPES, COMMUNES_FILE)
    return client


def test_bbox_on_latitude_longitude_columns(bornes: TestClient) -> None:
    box = (5.30, 43.20, 5.50, 43.40)  # around Marseille
    expected = sorted(
        i for i, lon, lat in stations() if box[0] <= lon <= box[2] and box[1] <= lat <= box[3]
    )
    assert 10 < len(expected) < len(stations())
    rows, _total = walk(bornes, BORNES, bbox=",".join(map(str, box)))
    assert sorted(r["id_pdc"] for r in rows) == expected


def test_near_is_a_metric_distance(bornes: TestClient) -> None:
    centre = (5.448569, 43.345406)
    for metres in (1_500, 10_000):
        expected = sorted(
            i for i, lon, lat in stations() if haversine(centre, (lon, lat)) <= metres
        )
        assert expected
        rows, _total = walk(bornes, BORNES, near=f"{centre[0]},{centre[1]},{metres}")
        assert sorted(r["id_pdc"] for r in rows) == expected


def test_commune_outline_with_other_filters(bornes: TestClient) -> None:
    marseille = outline("13055")
    expected = sorted(i for i, lon, lat in stations() if contains(marseille, (lon, lat)))
    assert len(expected) > 10
    rows, total = walk(bornes, BORNES, commune="13055")
    assert sorted(r["id_pdc"] for r in rows) == expected
    # Combined with a field filter and a facet: AND.
    body = bornes.get(
        f"/api/v1/datasets/{BORNES}/records",
        params={"commune": "13055", "nbre_pdc": "2", "facet": "nbre_pdc"},
    ).json()
    two = sum(1 for r in rows if r["nbre_pdc"] == 2)
    assert body["meta"]["total"] == two < total
    assert body["facets"]["nbre_pdc"] == [{"value": 2, "count": two}]


def test_geometry_column_polygons(communes: TestClient) -> None:
    by_code = shapes()
    point = (-3.3700, 47.7500)  # in Lorient
    inside = sorted(code for code, g in by_code.items() if contains(g, point))
    assert inside == ["56121"]
    d = 0.0001
    box = f"{point[0] - d},{point[1] - d},{point[0] + d},{point[1] + d}"
    rows, _total = walk(communes, SHAPES, bbox=box)
    assert sorted(r["code"] for r in rows) == inside
    rows, _total = walk(communes, SHAPES, near=f"{point[0]},{point[1]},1")
    assert sorted(r["code"] for r in rows) == inside
    # 5 km: every commune with a vertex within 4.5 km is in, none whose nearest vertex is
    # farther than 5 km *and* whose outline's bounding box is 5.5 km away or more.
    rows, _total = walk(communes, SHAPES, near=f"{point[0]},{point[1]},5000")
    found = {r["code"] for r in rows}
    for code, geometry in by_code.items():
        vertices = [p for polygon in rings_of(geometry) for ring in polygon for p in ring]
        nearest = min(haversine(point, v) for v in vertices)
        if nearest <= 4_500:
            assert code in found, code
        if nearest > 5_500:
            assert code not in found, code
    # Within Lorient's (simplified) outline: Lorient and its neighbours touch it; the
    # island of Groix does not.
    rows, _total = walk(communes, SHAPES, commune="56121")
    codes = {r["code"] for r in rows}
    assert "56121" in codes
    assert "56069" not in codes
    assert len(codes) < 10


def test_geographic_export_honours_the_filters(bornes: TestClient) -> None:
    box = (5.30, 43.20, 5.50, 43.40)
    expected = sorted(
        i for i, lon, lat in stations() if box[0] <= lon <= box[2] and box[1] <= lat <= box[3]
    )
    response = bornes.get(
        f"/api/v1/datasets/{BORNES}/export.csv", params={"bbox": ",".join(map(str, box))}
    )
    assert response.status_code == 200, response.text
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["id_pdc"] for r in exported) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "5.5,43.4,5.3,43.2x"}, "bbox"),
        ({"bbox": "5.3,43.4,5.5,43.2"}, "bbox"),  # minlat above maxlat
        ({"bbox": "5.3,95,5.5,96"}, "bbox"),
        ({"near": "5.4,43.3"}, "near"),
        ({"near": "5.4,43.3,0"}, "near"),
        ({"near": "5.4,43.3,-5"}, "near"),
        ({"near": "nan,43.3,100"}, "near"),
        ({"commune": "99999"}, "commune"),
        ({"commune": "13000"}, "commune"),  # a postal code
    ],
)
def test_bad_geographic_parameters_are_422(
    bornes: TestClient, params: dict[str, str], field: str
) -> None:
    response = bornes.get(f"/api/v1/datasets/{BORNES}/records", params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"][0]["field"] == field
    assert body["hint"]


def test_geographic_filter_on_a_dataset_without_positions(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    response = client.get(f"/api/v1/datasets/{PUBLIC}/records", params={"near": "1,45,100"})
    assert response.status_code == 422
    body = response.json()
    assert "latitude/longitude" in body["detail"]
    english = client.get(
        f"/api/v1/datasets/{PUBLIC}/records", params={"bbox": "1,45,2,46", "lang": "en"}
    )
    assert english.status_code == 422


def test_a_commune_column_of_a_dataset_without_positions_is_still_a_field(
    client: TestClient, tmp_path: Path
) -> None:
    # The charging points without their coordinates, the INSEE code column named « commune ».
    with BORNES_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    path = tmp_path / "bornes-sans-coordonnees.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id_pdc", "commune", "nbre_pdc"])
        writer.writerows([r["id_pdc"], r["code_insee"], r["nbre_pdc"]] for r in rows)
    load(client, BORNES, path)
    expected = sorted(r["id_pdc"] for r in rows if r["code_insee"] == "13055")
    assert expected
    found, _total = walk(client, BORNES, commune="13055")
    assert sorted(r["id_pdc"] for r in found) == expected
    response = client.get(f"/api/v1/datasets/{BORNES}/records", params={"bbox": "5,43,6,44"})
    assert response.status_code == 422


def test_geojson_export_of_points_honours_the_filters(bornes: TestClient) -> None:
    box = (5.30, 43.20, 5.50, 43.40)
    expected = sorted(
        (i, lon, lat)
        for i, lon, lat in stations()
        if box[0] <= lon <= box[2] and box[1] <= lat <= box[3]
    )
    response = bornes.get(
        f"/api/v1/datasets/{BORNES}/export.geojson",
        params={"bbox": ",".join(map(str, box)), "select": "id_pdc,nbre_pdc"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    assert (
        'filename="bornes-recharge-vehicules-electriques.geojson"'
        in (response.headers["content-disposition"])
    )
    collection = json.loads(response.content)
    assert collection["type"] == "FeatureCollection"
    found = sorted(
        (
            f["properties"]["id_pdc"],
            f["geometry"]["coordinates"][0],
            f["geometry"]["coordinates"][1],
        )
        for f in collection["features"]
    )
    assert found == expected
    assert {tuple(f["properties"]) for f in collection["features"]} == {("id_pdc", "nbre_pdc")}


def test_geojson_export_of_shapes(communes: TestClient) -> None:
    by_code = shapes()
    response = communes.get(f"/api/v1/datasets/{SHAPES}/export.geojson")
    assert response.status_code == 200, response.text
    features = json.loads(response.content)["features"]
    assert len(features) == len(by_code)
    for feature in features:
        assert feature["geometry"] == by_code[feature["properties"]["code"]]
        assert set(feature["properties"]) == {"code", "nom"}  # geometry not repeated
    lorient = communes.get(
        f"/api/v1/datasets/{SHAPES}/export.geojson", params={"near": "-3.37,47.75,1"}
    )
    assert [f["properties"]["code"] for f in json.loads(lorient.content)["features"]] == ["56121"]


def test_geojson_export_needs_positions(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    response = client.get(f"/api/v1/datasets/{PUBLIC}/export.geojson")
    assert response.status_code == 422
    assert "latitude/longitude" in response.json()["detail"]
    sql = client.post("/api/v1/sql/export.geojson", json={"sql": "SELECT 1 AS one"})
    assert sql.status_code == 422
