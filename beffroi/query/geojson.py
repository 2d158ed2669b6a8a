"""GeoJSON export (RFC 7946 FeatureCollection) of a records query on a geographic dataset.

Each row is a Feature: its geometry from the dataset's geometry column (GeoJSON text as
stored, WKT converted by DuckDB's spatial extension) or a Point from its longitude/latitude
columns; its properties are the selected fields, the geometry column left out. DuckDB builds
each feature's JSON text; this module only joins them, batch by batch (bounded memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

import pyarrow as pa

from beffroi.query.engine import Column, quote
from beffroi.query.geo import GeoColumns, number_sql

CHUNK: Final = 1024 * 1024


def geometry_sql(positions: GeoColumns) -> str:
    """The SQL expression of a row's GeoJSON geometry text (NULL when it has none)."""
    if positions.geometry is not None:
        text = quote(positions.geometry)
        return (
            f"(CASE WHEN starts_with(ltrim({text}), '{{') THEN {text} "
            f"ELSE ST_AsGeoJSON(try(ST_GeomFromText({text}))) END)"
        )
    lon, lat = number_sql(positions.longitude or ""), number_sql(positions.latitude or "")
    return (
        f"""(CASE WHEN {lon} IS NOT NULL AND {lat} IS NOT NULL THEN '{{"type":"Point",'"""
        f"""|| '"coordinates":[' || CAST({lon} AS VARCHAR) || ',' || CAST({lat} AS VARCHAR) """
        "|| ']}' END)"
    )


def select_list(columns: Sequence[Column], positions: GeoColumns) -> str:
    """``g`` (geometry text) and ``p`` (properties as JSON object text) of each row."""
    kept = [c for c in columns if c.name != positions.geometry]
    pairs = ", ".join(f"{quote(c.name)} := {quote(c.name)}" for c in kept)
    properties = f"CAST(to_json(struct_pack({pairs})) AS VARCHAR)" if kept else "'{}'"
    return f"{geometry_sql(positions)} AS g, {properties} AS p"


def write(batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    """The FeatureCollection's bytes, from batches of ``g`` and ``p`` columns."""
    buffer = ['{"type":"FeatureCollection","features":[']
    size = len(buffer[0])
    first = True
    for batch in batches:
        geometries = batch.column(0).to_pylist()
        properties = batch.column(1).to_pylist()
        for geometry, props in zip(geometries, properties, strict=True):
            feature = (
                f'{"" if first else ","}{{"type":"Feature","geometry":{geometry or "null"},'
                f'"properties":{props or "{}"}}}'
            )
            first = False
            buffer.append(feature)
            size += len(feature)
            if size >= CHUNK:
                yield "".join(buffer).encode("utf-8")
                buffer, size = [], 0
    buffer.append("]}")
    yield "".join(buffer).encode("utf-8")
