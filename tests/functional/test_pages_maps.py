"""Maps: the member communes on the home page, a geometry dataset's features on its map."""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi.testclient import TestClient

from beffroi.query.features import Positions, from_rows
from tests.conftest import SHARED_DATA
from tests.functional.test_records import load

HTML = {"Accept": "text/html"}
MORBIHAN = SHARED_DATA / "reference/geo/communes-by-departement/communes-56-morbihan.geojson"


def _text(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == status, response.text
    return html.unescape(response.text)


def _svg(text: str, ident: str) -> str:
    match = re.search(
        rf'<svg[^>]*aria-labelledby="{ident}-titre {ident}-desc">.*?</svg>', text, re.S
    )
    assert match, f"no map {ident}"
    return match.group(0)


def test_home_map_links_every_member_commune(client: TestClient) -> None:
    text = _text(client, "/")
    svg = _svg(text, "carte-communes")
    links = re.findall(r'<a href="/communes/(\d{5})" aria-label="([^"]+)"><path d="M', svg)
    assert len(links) == 25
    assert ("56121", "Lorient") in links
    assert "Carte des 25 communes membres" in svg
    # The text alternative: the table links to the same commune pages.
    assert 'href="/communes/56121"' in text.split("</svg>", 1)[1]


def test_home_map_in_english(client: TestClient) -> None:
    svg = _svg(_text(client, "/?lang=en"), "carte-communes")
    assert "Map of the 25 member communes" in svg


def test_points_from_latitude_longitude_columns(client: TestClient, tmp_path: Path) -> None:
    source = tmp_path / "bornes.csv"
    rows = ["nom;latitude;longitude;acces"]
    rows += [
        f"borne {i};47.{700 + i};-3.{300 + i};{'payant' if i % 2 else 'gratuit'}" for i in range(60)
    ]
    rows += ["inversée;-3.35;47.75;payant", "sans position;;;gratuit"]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    load(client, "bornes-recharge-vehicules-electriques", source)
    text = _text(client, "/jeux-de-donnees/bornes-recharge-vehicules-electriques/carte")
    svg = _svg(text, "carte-donnees")
    assert 'role="img"' in svg
    assert svg.count("<circle") == 60  # the swapped one is out of the frame, not drawn
    assert "<path" in svg  # the communes' outlines under the points
    assert "62 lignes lues sur 62" in text
    assert "60 points, 0 tracés, 0 polygones" in text
    assert "1 lignes sans position utilisable" in text
    assert "1 entités isolées hors du cadre" in text
    filtered = _text(
        client,
        "/jeux-de-donnees/bornes-recharge-vehicules-electriques/carte?colonne=acces&valeur=payant",
    )
    # 31 positions: too few to leave strays out, so the swapped one is drawn too.
    assert _svg(filtered, "carte-donnees").count("<circle") == 31
    assert "31 lignes lues sur 31" in filtered
    assert "Les filtres de l'aperçu s'appliquent." in filtered


def test_polygons_from_a_geojson_file(client: TestClient) -> None:
    load(client, "arbres-alignement", MORBIHAN)
    text = _text(client, "/jeux-de-donnees/arbres-alignement/carte?lang=en")
    svg = _svg(text, "carte-donnees")
    assert svg.count('fill-opacity="0.35"') == 253
    assert "253 rows read out of 253" in text
    assert "0 points, 0 lines, 253 polygons" in text
    page = _text(client, "/jeux-de-donnees/arbres-alignement")
    assert '<a href="/jeux-de-donnees/arbres-alignement/carte">' in page  # linked from the page


def test_a_dataset_without_positions_has_no_map(client: TestClient) -> None:
    text = _text(client, "/jeux-de-donnees/subventions-associations/carte")
    assert "carte-donnees" not in text
    assert "n'a pas de position à montrer" in text
    page = _text(client, "/jeux-de-donnees/subventions-associations")
    assert "/jeux-de-donnees/subventions-associations/carte" not in page


def test_the_map_of_a_hidden_dataset_is_not_found(client: TestClient) -> None:
    _text(client, "/jeux-de-donnees/consommation-eau-potable-par-commune/carte", 404)


def test_geometries_as_wkt_and_geojson_text() -> None:
    found = from_rows(
        Positions(geometry="geom"),
        [
            {"geom": "POINT (-3.36 47.75)"},
            {"geom": "LINESTRING (-3.3 47.7, -3.2 47.8)"},
            {"geom": "MULTIPOLYGON (((-3 47, -3.1 47, -3.1 47.1, -3 47)))"},
            {"geom": '{"type": "Point", "coordinates": [-3.4, 47.7]}'},
            {"geom": "POINT (700000 6600000)"},  # Lambert 93 metres: not degrees, not drawn
            {"geom": "pas une géométrie"},
            {"geom": None},
        ],
    )
    assert found.points == [(-3.36, 47.75), (-3.4, 47.7)]
    assert [s.kind for s in found.shapes] == ["line", "polygon"]
    assert found.read == 7
    assert found.unplaced == 2
