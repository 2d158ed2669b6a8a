"""French custom checks: SIREN/SIRET (as python-stdnum, which Validata uses), INSEE commune
codes with successors of merged communes, postal codes, RNA numbers; reference foreign keys."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from stdnum import luhn
from stdnum.fr import siren, siret

from beffroi.validate import Options, Report, parse_schema, validate


def run(tmp_path: Path, values: list[str], check: str, **options: Any) -> Report:
    path = tmp_path / "ids.csv"
    path.write_text("id\n" + "\n".join(values) + "\n", encoding="utf-8")
    schema = parse_schema(
        {
            "fields": [{"name": "id"}],
            "custom_checks": [{"name": check, "params": {"column": "id"}}],
        }
    )
    return validate(path, schema, Options(max_errors=100_000, **options))


def _numbers(seed: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    values = ["".join(str(rng.randrange(10)) for _ in range(14)) for _ in range(400)]
    for _ in range(200):  # valid SIREN, valid SIRET
        head = "".join(str(rng.randrange(10)) for _ in range(8))
        head += luhn.calc_check_digit(head)
        body = head + "".join(str(rng.randrange(10)) for _ in range(4))
        values.append(body + luhn.calc_check_digit(body))
    values += ["356000000" + "".join(str(rng.randrange(10)) for _ in range(5)) for _ in range(100)]
    values += ["35600000000048", "35600000049837", "356 000 000 49837", "1234", "abcdefghijklmn"]
    return values


def test_siret_agrees_with_stdnum(tmp_path: Path) -> None:
    values = _numbers(1)
    report = run(tmp_path, values, "french-siret-value")
    rejected = {e.cell for e in report.errors}
    assert rejected == {v for v in values if not siret.is_valid(v)}
    assert "35600000049837" not in rejected  # La Poste: digit sum divisible by 5
    assert report.errors[0].code == "french-siret-value"
    assert "SIRET" in report.errors[0].message()


@pytest.mark.parametrize("check", ["french-siret-value", "french-siren-value"])
def test_a_column_with_no_identifier_of_full_length(tmp_path: Path, check: str) -> None:
    """No cell of exactly 14 (9) digits in a chunk: an empty optional column, or only short
    or spaced values, is checked like any other."""
    schema = parse_schema(
        {
            "fields": [{"name": "nom"}, {"name": "id"}],
            "custom_checks": [{"name": check, "params": {"column": "id"}}],
        }
    )
    path = tmp_path / "ids.csv"
    path.write_text("nom,id\na,\nb,\nc,\n", encoding="utf-8")
    assert validate(path, schema).valid
    path.write_text("nom,id\na,\nb,12 34\nc,1234\n", encoding="utf-8")
    report = validate(path, schema)
    assert [(e.row, e.cell) for e in report.errors] == [(3, "12 34"), (4, "1234")]


def test_siren_agrees_with_stdnum(tmp_path: Path) -> None:
    values = [v[:9] for v in _numbers(2)]
    report = run(tmp_path, values, "french_siren_value")  # Validata's old spelling too
    assert {e.cell for e in report.errors} == {v for v in values if not siren.is_valid(v)}


def test_commune_codes_and_successors(tmp_path: Path) -> None:
    # 56121 Lorient; 2A004 Ajaccio; 01003 merged into 01165 in 1983; 99999 never existed.
    report = run(tmp_path, ["56121", "2A004", "01003", "99999"], "french-insee-commune-value")
    assert [(e.row, e.cell) for e in report.errors] == [(4, "01003"), (5, "99999")]
    merged = report.errors[0]
    assert "01165" in merged.message()
    assert "01165" in merged.hint()
    assert "code postal" in report.errors[1].hint()


def test_postal_codes_and_rna(tmp_path: Path) -> None:
    report = run(tmp_path, ["56100", "75001", "00000", "5610"], "french-postal-code-value")
    assert [e.cell for e in report.errors] == ["00000", "5610"]
    report = run(tmp_path, ["W561234567", "W2A1234567", "W12", "561234567"], "french-rna-value")
    assert [e.cell for e in report.errors] == ["W12", "561234567"]


def test_custom_checks_can_be_turned_off_and_unknown_ones_warn(tmp_path: Path) -> None:
    report = run(tmp_path, ["1"], "french-siret-value", custom_checks=False)
    assert report.valid
    report = run(tmp_path, ["1"], "opening-hours-value")
    assert report.valid
    assert any("opening-hours-value" in w for w in report.warnings)


def test_field_level_checks(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("siren\n123456789\n732829320\n", encoding="utf-8")
    schema = parse_schema(
        {"fields": [{"name": "siren", "x-beffroi-checks": ["french-siren-value"]}]}
    )
    report = validate(path, schema)
    assert [(e.code, e.row) for e in report.errors] == [("french-siren-value", 2)]


def test_foreign_key_to_reference_data(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("commune,nom\n56121,Lorient\n56999,Nulle part\n", encoding="utf-8")
    schema = parse_schema(
        {
            "fields": [{"name": "commune"}, {"name": "nom"}],
            "foreignKeys": [
                {
                    "fields": ["commune"],
                    "reference": {"resource": "ref:communes", "fields": ["code_insee"]},
                }
            ],
        }
    )
    report = validate(path, schema)
    assert [(e.code, e.row, e.cell) for e in report.errors] == [("foreign-key", 3, "56999")]
    assert "ref:communes" in report.errors[0].message()


def test_vectorised_siret_on_sliced_arrays_with_nulls_and_separators() -> None:
    """The digit-matrix check reads Arrow buffers directly: slices, nulls, separators,
    non-ASCII digits and multi-byte text must give python-stdnum's verdicts."""
    import pyarrow as pa

    from beffroi.validate.french import CUSTOM_CHECKS

    check = CUSTOM_CHECKS["french-siret-value"].vector
    assert check is not None
    values: list[str | None] = [*_numbers(3), None, "", "٣٥٦٠٠٠٠٠٠٤٩٨٣٧", "3560000004983é"]
    values += ["356.000.000 49837", " 35600000049837", "35600000049837 ", "0" * 14, "0" * 15]
    array = pa.array(["padding", *values, "tail"])[1:-1]  # a slice: non-zero offset
    got = check(array).to_pylist()
    assert got == [v is not None and siret.is_valid(v) for v in values]
    assert check(pa.chunked_array([array[:10], array[10:]])).to_pylist() == got
    assert check(pa.array([], pa.string())).to_pylist() == []
