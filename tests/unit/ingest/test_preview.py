"""The wizard's preview: the pipeline's readers and typing on a sample, nothing stored."""

from __future__ import annotations

from pathlib import Path

from beffroi.ingest.model import ReadOptions
from beffroi.ingest.preview import preview_file
from tests.conftest import SHARED_DATA

HOTEL = SHARED_DATA / "messy" / "hotel-occupancy-latin1-decimal-comma.csv"


def test_detects_cp1252_semicolons_and_french_numbers() -> None:
    preview = preview_file(HOTEL)
    assert preview.dialect["encoding"] == "cp1252"
    assert preview.dialect["delimiter"] == ";"
    kinds = {c.name: c.kind for c in preview.columns}
    assert kinds["Année"] == "integer"
    assert kinds["Occupancy rate"] == "number"
    assert preview.rows[0]["Occupancy rate"] == 0.611553068
    assert len(preview.rows) == 10
    assert preview.conversion_error is None


def test_sample_is_bounded_and_nothing_is_written(tmp_path: Path) -> None:
    copy = tmp_path / "hotel.csv"
    copy.write_bytes(HOTEL.read_bytes())
    preview = preview_file(copy, sample_rows=100, shown_rows=3)
    assert preview.sampled_rows == 100
    assert len(preview.rows) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hotel.csv"]


def test_declared_type_that_does_not_fit_is_reported() -> None:
    preview = preview_file(HOTEL, declared={"Classement": "integer", "absente": "date"})
    column = next(c for c in preview.columns if c.name == "Classement")
    assert column.kind == "integer"
    assert column.declared
    assert preview.conversion_error is not None
    assert "3 stars" in preview.conversion_error.message
    assert preview.rows[0]["Classement"] == "3 stars"  # untyped rows still shown


def test_forced_options_and_trimmed_null_tokens(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a|b\n1|ND\n2|3\n", encoding="utf-8")
    preview = preview_file(path, ReadOptions(delimiter="|"))
    assert [c.name for c in preview.columns] == ["a", "b"]
    b = next(f for f in preview.table_schema()["fields"] if f["name"] == "b")
    assert b["type"] == "integer"
    assert b["missingValues"] == ["", "ND"]
