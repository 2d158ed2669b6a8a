"""Fixed-width patterns checked on Arrow buffers give RE2's verdicts (DuckDB's
``regexp_full_match``, which the SQL path runs) on every cell."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from beffroi.validate.patterns import fixed_pattern

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
