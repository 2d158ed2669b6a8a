"""Column typing: inference rules, declared Table Schema fields, conversion and its errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.fr import siret

from beffroi.errors import InvalidFileError, InvalidInputError
from beffroi.ingest.infer import (
    NULL_TOKENS,
    ColumnType,
    convert,
    degrade_to_string,
    infer_schema,
    table_schema,
)

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
NBSP, NNBSP = "\u00a0", "\u202f"
UTC = dt.UTC


def text_table(**columns: Sequence[str | None]) -> pa.Table:
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def typed(
    values: Sequence[str | None], name: str = "valeur", **options: Any
) -> tuple[ColumnType, list[Any]]:
    """Infer the type of one text column, convert it, return the type and the values."""
    table = text_table(**{name: values})
    (column_type,) = infer_schema(table, **options)
    converted = convert(table.to_batches()[0], [column_type])
    return column_type, converted.column(0).to_pylist()


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "kind", "expected"),
    [
        (["1 234,56", "12,5"], "number", [1234.56, 12.5]),
        ([f"1{NBSP}234,56", f"1{NNBSP}234{NNBSP}567,8"], "number", [1234.56, 1234567.8]),
        (["1.234,56", "12,5", "1.234.567"], "number", [1234.56, 12.5, 1234567.0]),
        (["12,5", "3"], "number", [12.5, 3.0]),
        (["1,234.56", "1,234,567", "0.5"], "number", [1234.56, 1234567.0, 0.5]),
        (["1,234", "1,234,567"], "integer", [1234, 1234567]),
        (["-1 234,5", "+3", "\u22127,25"], "number", [-1234.5, 3.0, -7.25]),
        (["1e3", "2.5E-2"], "number", [1000.0, 0.025]),
        (["1", "-2", "+3", "1 000"], "integer", [1, -2, 3, 1000]),
        (["41.7", "65.2"], "number", [41.7, 65.2]),
    ],
)
def test_numbers(values: list[str | None], kind: str, expected: list[Any]) -> None:
    column_type, converted = typed(values)
    assert column_type.kind == kind
    assert converted == expected


def test_a_lone_separator_followed_by_three_digits_is_a_decimal_mark() -> None:
    """``1,234`` is ambiguous: without a sniffed mark the column reads it as a decimal."""
    column_type, converted = typed(["1,234", "5,678"])
    assert (column_type.kind, column_type.decimal_mark) == ("number", ",")
    assert converted == [1.234, 5.678]
    assert typed(["1.234", "5.678"])[1] == [1.234, 5.678]


def test_a_sniffed_decimal_mark_settles_the_ambiguity() -> None:
    column_type, converted = typed(["1.234", "5.678"], decimal_mark=",")
    assert (column_type.kind, converted) == ("integer", [1234, 5678])
    assert typed(["1,234", "5,678"], decimal_mark=".")[1] == [1234, 5678]
    with pytest.raises(InvalidInputError):
        infer_schema(text_table(a=["1"]), decimal_mark=";")


@pytest.mark.parametrize(
    "values",
    [
        ["1.5", "1,5"],  # two decimal marks
        ["1 23,5", "12"],  # a space not in a group of three
        ["12,5", "2024-01-01"],
        ["1", "abc", "2"],
        ["12 €", "3"],
    ],
)
def test_mixed_columns_stay_text(values: list[str | None]) -> None:
    column_type, converted = typed(values)
    assert column_type.kind == "string"
    assert converted == values


# ---------------------------------------------------------------------------------------------
# Codes keep their leading zeros
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("commune", ["01053", "75056", "13028"]),  # INSEE codes, a leading zero
        ("valeur", ["01000", "13600"]),  # postal codes, a leading zero
        ("portable", ["0612345678", "0712345678"]),
        ("reference", ["1234567890123456", "2"]),  # 16 digits
        ("code_commune", ["75056", "13028"]),  # the header names a code
        ("insee", ["75056", "13028"]),
        ("cp", ["75001", "13600"]),
        ("idAttribuant", ["1", "2"]),
        ("siret_beneficiaire", ["123", "456"]),
        ("NUMDEP", ["1", "6"]),
        ("CODGEO", ["75056"]),
    ],
)
def test_codes_stay_text(name: str, values: list[str | None]) -> None:
    column_type, converted = typed(values, name=name)
    assert column_type.kind == "string"
    assert column_type.note is not None
    assert column_type.note.startswith("code")
    assert converted == values


def test_01053_stays_01053() -> None:
    assert typed(["01053", "2A004", None])[1] == ["01053", "2A004", None]


def test_siret_column_is_detected_with_stdnum() -> None:
    """A header that says nothing: the Luhn checksums (La Poste's exception included) do."""
    values = ["52499120500013", "38033590100027", "21060004500392", "35600000000001"]
    assert siret.is_valid("35600000000001")
    assert not luhn.is_valid("35600000000001")  # only valid through La Poste's rule
    column_type, converted = typed(values, name="beneficiaire")
    assert column_type.kind == "string"
    assert column_type.note is not None
    assert "siret" in column_type.note
    assert converted == values


def test_random_fourteen_digit_numbers_are_not_siret() -> None:
    values = [str(10**13 + 7 * n) for n in range(20)]
    column_type, _ = typed(values, name="montant")
    assert column_type.kind == "integer"


def test_insee_codes_without_zeros_nor_header_are_checked_against_the_cog() -> None:
    values = ["75056", "13028", "69123", "31555", "35238"]
    assert typed(values, name="valeur")[0].kind == "string"
    assert typed(values, name="valeur", use_reference=False)[0].kind == "string"
    populations = ["1234", "56789", "250", "100000", "43"]
    assert typed(populations, name="population")[0].kind == "integer"


def test_phone_numbers_with_a_plus_stay_text() -> None:
    assert typed(["+33102030405", "+33612345678"], name="contact")[0].kind == "string"


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "date_format", "expected"),
    [
        (["01/02/2024", "15/03/2024"], "%d/%m/%Y", [dt.date(2024, 2, 1), dt.date(2024, 3, 15)]),
        (["31-12-23", "01-01-24"], "%d-%m-%y", [dt.date(2023, 12, 31), dt.date(2024, 1, 1)]),
        (["01.02.2024"], "%d.%m.%Y", [dt.date(2024, 2, 1)]),
        (["01-02-2024"], "%d-%m-%Y", [dt.date(2024, 2, 1)]),
        (["2024-02-01", "2024-2-3"], None, [dt.date(2024, 2, 1), dt.date(2024, 2, 3)]),
        (["2019/10/07"], "%Y/%m/%d", [dt.date(2019, 10, 7)]),
        (["5/6/2024", "12/11/2024"], "%d/%m/%Y", [dt.date(2024, 6, 5), dt.date(2024, 11, 12)]),
        (["02/13/2024", "01/02/2024"], "%m/%d/%Y", [dt.date(2024, 2, 13), dt.date(2024, 1, 2)]),
        (["01-01-69", "31-12-68"], "%d-%m-%y", [dt.date(1969, 1, 1), dt.date(2068, 12, 31)]),
        (["29/02/00"], "%d/%m/%y", [dt.date(2000, 2, 29)]),
    ],
)
def test_dates(values: list[str | None], date_format: str | None, expected: list[Any]) -> None:
    column_type, converted = typed(values)
    assert (column_type.kind, column_type.date_format) == ("date", date_format)
    assert converted == expected


def test_month_first_when_asked() -> None:
    column_type, converted = typed(["01/02/2024"], day_first=False)
    assert converted == [dt.date(2024, 1, 2)]
    assert column_type.date_format == "%m/%d/%Y"


@pytest.mark.parametrize(
    ("values", "timezone", "expected"),
    [
        (
            ["01/02/2024 10:30", "13/02/2024 9:05"],
            None,
            [dt.datetime(2024, 2, 1, 10, 30), dt.datetime(2024, 2, 13, 9, 5)],  # noqa: DTZ001
        ),
        (["01/02/2024 10:30:15"], None, [dt.datetime(2024, 2, 1, 10, 30, 15)]),  # noqa: DTZ001
        (
            ["2024-01-02T10:00:00+02:00", "2024-01-02T10:00:00Z"],
            "UTC",
            [dt.datetime(2024, 1, 2, 8, tzinfo=UTC), dt.datetime(2024, 1, 2, 10, tzinfo=UTC)],
        ),
        (
            ["2024-01-02T10:00:00.5", "2024-01-03 11:00", "2024-01-04"],
            None,
            [
                dt.datetime(2024, 1, 2, 10, 0, 0, 500000),  # noqa: DTZ001
                dt.datetime(2024, 1, 3, 11),  # noqa: DTZ001
                dt.datetime(2024, 1, 4),  # noqa: DTZ001
            ],
        ),
    ],
)
def test_datetimes(values: list[str | None], timezone: str | None, expected: list[Any]) -> None:
    column_type, converted = typed(values)
    assert (column_type.kind, column_type.timezone) == ("datetime", timezone)
    assert [v.astimezone(UTC) if v.tzinfo else v for v in converted] == expected


@pytest.mark.parametrize(
    "values",
    [
        ["31/02/2024", "01/01/2024"],  # impossible date: never rolled over to March
        ["13/13/2024"],  # neither day-first nor month-first
        ["01/02/2024", "2024-02-01"],  # two formats
        ["01/02/2024 10:00", "01/02/2024"],  # some with a time, some without
        ["2024-01-02T10:00:00+02:00", "2024-01-02T10:00:00"],  # offsets for some only
    ],
)
def test_doubtful_dates_stay_text(values: list[str | None]) -> None:
    assert typed(values)[0].kind == "string"


# ---------------------------------------------------------------------------------------------
# Booleans
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("valeur", ["oui", "non", "Oui", "NON"], [True, False, True, False]),
        ("valeur", ["vrai", "faux"], [True, False]),
        ("valeur", ["True", "False", "true"], [True, False, True]),
        ("valeur", ["yes", "no"], [True, False]),
        ("valeur", ["O", "N", "o"], [True, False, True]),
        ("notificationUE", ["non", "non"], [False, False]),
        ("est_actif", ["1", "0"], [True, False]),
        ("isActive", ["0", "1"], [False, True]),
    ],
)
def test_booleans(name: str, values: list[str | None], expected: list[Any]) -> None:
    column_type, converted = typed(values, name=name)
    assert column_type.kind == "boolean"
    assert converted == expected


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        ("nombre", ["0", "1"], "integer"),  # 0/1 stay integers without a boolean-ish header
        ("sexe", ["M", "F"], "string"),
        ("reponse", ["N"], "string"),  # one letter alone is not a boolean
        ("reponse", ["oui", "peut-être"], "string"),
    ],
)
def test_not_booleans(name: str, values: list[str | None], kind: str) -> None:
    assert typed(values, name=name)[0].kind == kind


# ---------------------------------------------------------------------------------------------
# Nulls, geometry, typed input
# ---------------------------------------------------------------------------------------------


def test_null_tokens_in_typed_columns() -> None:
    values = ["12,5", "NA", "n/a", "-", "", "   ", None, "#N/A", "null", "ND"]
    column_type, converted = typed(values)
    assert column_type.kind == "number"
    assert converted == [12.5] + [None] * 9
    assert typed(["01/02/2024", "-", "N/A"])[1] == [dt.date(2024, 2, 1), None, None]
    assert typed(["oui", "NC"])[1] == [True, None]


def test_null_tokens_stay_text_in_text_columns() -> None:
    assert typed(["abc", "NA", "-"])[1] == ["abc", "NA", "-"]
    column_type, converted = typed(["-", "NA", "-"])
    assert column_type.kind == "string"
    assert converted == ["-", "NA", "-"]


def test_all_null_column_is_text() -> None:
    column_type, converted = typed([None, None])
    assert column_type.kind == "string"
    assert converted == [None, None]
    assert "NA" in NULL_TOKENS


def test_custom_null_tokens() -> None:
    assert typed(["12", "s"], null_values=["s"])[1] == [12, None]  # statistical secrecy
    assert typed(["12", "NA"], null_values=["s"])[0].kind == "string"


def test_geometry_text() -> None:
    geojson = ['{"type": "Point", "coordinates": [12.5, 2.8]}']
    column_type, converted = typed(geojson)
    assert (column_type.kind, column_type.geometry_format) == ("geometry", "geojson")
    assert converted == geojson
    column_type, converted = typed(["POINT (2.35 48.85)", "LINESTRING(0 0, 1 1)"])
    assert (column_type.kind, column_type.geometry_format) == ("geometry", "wkt")
    assert converted == ["POINT (2.35 48.85)", "LINESTRING(0 0, 1 1)"]


def test_typed_columns_keep_their_type() -> None:
    table = pa.table(
        {
            "n": pa.array([1, 2], pa.int32()),
            "x": pa.array([1.5, None], pa.float32()),
            "b": pa.array([True, False]),
            "d": pa.array([dt.date(2024, 1, 1), None]),
            "t": pa.array([None, None], pa.null()),
        }
    )
    types = infer_schema(table)
    assert [t.kind for t in types] == ["integer", "number", "boolean", "date", "string"]
    converted = convert(table.to_batches()[0], types)
    assert converted.schema.types == [
        pa.int64(),
        pa.float64(),
        pa.bool_(),
        pa.date32(),
        pa.string(),
    ]
    later = pa.record_batch(
        [
            pa.array([1.5, 2.0]),
            pa.array([1, 2]),
            pa.array([True, None]),
            pa.array([dt.date(2024, 1, 1), None]),
            pa.array(["a", None]),
        ],
        names=["n", "x", "b", "d", "t"],
    )
    with pytest.raises(InvalidFileError) as caught:
        convert(later, types)  # 1.5 is not an integer
    assert caught.value.details["column"] == "n"
    assert caught.value.details["row_in_batch"] == 0


def test_empty_batch_gives_the_schema() -> None:
    table = text_table(montant=["1 234,5"], jour=["01/02/2024"], code=["01053"])
    types = infer_schema(table)
    empty = pa.RecordBatch.from_pylist([], schema=table.schema)
    assert convert(empty, types).schema.types == [pa.float64(), pa.date32(), pa.string()]


def test_columns_must_match_the_types() -> None:
    types = infer_schema(text_table(a=["1"]))
    with pytest.raises(ValueError, match="do not match"):
        convert(text_table(b=["1"]).to_batches()[0], types)


# ---------------------------------------------------------------------------------------------
# Later batches: errors, never silent nulls
# ---------------------------------------------------------------------------------------------


def test_a_bad_value_in_a_later_batch_raises() -> None:
    types = infer_schema(text_table(montant=["1 234,56", "12,5"], jour=["01/02/2024", None]))
    later = text_table(montant=["3,5", "NA", "douze"], jour=[None, None, None]).to_batches()[0]
    with pytest.raises(InvalidFileError) as caught:
        convert(later, types, row_offset=65_536)
    error = caught.value
    assert error.details == {
        "column": "montant",
        "value": "douze",
        "row_in_batch": 2,
        "row": 65_538,
        "expected": error.details["expected"],
        "kind": "number",
    }
    assert "decimal mark ','" in error.details["expected"]
    assert "--schema" in (error.hint or "")
    assert "douze" in error.message
    assert "montant" in error.message


@pytest.mark.parametrize(
    ("sample", "later", "bad_row"),
    [
        (["01/02/2024"], ["03/04/2024", "31/02/2024"], 1),  # impossible date
        (["01/02/2024"], ["2024-13-45"], 0),
        (["12"], ["1", "99999999999999999999999"], 1),  # int64 overflow: found by bisection
        (["12"], ["1", "2", "12,5"], 2),  # a decimal in an integer column
        (["oui", "non"], ["oui", "peut-être"], 1),
        (["1 234,5"], ["1 23,5"], 0),  # a misplaced thousands separator is not 123.5
        (["12,5"], ["1.5"], 0),  # a dot in a decimal-comma column
        (["POINT (1 2)"], ["pas une géométrie"], 0),
    ],
)
def test_later_failures_name_the_value(
    sample: list[str | None], later: list[str | None], bad_row: int
) -> None:
    types = infer_schema(text_table(valeur=sample))
    assert types[0].kind != "string"
    with pytest.raises(InvalidFileError) as caught:
        convert(text_table(valeur=later).to_batches()[0], types)
    assert caught.value.details["row_in_batch"] == bad_row
    assert caught.value.details["value"] == later[bad_row]


def test_degrade_to_string_lets_the_caller_restart() -> None:
    types = infer_schema(text_table(montant=["12,5"], jour=["01/02/2024"]))
    later = text_table(montant=["douze"], jour=["02/02/2024"]).to_batches()[0]
    with pytest.raises(InvalidFileError) as caught:
        convert(later, types)
    degraded = degrade_to_string(types, [caught.value.details["column"]])
    assert [t.kind for t in degraded] == ["string", "date"]
    assert convert(later, degraded).to_pylist() == [
        {"montant": "douze", "jour": dt.date(2024, 2, 2)}
    ]


# ---------------------------------------------------------------------------------------------
# Declared Table Schema fields
# ---------------------------------------------------------------------------------------------


def test_declared_fields_bypass_inference() -> None:
    table = text_table(
        montant=["1 234,56", "12,5 "],
        code=["01053", "00002"],
        jour=["01/02/2024", "03/02/2024"],
        ue=["oui", "non"],
        annee=["2024", "2023"],
        texte=["12", "13"],
    )
    declared: dict[str, str | dict[str, Any]] = {
        "montant": {"type": "number", "decimalChar": ",", "groupChar": " "},
        "code": "integer",
        "jour": {"type": "date", "format": "%d/%m/%Y", "constraints": {"required": True}},
        "ue": {"type": "boolean", "trueValues": ["oui"], "falseValues": ["non"]},
        "annee": {"type": "year"},
        "texte": {"type": "string"},
    }
    types = infer_schema(table, declared=declared)
    assert all(t.declared for t in types)
    assert types[2].nullable is False
    assert convert(table.to_batches()[0], types).to_pylist()[0] == {
        "montant": 1234.56,
        "code": 1053,
        "jour": dt.date(2024, 2, 1),
        "ue": True,
        "annee": 2024,
        "texte": "12",
    }


def test_declared_parameters_left_out_are_detected_within_the_type() -> None:
    table = text_table(montant=["1 234,56", "12,5"], jour=["01/02/2024", None])
    types = infer_schema(table, declared={"montant": "number", "jour": {"type": "date"}})
    assert (types[0].decimal_mark, types[1].date_format) == (",", "%d/%m/%Y")
    assert convert(table.to_batches()[0], types).column(0).to_pylist() == [1234.56, 12.5]


def test_declared_booleans_are_case_sensitive_as_in_table_schema() -> None:
    declared = {"ue": {"type": "boolean", "trueValues": ["oui"], "falseValues": ["non"]}}
    types = infer_schema(text_table(ue=["oui"]), declared=declared)
    with pytest.raises(InvalidFileError):
        convert(text_table(ue=["Oui"]).to_batches()[0], types)


def test_declared_extras() -> None:
    table = text_table(
        taux=["12,5 %", "3 %"],
        prix=["1 234 €", "-"],
        stamp=["2024-01-02T10:00:00+02:00", None],
        note=["x", "?"],
    )
    declared: dict[str, str | dict[str, Any]] = {
        "taux": {"type": "number", "bareNumber": False, "decimalChar": ","},
        "prix": {"type": "integer", "bareNumber": False, "groupChar": " "},
        "stamp": {"type": "datetime", "format": "default"},
        "note": {"type": "string", "missingValues": ["", "?"]},
    }
    types = infer_schema(table, declared=declared)
    rows = convert(table.to_batches()[0], types).to_pylist()
    assert rows[0]["taux"] == 12.5
    assert rows[1]["taux"] == 3.0
    assert [r["prix"] for r in rows] == [1234, None]
    assert rows[0]["stamp"] == dt.datetime(2024, 1, 2, 8, tzinfo=UTC)
    assert [r["note"] for r in rows] == ["x", "?"]  # text columns keep every text


def test_declared_field_missing_values() -> None:
    declared = {"n": {"type": "integer", "missingValues": ["", "s"]}}
    types = infer_schema(text_table(n=["1", "s"]), declared=declared)
    assert convert(text_table(n=["s", "2"]).to_batches()[0], types).column(0).to_pylist() == [
        None,
        2,
    ]
    with pytest.raises(InvalidFileError):  # NA is not a missing value for this field
        convert(text_table(n=["NA"]).to_batches()[0], types)


def test_unknown_declared_type_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        infer_schema(text_table(a=["1"]), declared={"a": "entier"})
    assert caught.value.details == {"column": "a", "type": "entier"}


def test_declared_custom_date_format_uses_strptime() -> None:
    declared = {"jour": {"type": "date", "format": "%d %b %Y"}}
    types = infer_schema(text_table(jour=["01 Feb 2024"]), declared=declared)
    batch = text_table(jour=["01 Feb 2024", None]).to_batches()[0]
    assert convert(batch, types).column(0).to_pylist() == [dt.date(2024, 2, 1), None]
    with pytest.raises(InvalidFileError):
        convert(text_table(jour=["1er février"]).to_batches()[0], types)


def test_table_schema_export_round_trips() -> None:
    table = text_table(
        montant=["1 234,56"], jour=["01/02/2024"], ue=["oui"], code=["01053"], n=["3"]
    )
    types = infer_schema(table)
    schema = table_schema(types)
    json.dumps(schema)  # serialisable
    json.dumps([t.as_dict() for t in types])
    fields = {f["name"]: f for f in schema["fields"]}
    assert fields["montant"]["decimalChar"] == ","
    assert fields["jour"]["format"] == "%d/%m/%Y"
    assert fields["code"]["type"] == "string"
    declared = {f["name"]: f for f in schema["fields"]}
    again = infer_schema(table, declared=declared)
    assert convert(table.to_batches()[0], again) == convert(table.to_batches()[0], types)


def test_real_table_schema_declaration() -> None:
    """The SCDL subventions schema applied to its own valid example."""
    folder = DATA / "schemas" / "scdl-subventions"
    schema = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
    table = read_csv(folder / "examples" / "exemple_valide.csv")
    declared = {f["name"]: f for f in schema["fields"]}
    types = {t.name: t for t in infer_schema(table, declared=declared)}
    assert types["notificationUE"].true_values == ("oui",)
    converted = convert(table.to_batches()[0], list(types.values()))
    assert converted.column("montant")[0].as_py() == 99786.57
    assert converted.column("dateConvention")[0].as_py() == dt.date(2015, 7, 7)
    assert converted.column("notificationUE")[0].as_py() is False
    assert converted.column("idAttribuant")[0].as_py() == "21060004500392"


# ---------------------------------------------------------------------------------------------
# Real files (read with the csv module, only for the test)
# ---------------------------------------------------------------------------------------------


def read_csv(path: Path, encoding: str = "utf-8", delimiter: str | None = None) -> pa.Table:
    """All cells as text, empty → null; repeated header lines dropped."""
    text = path.read_text(encoding=encoding)
    first = text.splitlines()[0]
    delimiter = delimiter or (";" if first.count(";") > first.count(",") else ",")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header = [name.strip() for name in rows[0]]
    body = [row for row in rows[1:] if row and row != rows[0]]
    return pa.table(
        {
            name: pa.array([(row[i].strip() if i < len(row) else "") or None for row in body])
            for i, name in enumerate(header)
        }
    )


REAL_FILES: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    (
        "messy/hotel-occupancy-latin1-decimal-comma.csv",
        "latin-1",
        {"Date": "date", "Année": "integer", "Occupancy rate": "number", "Source": "string"},
        {"Date": dt.date(2013, 1, 1), "Occupancy rate": 0.611553068, "Année": 2013},
    ),
    (
        "messy/laposte-codes-postaux-2014-10.csv",
        "latin-1",
        {"code commune INSEE": "string", "code postal": "string"},
        {"code commune INSEE": "01001", "code postal": "01400"},
    ),
    (
        "messy/insee-couverture-communes-epci-repeated-header.csv",
        "utf-8",
        {
            "NUMCOM": "string",
            "NUMDEP": "string",
            "NUMEPCI": "string",
            "TXCOUVGLO_COM_2014": "number",
            "GEO_INFO": "geometry",
        },
        {"NUMCOM": "01001", "TXCOUVGLO_COM_2014": 41.7, "NUMEPCI": "200035210"},
    ),
    (
        "messy/bornes-irve-20190805.csv",
        "utf-8",
        {"code_insee": "string", "date_maj": "date", "nbre_pdc": "integer"},
        {"code_insee": "13028", "date_maj": dt.date(2019, 10, 7), "nbre_pdc": 2},
    ),
    (
        "schemas/scdl-subventions/examples/exemple_valide.csv",
        "utf-8",
        {
            "idAttribuant": "string",
            "dateConvention": "date",
            "montant": "number",
            "notificationUE": "boolean",
            "pourcentageSubvention": "number",
            "rnaBeneficiaire": "string",
        },
        {"montant": 99786.57, "idBeneficiaire": "52499120500013", "notificationUE": False},
    ),
    (
        "schemas/arbres/examples/exemple-valide.csv",
        "utf-8",
        {
            "code_insee": "string",
            "code_postal": "string",
            "date_releve": "date",
            "hauteur": "integer",
            "circonference": "number",
            "latitude": "number",
            "remarquable": "boolean",
        },
        {"code_insee": "13028", "date_releve": dt.date(2018, 10, 18), "circonference": 182.12},
    ),
    (
        "schemas/lieux-covoiturage/examples/exemple-valide.csv",
        "utf-8",
        {"insee": "string", "source": "string", "ouvert": "boolean", "Xlong": "number"},
        {"source": "217602176", "ouvert": True, "date_maj": dt.date(2019, 6, 25)},
    ),
    (
        "schemas/scdl-budget/examples/BP2022_TRANSPORT.csv",
        "utf-8",
        {
            "BGT_SIRET": "string",
            "BGT_CONTNAT": "string",
            "BGT_ANNEE": "integer",
            "BGT_MTPREV": "number",
        },
        {"BGT_CONTNAT": "040", "BGT_MTPREV": 6100.0, "BGT_SIRET": "24350078200095"},
    ),
    (
        "schemas/dae/examples/exemple_valide.csv",
        "utf-8",
        {
            "lat_coor1": "number",
            "com_cp": "string",
            "tel1": "string",
            "date_instal": "date",
            "acc_lib": "boolean",
            "fab_siren": "string",
        },
        {"tel1": "+33102030405", "lat_coor1": 48.8521329, "acc_lib": True},
    ),
]


@pytest.mark.parametrize(
    ("relative", "encoding", "kinds", "first_row"), REAL_FILES, ids=[r[0] for r in REAL_FILES]
)
def test_real_files(
    relative: str, encoding: str, kinds: dict[str, str], first_row: dict[str, Any]
) -> None:
    table = read_csv(DATA / relative, encoding)
    types = {t.name: t for t in infer_schema(table)}
    assert {name: types[name].kind for name in kinds} == kinds
    converted = convert(table.combine_chunks().to_batches()[0], list(types.values()))
    row = converted.slice(0, 1).to_pylist()[0]
    assert {name: row[name] for name in first_row} == first_row


def test_real_file_in_batches() -> None:
    """Infer on the first rows, convert the rest batch by batch (as the pipeline does)."""
    table = read_csv(DATA / "messy/laposte-codes-postaux-2014-10.csv", "latin-1")
    types = infer_schema(table.slice(0, 1000))
    rows = sum(convert(b, types).num_rows for b in table.to_batches(max_chunksize=4096))
    assert rows == table.num_rows > 30_000


# ---------------------------------------------------------------------------------------------
# Property: French-formatted numbers round-trip exactly
# ---------------------------------------------------------------------------------------------

GROUPS = st.sampled_from([" ", NBSP, NNBSP, "."])


def french(value: Decimal, group: str, grouped: bool) -> str:
    sign = "-" if value < 0 else ""
    integer, _, fraction = f"{abs(value):f}".partition(".")
    if grouped:
        integer = f"{int(integer):,}".replace(",", group)
    return sign + integer + ("," + fraction if fraction else "")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False),
        min_size=1,
        max_size=20,
    ),
    group=GROUPS,
    grouping=st.lists(st.booleans(), min_size=20, max_size=20),
)
def test_french_decimals_round_trip(
    values: list[Decimal], group: str, grouping: list[bool]
) -> None:
    texts = [french(v, group, g) for v, g in zip(values, grouping, strict=False)]
    column_type, converted = typed(list(texts), decimal_mark=",")
    assert column_type.kind in {"number", "integer"}, texts
    assert [Decimal(repr(v)) for v in converted] == values, texts


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(
        st.integers(min_value=1 - 10**15, max_value=10**15 - 1), min_size=1, max_size=20
    ),
    group=GROUPS,
    grouping=st.lists(st.booleans(), min_size=20, max_size=20),
)
def test_french_integers_round_trip(values: list[int], group: str, grouping: list[bool]) -> None:
    texts = [french(Decimal(v), group, g) for v, g in zip(values, grouping, strict=False)]
    # Bare positive digit strings of identifier length (INSEE/postal 5, SIREN 9, phone 10,
    # SIRET 14) may rightly be kept as codes (e.g. a 9-digit value passing the SIREN Luhn
    # check): that rule is tested elsewhere, so leave such columns out here.
    ungrouped = [t for t in texts if t.isdigit()]
    assume(not ungrouped or any(len(t) not in {5, 9, 10, 14} for t in ungrouped))
    column_type, converted = typed(list(texts), name="quantite", decimal_mark=",")
    assert column_type.kind == "integer", texts
    assert converted == values
