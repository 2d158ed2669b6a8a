"""Text and boolean columns are checked on the Arrow arrays (missing values, fixed-width
patterns, enums, lengths, true/false values), the others in DuckDB's SQL: both paths give
the same errors on random files, whichever the schema's options."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Any

import pytest

from beffroi.validate import Options, engine, parse_schema, validate

FIELDS: list[dict[str, Any]] = [
    {"name": "a", "type": "string", "constraints": {"required": True, "enum": ["oui", "non", "é"]}},
    {"name": "b", "type": "string", "constraints": {"pattern": "^W\\d{9}$"}},
    {"name": "c", "type": "string", "constraints": {"minLength": 2, "maxLength": 5}},
    {"name": "d", "type": "boolean", "constraints": {"required": True}},
    {
        "name": "e",
        "type": "string",
        "missingValues": ["", "NA", "-"],
        "constraints": {"required": True},
    },
    {"name": "f", "type": "string", "constraints": {"pattern": "^(a|b)+$"}},
    {"name": "g", "type": "any", "constraints": {"enum": ["1", "0", "abc"]}},
    {"name": "h", "type": "boolean", "trueValues": ["vrai", "oui"], "falseValues": ["non"]},
    {"name": "i", "type": "string", "constraints": {"maxLength": 14, "pattern": "^\\d{14}$"}},
    {"name": "j", "type": "integer"},
]
# Per column: cells that pass, cells that fail (one of these in a row makes it fail).
GOOD = [
    ["oui", "non", "é"],
    ["W123456789", "", "NA"],
    ["ab", "abcde", "ééééé", "", "NA"],
    ["true", "false"],
    ["x", "yé"],
    ["ab", "aab", ""],
    ["1", "0", "abc", ""],
    ["vrai", "oui", "non", ""],
    ["12345678901234", ""],
    ["1", "22", ""],
]
BAD = [
    ["", "NA", "x", " oui", "Oui"],
    ["W12", "w123456789", "W1234567890"],
    ["a", "abcdef", "éééééé", "é"],
    ["oui", "2", "", "NA"],
    ["", "NA", "-"],
    ["abc", "c"],
    ["2", "ab"],
    ["true", "Non"],
    ["1234567890123", "123456789012345", "1234567890123a"],
    ["x", "1.5"],
]


def _file(path: Path, seed: int) -> Path:
    """Mostly valid rows; a third with one failing cell, so that a check that misses it
    leaves the row out; some rows too short or too long, some blank."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    width = len(FIELDS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f["name"] for f in FIELDS])
    for _ in range(600):
        roll = rng.random()
        if roll < 0.02:
            out.write("," * (width - 1) + "\n")  # a blank row
            continue
        cells = [rng.choice(good) for good in GOOD]
        if roll < 0.35:
            column = rng.randrange(width)
            cells[column] = rng.choice(BAD[column])
        elif roll < 0.4:
            cells = cells[: rng.choice([width - 2, width - 1])] if roll < 0.38 else [*cells, "x"]
        writer.writerow(cells)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _errors(path: Path, schema: dict[str, Any]) -> tuple[list[tuple[Any, ...]], Any]:
    report = validate(
        path, parse_schema(schema, "test"), Options(max_errors=100_000, keep_invalid_rows=1000)
    )
    assert report.invalid_rows is not None
    return [
        (e.row, e.field, e.code, e.cell, e.note) for e in report.errors
    ], report.invalid_rows.rows


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("required", [True, False])
def test_bulk_and_sql_checks_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, required: bool
) -> None:
    fields = (
        FIELDS
        if required
        else [
            {
                **f,
                "constraints": {
                    k: v for k, v in f.get("constraints", {}).items() if k != "required"
                },
            }
            for f in FIELDS
        ]
    )  # no required field: the blank-row test is computed in bulk too
    schema = {"fields": fields, "missingValues": ["", "NA"]}
    path = _file(tmp_path / "data.csv", seed)
    bulk = _errors(path, schema)
    monkeypatch.setattr(engine, "BULK_CHECKS", False)
    assert _errors(path, schema) == bulk
    codes = {code for _, _, code, _, _ in bulk[0]}
    assert {"type-error", "constraint-error", "missing-cell", "extra-cell", "blank-row"} <= codes
