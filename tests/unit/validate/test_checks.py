"""Cell, header and row checks of the validator, on small real files (real DuckDB)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beffroi.validate import Options, Report, parse_schema, validate


def run(tmp_path: Path, text: str, fields: list[dict[str, Any]], **schema: Any) -> Report:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return validate(path, parse_schema({"fields": fields, **schema}), Options(max_errors=10_000))


def errors(report: Report) -> list[tuple[str, int | None, str | None]]:
    return [(e.code, e.row, e.field) for e in report.errors]


CASES = [
    # (field descriptor, valid cells, invalid cells)
    ({"type": "integer"}, ["1", "-12", " 7 ", "+3", "1_000"], ["1.5", "abc", "1e3", "1x"]),
    ({"type": "integer", "bareNumber": False}, ["€ 12", "12 %"], ["douze"]),
    ({"type": "number"}, ["1.5", "-0.25", "1e-3", ".5", "NaN", "inf"], ["1,5", "1 000", "x"]),
    ({"type": "number", "decimalChar": ",", "groupChar": " "}, ["1 000,5", "3"], ["1.5"]),
    ({"type": "boolean"}, ["true", "False", "1", "0"], ["oui", "yes", "vrai"]),
    ({"type": "boolean", "trueValues": ["oui"], "falseValues": ["non"]}, ["oui", "non"], ["1"]),
    ({"type": "date"}, ["2024-03-31", "2024-3-1"], ["31/03/2024", "2024-02-30", "24-03-31"]),
    ({"type": "date", "format": "%d/%m/%Y"}, ["31/03/2024"], ["2024-03-31", "32/01/2024"]),
    ({"type": "datetime"}, ["2024-03-31T10:00:00", "2024-03-31T10:00:00Z"], ["2024-03-31"]),
    ({"type": "time"}, ["10:00:00", "23:59:59"], ["10:00", "25:00:00"]),
    ({"type": "year"}, ["2024", "0999"], ["24", "20245", "-123"]),
    ({"type": "yearmonth"}, ["2024-03", "2024-12"], ["2024-13", "2024"]),
    ({"type": "duration"}, ["P1Y2M", "PT3H", "P10D"], ["P", "1 jour", "3H"]),
    ({"type": "geopoint"}, ["-3.36, 47.75", "180,90"], ["47.75", "200, 10", "a, b"]),
    ({"type": "geopoint", "format": "array"}, ["[-3.36, 47.75]"], ["-3.36, 47.75"]),
    ({"type": "object"}, ['{"a": 1}'], ["[1]", "{a}"]),
    ({"type": "array"}, ["[1, 2]"], ['{"a": 1}', "1, 2"]),
    ({"type": "geojson"}, ['{"type": "Point", "coordinates": [1, 2]}'], ['{"a": 1}']),
    ({"type": "string", "format": "email"}, ["agent@mairie.fr"], ["agent@", "mairie.fr"]),
    ({"type": "string", "format": "uri"}, ["https://exemple.fr/a"], ["www.exemple.fr"]),
    ({"type": "string", "format": "uuid"}, ["123e4567-e89b-12d3-a456-426614174000"], ["123"]),
    ({"type": "any"}, ["n'importe quoi"], []),
]


@pytest.mark.parametrize(("descriptor", "good", "bad"), CASES)
def test_types(tmp_path: Path, descriptor: dict[str, Any], good: list[str], bad: list[str]) -> None:
    cells = [*good, *bad]
    text = "v\n" + "".join(f'"{c.replace(chr(34), chr(34) * 2)}"\n' for c in cells)
    report = run(tmp_path, text, [{"name": "v", **descriptor}])
    wrong = {e.row for e in report.errors if e.code == "type-error"}
    assert wrong == set(range(len(good) + 2, len(cells) + 2)), [e.cell for e in report.errors]
    assert all(e.field == "v" for e in report.errors)


def test_constraints(tmp_path: Path) -> None:
    fields = [
        {"name": "code", "constraints": {"required": True, "pattern": "[0-9]{5}"}},
        {"name": "nom", "constraints": {"minLength": 2, "maxLength": 5}},
        {"name": "n", "type": "integer", "constraints": {"minimum": 1, "maximum": 10}},
        {"name": "nature", "constraints": {"enum": ["a", "b"]}},
        {"name": "d", "type": "date", "constraints": {"minimum": "2020-01-01"}},
    ]
    text = "code,nom,n,nature,d\n56121,ab,5,a,2020-01-01\n,a,0,c,2019-12-31\n5612,abcdef,11,A,x\n"
    report = run(tmp_path, text, fields)
    assert not report.valid
    found = [(e.code, e.row, e.field, e.constraint) for e in report.errors]
    assert found == [
        ("constraint-error", 3, "code", "required"),
        ("constraint-error", 3, "nom", "minLength"),
        ("constraint-error", 3, "n", "minimum"),
        ("constraint-error", 3, "nature", "enum"),
        ("constraint-error", 3, "d", "minimum"),
        ("constraint-error", 4, "code", "pattern"),
        ("constraint-error", 4, "nom", "maxLength"),
        ("constraint-error", 4, "n", "maximum"),
        ("constraint-error", 4, "nature", "enum"),
        ("type-error", 4, "d", None),
    ]
    assert report.counts == {"constraint-error": 9, "type-error": 1}
    message = report.errors[3].message()
    assert "« c »" in message
    assert "ligne 3" in message.lower()
    assert "« a », « b »" in report.errors[3].hint()


def test_header_errors(tmp_path: Path) -> None:
    fields = [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]
    report = run(tmp_path, "a,B,,a\n1,2,3,4\n", fields)
    assert errors(report) == [
        ("incorrect-label", None, "b"),
        ("blank-label", None, "c"),
        ("duplicate-label", None, "d"),
    ]
    report = run(tmp_path, "a,b,x,y\n1,2,3,4\n", fields[:2])
    assert [(e.code, e.label) for e in report.errors] == [
        ("extra-label", "x"),
        ("extra-label", "y"),
    ]
    report = run(tmp_path, "b,a,z\n1,2,3\n", fields, fieldsMatch="partial")
    assert errors(report) == []
    report = run(tmp_path, "b,a,z\n1,2,3\n", fields, fieldsMatch="equal")
    assert sorted(errors(report)) == [
        ("extra-label", None, None),
        ("missing-label", None, "c"),
        ("missing-label", None, "d"),
    ]


def test_row_errors_and_numbers(tmp_path: Path) -> None:
    text = 'id,name\n1,"a\nmultiline"\n\n2\n3,b,c,d\n,\n4,e\n'
    report = run(tmp_path, text, [{"name": "id", "type": "integer"}, {"name": "name"}])
    assert errors(report) == [
        ("blank-row", 3, None),
        ("missing-cell", 4, "name"),
        ("extra-cell", 5, None),
        ("extra-cell", 5, None),
        ("blank-row", 6, None),
    ]
    assert report.stats["rows"] == 6
    assert [e.cell for e in report.errors if e.code == "extra-cell"] == ["c", "d"]


def test_unique_primary_and_foreign_keys(tmp_path: Path) -> None:
    fields = [
        {"name": "id", "type": "integer", "constraints": {"unique": True}},
        {"name": "parent", "type": "integer"},
        {"name": "k"},
    ]
    text = "id,parent,k\n1,,x\n2,1,y\n01,9,x\n3,2,\n"
    report = run(
        tmp_path,
        text,
        fields,
        primaryKey=["k"],
        foreignKeys=[{"fields": ["parent"], "reference": {"resource": "", "fields": ["id"]}}],
    )
    assert errors(report) == [
        ("unique-error", 4, "id"),  # 01 is the integer 1
        ("primary-key", 4, "k"),
        ("foreign-key", 4, "parent"),
        ("primary-key", 5, "k"),
    ]
    assert "ligne 2" in report.errors[0].message()


def test_duplicate_rows_optional(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n1,2\n3,4\n", encoding="utf-8")
    schema = parse_schema({"fields": [{"name": "a"}, {"name": "b"}]})
    assert validate(path, schema).valid
    report = validate(path, schema, Options(duplicate_rows=True))
    assert errors(report) == [("duplicate-row", 3, None)]


def test_missing_values_and_patterns_outside_re2(tmp_path: Path) -> None:
    fields = [
        {"name": "n", "type": "number", "missingValues": ["", "NA"]},
        # A look-ahead: RE2 (DuckDB) cannot run it, Python's re does, per distinct value.
        {"name": "code", "constraints": {"pattern": "(?=.*[0-9])[A-Z0-9]{3}"}},
        {"name": "nom", "constraints": {"pattern": "[\\u00C0-\\u00FFa-z]+"}},
    ]
    report = run(tmp_path, "n,code,nom\nNA,AB1,été\n1,ABC,ÉTÉ\n", fields, missingValues=["-"])
    assert errors(report) == [
        ("constraint-error", 3, "code"),
        ("constraint-error", 3, "nom"),
    ]


def test_report_json_and_text(tmp_path: Path) -> None:
    report = run(
        tmp_path,
        "montant,date\n12,5,2024-01-01\n10,31/12/2024\n",
        [{"name": "montant", "type": "number"}, {"name": "date", "type": "date"}],
    )
    data = report.as_dict()
    assert data["valid"] is False
    assert data["stats"]["rows"] == 2
    first = data["errors"][0]
    assert {"type", "rowNumber", "fieldName", "cell", "message", "hint"} <= set(first)
    assert data["countsByField"]["date"] == {"type-error": 2}
    text = report.text()
    assert text.startswith("✘ Fichier non conforme")
    assert "Ligne 3, colonne « date » : « 31/12/2024 » n'est pas une date au format" in text
    assert "→ Écrivez la date au format AAAA-MM-JJ" in text


def test_max_errors_keeps_counts(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("n\n" + "x\n" * 500, encoding="utf-8")
    schema = parse_schema({"fields": [{"name": "n", "type": "integer"}]})
    report = validate(path, schema, Options(max_errors=10))
    assert len(report.errors) == 10
    assert report.counts == {"type-error": 500}
    assert report.truncated


def test_cp1252_semicolon_file(tmp_path: Path) -> None:
    path = tmp_path / "fr.csv"
    path.write_bytes("nom;montant\nFête de l\u2019été;12\nŒuvre;x\n".encode("cp1252"))
    schema = parse_schema({"fields": [{"name": "nom"}, {"name": "montant", "type": "integer"}]})
    report = validate(path, schema)
    assert errors(report) == [("type-error", 3, "montant")]


def test_spreadsheet(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "nom"])
    sheet.append([1, "a"])
    sheet.append(["x", "b"])
    path = tmp_path / "t.xlsx"
    book.save(path)
    schema = parse_schema({"fields": [{"name": "id", "type": "integer"}, {"name": "nom"}]})
    assert errors(validate(path, schema)) == [("type-error", 3, "id")]


def test_full_width_blank_rows_with_and_without_required_fields(tmp_path: Path) -> None:
    """A row of empty cells is one blank-row error (never a required-field one), whether a
    required field or the blank-row test itself finds it."""
    text = "id,name\n1,a\n,\n2,b\n , \n"
    optional = [{"name": "id", "type": "integer"}, {"name": "name"}]
    required = [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name"},
    ]
    for fields in (optional, required):
        report = run(tmp_path, text, fields)
        assert errors(report) == [("blank-row", 3, None), ("type-error", 5, "id")]
