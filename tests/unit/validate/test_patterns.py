"""Fixed-width patterns checked on Arrow buffers give RE2's verdicts (DuckDB's
``regexp_full_match``, which the SQL path runs) on every cell."""

from __future__ import annotations

import random
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from beffroi.ingest.cells import rows_all
from beffroi.validate.patterns import fixed_date, fixed_pattern

SUPPORTED = [
    r"^\d{14}$",
    r"^W\d{9}$",
    r"^[0-9]{4}\-[0-9]{2}\-[0-9]{2}(\/[0-9]{4}\-[0-9]{2}\-[0-9]{2})?$",
    r"\d{4}-\d{1,2}-\d{1,2}",
    r"^(2[AB]|[0-9]{2})[0-9]{3}$",
    r"^[A-Z]{2}(?:[ ]?[0-9]{2}){2}$",
    r"^(oui|non|)$",
    r"^[\w-]{3}$",
    r"^[]a-c]x$",
    r"^FR[0-9]{2}-?[a-f]?$",
    r"^\.\/\_$",
]
UNSUPPORTED = [
    r"^\d+$",
    r"^.{3}$",
    r"^[^0-9]{2}$",
    r"^\s*$",
    r"^(?i)oui$",
    r"^é{2}$",
    r"^\d{2,}$",
    r"^(a|b",
    r"^a)$",
    r"^\d{1,200}$",
    r"^(?=a)a$",
    r"^[A-Z]{2}[0-9]{2}(?:[ ]?[0-9A-Z]{4}){4,5}$",  # 48 alternatives: too many
]


def _cells(rng: random.Random) -> list[str | None]:
    alphabet = "0123456789-/ _.abcWXYZAB2\néé€\t]x"
    cells: list[str | None] = [None, "", "oui", "non", "2024-01-31", "2024-1-3", "2A123"]
    cells += ["12345678901234", "W123456789", "2024-01-31/2024-02-01", "FR76-a", ".\\/_"]
    cells += ["./_", "ax", "]x", "dx", "ab-", "FR12 3456 7890 ABCD EFGH", "FR123456ABCD7890EFGH"]
    cells += ["AB 12 34", "AB1234", "AB12 34", "ab1234"]
    for _ in range(3000):
        size = rng.choice([0, 1, 2, 3, 5, 10, 14, 15, 21, 24])
        cells.append("".join(rng.choice(alphabet) for _ in range(size)))
    return cells


@pytest.mark.parametrize("pattern", SUPPORTED)
def test_fixed_patterns_agree_with_re2(pattern: str) -> None:
    matches = fixed_pattern(pattern)
    assert matches is not None
    cells = _cells(random.Random(pattern))  # noqa: S311 - test data
    array = pa.array(["pad", *cells, "pad"])[1:-1]  # a slice: non-zero offset
    got = matches(array).to_pylist()
    con = duckdb.connect()
    expected = [
        row[0]
        for row in con.execute(
            "SELECT regexp_full_match(c, ?) FROM (SELECT unnest(?) AS c, generate_subscripts(?, 1) "
            "AS i) ORDER BY i",
            [pattern, cells, cells],
        ).fetchall()
    ]
    assert got == expected
    assert any(got), "the samples should include matching cells"


@pytest.mark.parametrize("pattern", UNSUPPORTED)
def test_other_patterns_are_left_to_the_regex_engine(pattern: str) -> None:
    assert fixed_pattern(pattern) is None


@pytest.mark.parametrize("width", [0, 1, 2, 3, 4, 5, 7, 8, 9, 14, 15, 16, 17, 33])
def test_rows_all_is_numpy_all_along_rows(width: int) -> None:
    rng = np.random.default_rng(width)
    inside = rng.random((500, width)) > 0.02
    inside[::7] = True  # rows of all true, whichever the width
    inside[3, width - 1 :] = False  # a single false in the last column
    assert np.array_equal(rows_all(inside), inside.all(axis=1))
    assert np.array_equal(rows_all(inside[:, ::-1]), inside.all(axis=1))  # not contiguous
    assert rows_all(np.zeros((0, width), dtype=bool)).shape == (0,)  # no rows at all


def test_long_runs_and_scattered_cells_give_the_same_verdicts() -> None:
    """Runs of cells of one width are read as slices, the others gathered: same verdicts
    as RE2 wherever the breaks between runs fall."""
    rng = random.Random(7)  # noqa: S311 - test data
    cells: list[str | None] = []
    for _ in range(5000):
        roll = rng.random()
        if roll < 0.01:
            cells.append(None)
        elif roll < 0.03:
            cells.append("W12")
        elif roll < 0.04:
            cells.append("1234567890123a")
        else:
            cells.append("".join(rng.choice("0123456789") for _ in range(14)))
    matches = fixed_pattern(r"^\d{14}$")
    assert matches is not None
    expected = [None if c is None else (len(c) == 14 and c.isdigit()) for c in cells]
    for chunks in (1, 3):
        size = -(-len(cells) // chunks)
        array = pa.chunked_array([cells[i : i + size] for i in range(0, len(cells), size)])
        assert matches(array).to_pylist() == expected


def _date_cells(rng: random.Random) -> list[str | None]:
    cells: list[str | None] = [None, "", "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29"]
    cells += ["0000-01-01", "0001-01-01", "9999-12-31", "2024-00-10", "2024-13-01", "2024-04-31"]
    cells += ["2024-1-05", "2024/01/05", " 2024-01-05", "2024-01-05 ", "2O24-01-05", "2024-01-5x"]
    for _ in range(4000):
        year = rng.choice(["2024", "2023", "1900", "2000", "0000", "1999", "12a4"])
        month = rng.choice(["01", "02", "04", "12", "13", "00", "2", "1-"])
        day = rng.choice(["01", "28", "29", "30", "31", "32", "00", "3"])
        sep = rng.choice(["-", "-", "-", "/", "."])
        cells.append(f"{year}{sep}{month}-{day}")
    return cells


@pytest.mark.parametrize("date_format", ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"])
def test_fixed_dates_are_proven_exactly_when_they_are_real_days(date_format: str) -> None:
    """Proven cells are exactly those Python reads as a date of that exact width; the SQL
    check (DuckDB) accepts every proven cell."""
    rng = random.Random(date_format)  # noqa: S311 - test data
    cells = _date_cells(rng)
    if date_format != "%Y-%m-%d":  # the same days, written in the other layout
        sep = date_format[2]
        cells = [
            c if c is None or len(c) != 10 else f"{c[8:]}{sep}{c[5:7]}{sep}{c[:4]}" for c in cells
        ]
    proven = fixed_date(date_format)
    assert proven is not None
    got = proven(pa.array(["pad", *cells, "pad"])[1:-1]).to_pylist()

    def real(cell: str) -> bool:
        try:
            datetime.strptime(cell, date_format)  # noqa: DTZ007 - a date, no zone
        except ValueError:
            return False
        return len(cell) == 10 and cell.isascii()

    assert got == [None if c is None else real(c) for c in cells]
    assert any(got)
    assert not all(v for v in got if v is not None)
    con = duckdb.connect()
    accepted = con.execute(
        "SELECT list(try_strptime(c, ?) IS NOT NULL) FROM (SELECT unnest(?) AS c)",
        [date_format, [c for c, ok in zip(cells, got, strict=True) if ok]],
    ).fetchone()
    assert accepted is not None
    assert all(accepted[0])


def test_fixed_dates_need_a_fixed_width_format() -> None:
    assert fixed_date("%Y-%m-%d %H:%M") is None
    assert fixed_date("%y-%m-%d") is None
    assert fixed_date("any") is None
