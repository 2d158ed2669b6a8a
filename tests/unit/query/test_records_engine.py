"""Records pages at the engine level: the in-memory and the Parquet paths agree, and the
access layer's row filter and column subset are applied (gaps in row numbers included)."""

from __future__ import annotations

import csv
from typing import Any

import pytest

from beffroi.access import Actor, readable_table
from beffroi.access.reading import ReadableTable
from beffroi.errors import InvalidInputError
from beffroi.query import records as rec
from beffroi.query.engine import QueryEngine
from beffroi.query.service import records_page
from tests.conftest import make_settings
from tests.unit.query.conftest import SUBVENTIONS, Instance

OPERATOR = Actor.system(name="test")

with SUBVENTIONS.open(encoding="utf-8", newline="") as _handle:
    EXPECTED = list(csv.DictReader(_handle))


def walk(engine: QueryEngine, table: ReadableTable, params: list[tuple[str, str]]) -> list[Any]:
    database = engine.database([table], in_memory=True)
    view = database.views[table.slug]
    rows: list[Any] = []
    cursor: str | None = None
    while True:
        query = rec.parse(
            [*params, *([("cursor", cursor)] if cursor else [])],
            default_limit=7,
            max_limit=500,
        )
        page = records_page(database, view, query)
        rows += page.data
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


@pytest.fixture
def public(instance: Instance) -> ReadableTable:
    with instance.session() as session:
        return readable_table(session, OPERATOR, "public")


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("sort", "-montant,nomBeneficiaire")],
        [("montant__gte", "1000")],
        [("q", "club")],
    ],
)
def test_in_memory_and_parquet_paths_agree(
    instance: Instance, public: ReadableTable, params: list[tuple[str, str]]
) -> None:
    memory = QueryEngine(instance.settings)
    parquet = QueryEngine(make_settings(instance.settings.data_dir, query_memory_rows=0))
    assert memory.database([public], in_memory=True).views["public"].in_memory
    assert not parquet.database([public], in_memory=True).views["public"].in_memory
    assert walk(memory, public, params) == walk(parquet, public, params)
    if not params:
        assert [r["objet"] for r in walk(memory, public, params)] == [r["objet"] for r in EXPECTED]


def test_row_filter_and_columns_from_the_access_layer(
    instance: Instance, public: ReadableTable
) -> None:
    """A row filter leaves gaps in the row numbers: the fast path for the next page falls
    back to the general query, and every allowed row comes once, in upload order."""
    restricted = ReadableTable(
        slug=public.slug,
        dataset_id=public.dataset_id,
        store_key=public.store_key,
        store_version=public.store_version,
        version=public.version,
        published=True,
        row_filter="montant >= 1000",
        columns=("nomBeneficiaire", "montant"),
    )
    engine = QueryEngine(instance.settings)
    rows = walk(engine, restricted, [])
    expected = [r for r in EXPECTED if float(r["montant"]) >= 1000]
    assert [r["nomBeneficiaire"] for r in rows] == [r["nomBeneficiaire"] for r in expected]
    assert set(rows[0]) == {"nomBeneficiaire", "montant"}
    database = engine.database([restricted], in_memory=True)
    # The hidden columns are not there, not even for a filter or a sort.
    with pytest.raises(InvalidInputError, match="Champ inconnu"):
        records_page(
            database,
            database.views["public"],
            rec.parse([("objet__contains", "x")], default_limit=5, max_limit=5),
        )
    [(count,)] = database.rows('SELECT count(*) FROM "public"')
    assert count == len(expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nature", "aide en numéraire"),
        ("dateConvention", "2018-04-14"),
        ("nomBeneficiaire", "nobody"),
        ("pourcentageSubvention", "1"),
    ],
)
def test_value_index_pages_agree_with_the_general_path(
    instance: Instance, public: ReadableTable, field: str, value: str
) -> None:
    memory = QueryEngine(instance.settings)
    parquet = QueryEngine(make_settings(instance.settings.data_dir, query_memory_rows=0))
    indexed = walk(memory, public, [(field, value)])
    assert indexed == walk(parquet, public, [(field, value)])
    expected = [r["objet"] for r in EXPECTED if r[field] == value]
    assert [r["objet"] for r in indexed] == expected
    database = memory.database([public], in_memory=True)
    page = records_page(
        database,
        database.views["public"],
        rec.parse([(field, value)], default_limit=5, max_limit=5),
    )
    assert page.total == len(expected)
    # The index was built, and used (kept for the database's life).
    assert ("value-index", "public", field) in database._kept
