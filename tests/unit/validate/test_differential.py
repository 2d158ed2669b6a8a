"""Differential test against frictionless-py: same verdict, error codes, row numbers and field
names on every validation fixture of frictionless and every schema example of the shared data.

Where Beffroi differs on purpose, the case is listed here with its reason (and documented in
``docs/validation.md``), and Beffroi's own behaviour is asserted instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from beffroi.errors import InvalidFileError
from beffroi.ingest.model import ReadOptions
from beffroi.validate import Options, load_schema, parse_schema, validate
from tests.conftest import SHARED_DATA
from tests.unit.validate.differential import (
    beffroi_errors,
    compare,
    compare_package,
    inferred_schema,
)

FIXTURES = SHARED_DATA / "frictionless-fixtures"
SCHEMAS = SHARED_DATA / "schemas"

FIXTURE_DEVIATIONS = {
    "empty.csv": "a 0-byte file cannot be validated: exit 2 with a fix hint, not a report",
    "table.ods": "frictionless needs the frictionless[ods] extra, not installed",
    "merged-cells.xlsx": "the spreadsheet reader drops trailing blank columns",
    "multiline-headers.xlsx": "the spreadsheet reader finds the header below blank rows",
}
SCHEMA_DEVIATIONS = {
    "arbres/schema.json": "frictionless refuses the schema (name not a slug): loaded, warning",
    "dae/schema.json": "frictionless refuses DAE 1.0.0 (name, pattern on dates): loaded with "
    "warnings",
    "lieux-covoiturage/examples/exemple-valide-v0.2.0.xls": "frictionless cannot read .xls",
    "scdl-subventions/examples/api-subventions-SCDL.xlsx": "numbers typed in spreadsheet "
    "cells of string fields are read as their text (frictionless: type-error); the "
    "spreadsheet reader skips empty rows",
}


def _fixtures() -> list[str]:
    names = sorted(
        p.name for p in FIXTURES.iterdir() if p.suffix in {".csv", ".tsv", ".xlsx", ".ods"}
    )
    return [name for name in names if name not in FIXTURE_DEVIATIONS]


def _schema_cases() -> list[Any]:
    cases = []
    for schema in sorted(SCHEMAS.rglob("*.json")):
        if "examples" in schema.parts or schema.parent.name == "_catalog":
            continue
        descriptor = json.loads(schema.read_text(encoding="utf-8"))
        if not isinstance(descriptor, dict) or "fields" not in descriptor:
            continue
        for example in sorted(schema.parent.glob("examples/*")):
            if example.suffix not in {".csv", ".xlsx", ".xls"}:
                continue
            ident = f"{example.relative_to(SCHEMAS)}~{schema.name}"
            reason = SCHEMA_DEVIATIONS.get(
                str(schema.relative_to(SCHEMAS))
            ) or SCHEMA_DEVIATIONS.get(str(example.relative_to(SCHEMAS)))
            if reason is None:
                cases.append(pytest.param(example, schema, id=ident))
    return cases


@pytest.mark.parametrize("name", _fixtures())
def test_fixture_same_as_frictionless(name: str) -> None:
    path = FIXTURES / name
    read = ReadOptions(encoding="iso-8859-7") if "iso-8859-7" in name else ReadOptions()
    fv, fe, bv, be = compare(path, read=read)
    assert bv == fv
    assert be == fe, f"frictionless only: {fe - be}; Beffroi only: {be - fe}"


@pytest.mark.parametrize(("example", "schema"), _schema_cases())
def test_schema_example_same_as_frictionless(example: Path, schema: Path) -> None:
    descriptor = json.loads(schema.read_text(encoding="utf-8"))
    fv, fe, bv, be = compare(example, descriptor)
    assert bv == fv
    assert be == fe, f"frictionless only: {fe - be}; Beffroi only: {be - fe}"


def test_there_are_many_cases() -> None:
    assert len(_fixtures()) >= 55
    assert len(_schema_cases()) >= 40


# -- deliberate differences: Beffroi's behaviour ------------------------------------------


def test_empty_file_cannot_be_validated() -> None:
    schema = parse_schema({"fields": [{"name": "a"}]})
    with pytest.raises(InvalidFileError) as caught:
        validate(FIXTURES / "empty.csv", schema)
    assert caught.value.hint


def test_ods_is_validated() -> None:
    descriptor = inferred_schema(FIXTURES / "table.csv")
    valid, errors = beffroi_errors(FIXTURES / "table.ods", descriptor)
    assert valid
    assert not errors


def test_spreadsheet_header_detection() -> None:
    # frictionless: labels "…", "" (blank-label); Beffroi's reader keeps one column.
    path = FIXTURES / "merged-cells.xlsx"
    descriptor = inferred_schema(path)
    valid, errors = beffroi_errors(path, descriptor)
    assert not valid
    assert set(errors) == {("missing-label", None, "field2")}


@pytest.mark.parametrize(
    ("example", "valid"),
    [
        ("arbres/examples/exemple-valide.csv", True),
        ("dae/examples/exemple_valide.csv", True),
        ("dae/examples/exemple_invalide.csv", False),
        ("dae/examples/exemple_invalide_complet.csv", False),
    ],
)
def test_slightly_off_schemas_load_with_warnings(example: str, valid: bool) -> None:
    schema = load_schema(SCHEMAS / example.split("/", 1)[0] / "schema.json")
    assert schema.warnings
    report = validate(SCHEMAS / example, schema, Options(custom_checks=False))
    assert report.valid is valid
    assert report.warnings


def test_spreadsheet_numbers_are_their_text() -> None:
    example = SCHEMAS / "scdl-subventions/examples/api-subventions-SCDL.xlsx"
    descriptor = json.loads((SCHEMAS / "scdl-subventions/schema.json").read_text("utf-8"))
    fv, fe, bv, be = compare(example, descriptor)
    assert not fv
    assert not bv
    # The same findings, without the type errors frictionless raises on numbers typed in
    # the text fields, and without the empty rows the spreadsheet reader skips.
    numbers_in_text = {"idAttribuant", "objet", "conditionsVersement"}
    expected = {
        key: n
        for key, n in fe.items()
        if not (key[0] == "type-error" and key[2] in numbers_in_text) and key[0] != "blank-row"
    }
    assert dict(be) == expected


PACKAGES = [
    "invalid/datapackage.json",
    "geopoint/datapackage.json",
    "number/datapackage.json",
    "issue-905/datapackage.json",
    "country.package.json",
    "capital.package.yaml",
]
"""Data packages (foreign keys between resources); ``multiple-errors.package.json`` is not
a valid package (frictionless refuses it: duplicate resource names)."""


@pytest.mark.parametrize("package", PACKAGES)
def test_package_same_as_frictionless(package: str) -> None:
    for name, (fv, fe, bv, be) in compare_package(FIXTURES / package).items():
        assert bv == fv, name
        assert be == fe, f"{name}: frictionless only: {fe - be}; Beffroi only: {be - fe}"
