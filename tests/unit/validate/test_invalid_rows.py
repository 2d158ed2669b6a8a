"""The engine's invalid rows (cells as written, errors per row) and first errors per column."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pytest

from beffroi.validate import Options, engine, parse_schema, validate
from beffroi.validate import table as table_module

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"unique": True}},
        {"name": "nom", "type": "string", "constraints": {"required": True}},
        {"name": "montant", "type": "number", "constraints": {"minimum": 0}},
        {"name": "date", "type": "date"},
    ]
}
ROWS = (
    "id,nom,montant,date\n1,a,12.5,2024-01-01\n2,,abc,2024-13-01\n2,c,3\n"
    "3,d,4,2024-01-02,x,y\n\n4,e,-1,2024-01-03\n"
)


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "donnees.csv"
    path.write_text(ROWS, encoding="utf-8")
    return path


def test_invalid_rows_in_memory_and_as_csv(tmp_path: Path) -> None:
    target = tmp_path / "erreurs.csv"
    report = validate(
        _file(tmp_path),
        parse_schema(SCHEMA, "test"),
        Options(invalid_rows=target, keep_invalid_rows=2),
    )
    kept = report.invalid_rows
    assert kept is not None
    assert kept.header == [
        "ligne",
        "id",
        "nom",
        "montant",
        "date",
        "colonne 5",
        "colonne 6",
        "erreurs",
    ]
    assert kept.count == 5
    assert kept.truncated
    assert kept.rows == [
        [
            "3",
            "2",
            "",
            "abc",
            "2024-13-01",
            "",
            "",
            "constraint-error (nom) ; type-error (montant) ; type-error (date)",
        ],
        ["4", "2", "c", "3", "", "", "", "missing-cell (date) ; unique-error (id)"],
    ]
    with target.open(encoding="utf-8", newline="") as handle:
        written = list(csv.reader(handle))
    assert written[0] == kept.header
    assert [row[0] for row in written[1:]] == ["3", "4", "5", "6", "7"]
    assert written[3][5:] == ["x", "y", "extra-cell (colonne 5) ; extra-cell (colonne 6)"]
    assert written[4][-1] == "blank-row"
    assert written[5][-1] == "constraint-error (montant)"
    # The same rows and errors as the report's detail.
    detailed = {(e.row, e.code) for e in report.errors if e.row is not None}
    listed = {
        (int(row[0]), label.split(" (")[0]) for row in written[1:] for label in row[-1].split(" ; ")
    }
    assert listed == detailed
    assert "invalidRows" in report.as_dict()


def test_first_errors_per_column(tmp_path: Path) -> None:
    report = validate(
        _file(tmp_path), parse_schema(SCHEMA, "test"), Options(max_errors=1, per_field=1)
    )
    assert len(report.errors) == 1
    first = {
        name: [(e.row, e.code) for e in errors] for name, errors in report.first_by_field.items()
    }
    assert first["montant"] == [(3, "type-error")]
    assert first["date"] == [(3, "type-error")]
    assert first["id"] == [(4, "unique-error")]
    assert set(first[""]) == {(6, "blank-row"), (5, "extra-cell")}  # whole rows
    assert report.as_dict()["firstErrorsByField"]["nom"][0]["rowNumber"] == 3


def test_a_valid_file_has_no_invalid_rows(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("id,nom,montant,date\n1,a,1,2024-01-01\n", encoding="utf-8")
    target = tmp_path / "erreurs.csv"
    report = validate(
        path, parse_schema(SCHEMA, "test"), Options(invalid_rows=target, invalid_rows_bom=True)
    )
    assert report.valid
    assert report.invalid_rows is not None
    assert report.invalid_rows.count == 0
    assert target.read_bytes() == "\ufeffligne,id,nom,montant,date,erreurs\r\n".encode()


def test_small_chunks_and_early_inserts_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows come in chunks, failing rows go to DuckDB a few chunks at a time and are
    described in slices: with a chunk per two rows, an insert per failing row and slices of
    two rows, the same errors and invalid rows."""

    def run() -> tuple[list[tuple[object, ...]], list[list[str]]]:
        report = validate(
            _file(tmp_path),
            parse_schema(SCHEMA, "test"),
            Options(keep_invalid_rows=10),
        )
        assert report.invalid_rows is not None
        errors = [(e.row, e.field, e.code, e.cell) for e in report.errors]
        return errors, report.invalid_rows.rows

    expected = run()
    monkeypatch.setattr(table_module, "BLOCK_BYTES", 64)  # Arrow batches of a few rows
    monkeypatch.setattr(table_module, "CHUNK_ROWS", 2)
    monkeypatch.setattr(engine, "KEEP_ROWS", 1)
    monkeypatch.setattr(engine, "DESCRIBE_ROWS", 2)  # the errors described two rows at a time
    inserts: list[int] = []
    keep = engine.Validator._keep

    def counted(self: engine.Validator, rows: pa.Table, *, create: bool) -> None:
        inserts.append(rows.num_rows)
        keep(self, rows, create=create)

    monkeypatch.setattr(engine.Validator, "_keep", counted)
    assert run() == expected
    assert len(expected[1]) == 5
    assert len(inserts) >= 2  # several chunks had failing rows, each inserted at once
