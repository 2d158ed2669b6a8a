"""Parquet encodings chosen by the Delta writer: no dictionary for high-cardinality columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from beffroi.store.local import ROW_COLUMN, LocalDeltaStore


def _encodings(root: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for file in root.rglob("*.parquet"):
        metadata = pq.ParquetFile(file).metadata
        for group in range(metadata.num_row_groups):
            for index in range(metadata.num_columns):
                column = metadata.row_group(group).column(index)
                found.setdefault(column.path_in_schema, set()).update(column.encodings)
    return found


def _batches(rows: int) -> list[pa.RecordBatch]:
    table = pa.table(
        {
            "code": pa.array([f"W{i:09d}" for i in range(rows)]),  # all distinct
            "nature": pa.array(["aide en numéraire", "aide en nature"] * (rows // 2)),
            "montant": pa.array([i / 100 for i in range(rows)]),
        }
    )
    return table.to_batches(max_chunksize=rows // 2)


def test_high_cardinality_columns_are_written_without_dictionary(tmp_path: Path) -> None:
    store = LocalDeltaStore(tmp_path)
    batches = _batches(20_000)
    stored = store.write("t", iter(batches), batches[0].schema, upload_id="u1")
    assert stored.rows == 20_000
    encodings = _encodings(tmp_path / "t")
    dictionary = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert encodings["nature"] & dictionary
    for name in ("code", "montant", ROW_COLUMN):
        assert not encodings[name] & dictionary, (name, encodings[name])
    assert store.read("t", stored.version) == pa.Table.from_batches(batches)


def test_a_small_upload_keeps_the_default_encodings(tmp_path: Path) -> None:
    store = LocalDeltaStore(tmp_path)
    batches = _batches(200)
    stored = store.write("t", iter(batches), batches[0].schema, upload_id="u1")
    encodings = _encodings(tmp_path / "t")
    assert encodings["code"] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert not encodings[ROW_COLUMN] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert store.read("t", stored.version).num_rows == 200


def test_an_empty_upload_is_still_one_version(tmp_path: Path) -> None:
    store = LocalDeltaStore(tmp_path)
    schema = pa.schema([("code", pa.string())])
    stored = store.write("t", iter([]), schema, upload_id="u1")
    assert stored.rows == 0
