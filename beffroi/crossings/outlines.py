"""Commune outlines as plain tables for the ``point_in_commune`` join (no extension needed).

The outlines are the simplified national layer shipped with Beffroi
(``beffroi/indicators/data/communes-france.geojson.gz``: about 400 m, coordinates rounded to
0.001°, WGS 84). They are cut into three tables of the query database's private ``_crossing``
schema (user SQL cannot name it: see :mod:`beffroi.query.guard`):

* ``_crossing.commune_boxes`` — one bounding box per commune;
* ``_crossing.commune_cells`` — the cells of a 0.1° grid each box overlaps (the index);
* ``_crossing.commune_edges`` — every edge of every ring (x1, y1) → (x2, y2).

A point is in a commune when a horizontal ray from it crosses an odd number of the
commune's edges. A point a few hundred metres from a boundary may be placed in the
neighbouring commune (the outlines are simplified).
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from beffroi.errors import ConfigurationError

if TYPE_CHECKING:
    import duckdb

SCHEMA: Final = "_crossing"
BOXES: Final = f"{SCHEMA}.commune_boxes"
CELLS: Final = f"{SCHEMA}.commune_cells"
CELL_DEGREES: Final = 0.1
"""Side of the grid cells that index the boxes (a point meets the communes of its cell by an
equality join, not by comparing it with every box)."""
EDGES: Final = f"{SCHEMA}.commune_edges"
LAYER: Final = "communes-france.geojson.gz"
NOTE: Final = (
    "contours simplifiés (environ 400 m) : un point proche d'une limite communale peut être "
    "placé dans la commune voisine"
)
_LOCK = threading.Lock()


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


@cache
def tables() -> tuple[pa.Table, pa.Table, pa.Table]:
    """(boxes, cells, edges) of the shipped layer, built once per process."""
    source = resources.files("beffroi.indicators") / "data" / LAYER
    try:
        with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
            layer = json.load(text)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            "Contours des communes absents ou illisibles",
            hint=f"réinstallez Beffroi (fichier {LAYER} du paquet beffroi.indicators)",
            message_en="Commune outlines missing or unreadable",
            hint_en=f"reinstall Beffroi ({LAYER} of the beffroi.indicators package)",
        ) from exc
    box_code: list[str] = []
    bounds: list[list[float]] = [[], [], [], []]
    edge_code: list[str] = []
    x1: list[float] = []
    y1: list[float] = []
    x2: list[float] = []
    y2: list[float] = []
    for feature in layer.get("features", []):
        code = str(feature.get("properties", {}).get("code_insee", ""))
        rings = _rings(feature.get("geometry") or {})
        if not code or not rings:
            continue
        xs = [p[0] for ring in rings for p in ring]
        ys = [p[1] for ring in rings for p in ring]
        box_code.append(code)
        for target, value in zip(bounds, (min(xs), min(ys), max(xs), max(ys)), strict=True):
            target.append(value)
        for ring in rings:
            for start, end in zip(ring, ring[1:] + ring[:1], strict=True):
                if start[1] == end[1]:
                    continue  # a horizontal edge never crosses a horizontal ray
                edge_code.append(code)
                x1.append(start[0])
                y1.append(start[1])
                x2.append(end[0])
                y2.append(end[1])
    boxes = pa.table(
        {
            "code_insee": box_code,
            "xmin": bounds[0],
            "ymin": bounds[1],
            "xmax": bounds[2],
            "ymax": bounds[3],
        }
    )
    edges = pa.table({"code_insee": edge_code, "x1": x1, "y1": y1, "x2": x2, "y2": y2})
    cell_code: list[str] = []
    cell_x: list[int] = []
    cell_y: list[int] = []
    for code, xmin, ymin, xmax, ymax in zip(box_code, *bounds, strict=True):
        for cx in range(math.floor(xmin / CELL_DEGREES), math.floor(xmax / CELL_DEGREES) + 1):
            for cy in range(math.floor(ymin / CELL_DEGREES), math.floor(ymax / CELL_DEGREES) + 1):
                cell_code.append(code)
                cell_x.append(cx)
                cell_y.append(cy)
    cells = pa.table(
        {
            "cx": pa.array(cell_x, pa.int32()),
            "cy": pa.array(cell_y, pa.int32()),
            "code_insee": cell_code,
        }
    )
    return boxes, cells, edges


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create the two tables in a query database (once; works after it is locked: the
    tables come from memory, not from a file)."""
    with _LOCK:
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ?", [SCHEMA]
        ).fetchone()
        if found and found[0] >= 3:  # the three tables
            return
        boxes, cells, edges = tables()
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        for name, table in ((BOXES, boxes), (CELLS, cells), (EDGES, edges)):
            con.register("__beffroi_outlines", table)
            try:
                con.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} AS SELECT * FROM __beffroi_outlines"  # noqa: S608
                )
            finally:
                con.unregister("__beffroi_outlines")
