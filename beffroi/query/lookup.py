"""Value indexes for equality-filtered pages: ``field=value`` in upload order without a scan.

For a view loaded in memory (:attr:`~beffroi.query.engine.View.in_memory`), the first
``field=value`` page of a field builds, once per database, a map from each value to the
sorted row numbers holding it (8 bytes per row, built by one DuckDB ``GROUP BY``). A page
is then a binary search for the cursor and one fetch of ``limit + 1`` rows by number; the
total is the length of the list. Fields with too many distinct values (identifiers) are
not indexed: their pages take the general path.
"""

from __future__ import annotations

import array
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Final, cast

import pyarrow as pa

from beffroi.errors import UserError
from beffroi.query.engine import ROW_COLUMN, ROWS_SCHEMA, Column, QueryDatabase, View, quote

INDEXABLE: Final = frozenset(
    {
        "VARCHAR",
        "BIGINT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "UBIGINT",
        "UINTEGER",
        "DATE",
        "BOOLEAN",
    }
)
MAX_DISTINCT: Final = 100_000


@dataclass(frozen=True, slots=True)
class ValueIndex:
    """Sorted row numbers of each value of one column."""

    rows: dict[Any, array.array[int]]


def _build(database: QueryDatabase, view: View, column: Column) -> ValueIndex | None:
    source = f"{ROWS_SCHEMA}.{quote(view.table.slug)}"
    name = quote(column.name)
    [(distinct,)] = database.rows(f"SELECT approx_count_distinct({name}) FROM {source}")  # noqa: S608
    if int(distinct or 0) > MAX_DISTINCT:
        return None
    table = database.arrow(
        f"SELECT {name} AS v, list({ROW_COLUMN} ORDER BY {ROW_COLUMN}) AS r "  # noqa: S608
        f"FROM {source} WHERE {name} IS NOT NULL GROUP BY {name}"
    )
    values = table.column("v").to_pylist()
    lists = cast("pa.ListArray[Any]", table.column("r").combine_chunks())
    offsets = cast("list[int]", lists.offsets.to_pylist())
    flat = lists.values.cast(pa.int64())
    data = flat.buffers()[1]
    base = flat.offset
    rows: dict[Any, array.array[int]] = {}
    if data is None:  # no value at all
        return ValueIndex(rows=rows)
    for index, value in enumerate(values):
        numbers: array.array[int] = array.array("q")
        start, end = (base + offsets[index]) * 8, (base + offsets[index + 1]) * 8
        numbers.frombytes(memoryview(data)[start:end])
        rows[value] = numbers
    return ValueIndex(rows=rows)


def row_numbers(
    database: QueryDatabase, view: View, column: Column, value: str
) -> array.array[int] | None:
    """The sorted row numbers where ``column = value``, or None (not indexable)."""
    if not view.in_memory or column.type not in INDEXABLE:
        return None
    index = database.keep(
        ("value-index", view.table.slug, column.name), lambda: _build(database, view, column)
    )
    if index is None:
        return None
    if column.type == "VARCHAR":
        typed: Any = value
    else:
        try:
            [(typed,)] = database.rows(f"SELECT CAST(? AS {column.type})", [value])
        except UserError:
            return None  # the general path reports the bad value
    return index.rows.get(typed, array.array("q"))


def page_numbers(numbers: array.array[int], after: int, limit: int) -> list[int]:
    """Up to ``limit + 1`` row numbers following row number ``after``."""
    start = bisect_right(numbers, after)
    return list(numbers[start : start + limit + 1])
