"""Declarative row filters: validation, and compiled SQL that quotes everything (run in DuckDB)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from beffroi.access.rowfilter import columns_of, compile_filter, conditions
from beffroi.errors import InvalidInputError


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (56121, 'Lorient', 'a'), "
        "(56098, 'Lanester', 'b'), (1001, 'L''Abergement', 'c')) "
        'AS v(code_insee, "nom ""commune""", x)'
    )
    return con


def rows(con: duckdb.DuckDBPyConnection, spec: dict[str, Any], communes: set[str]) -> list[str]:
    expression = compile_filter(spec, grantee_communes=communes)
    found = con.execute(f"SELECT x FROM t WHERE {expression} ORDER BY x").fetchall()  # noqa: S608
    return [r[0] for r in found]


def test_operators(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, {"column": "code_insee", "in_grantee_communes": True}, {"56121"}) == ["a"]
    assert rows(con, {"column": "code_insee", "in": ["56098", 56121]}, set()) == ["a", "b"]
    assert rows(con, {"column": "code_insee", "eq": 1001}, set()) == ["c"]
    both = {"all": [{"column": "code_insee", "in": ["56121", "56098"]}, {"column": "x", "eq": "b"}]}
    assert rows(con, both, set()) == ["b"]
    assert columns_of(both) == {"code_insee", "x"}


def test_nothing_granted_is_no_row(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, {"column": "code_insee", "in_grantee_communes": True}, set()) == []
    assert rows(con, {"column": "code_insee", "in": []}, set()) == []


def test_values_and_names_are_quoted(con: duckdb.DuckDBPyConnection) -> None:
    hostile = "x' OR 1=1 --"
    assert rows(con, {"column": "x", "eq": hostile}, set()) == []
    assert rows(con, {"column": 'nom "commune"', "eq": "L'Abergement"}, set()) == ["c"]
    expression = compile_filter({"column": 'a") OR (1=1', "eq": 1}, grantee_communes=set())
    with pytest.raises(duckdb.BinderException):  # an unknown column, not an injection
        con.execute(f"SELECT * FROM t WHERE {expression}")  # noqa: S608


@pytest.mark.parametrize(
    "spec",
    [
        {"sql": "1=1"},
        {"column": "x"},
        {"column": "x", "eq": 1, "in": [1]},
        {"column": "x", "in_grantee_communes": "yes"},
        {"column": "x", "in": "56121"},
        {"column": "x", "in": [{"nested": 1}]},
        {"column": "x", "eq": None},
        {"column": "x", "eq": True},
        {"column": "", "eq": 1},
        {"all": []},
        {"all": [{"column": "x", "eq": 1}], "column": "y"},
    ],
)
def test_invalid_filters_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match="Filtre de lignes invalide") as caught:
        conditions(spec)
    assert caught.value.hint
    assert caught.value.message_en
