"""The records API's query language, compiled to parameterised DuckDB SQL.

Parameters (query string; every field name is checked against the view's columns and
every value is bound, never spliced into the SQL):

* filters: ``field=value`` (equal), ``field__ne``, ``field__in=a,b,c``, ``field__lt``,
  ``__lte``, ``__gt``, ``__gte``, ``field__contains`` and ``field__startswith``
  (case-insensitive text), ``field__null=true|false``; several filters are combined with AND;
* ``q``: every word must appear (case-insensitive) in some text column;
* ``sort=a,-b``: sort keys, ``-`` for descending (nulls last), then upload order;
* ``select=a,b``: the fields returned;
* ``limit`` (page size) and ``cursor`` (opaque, from the ``next`` link): keyset pagination
  on the sort keys and the row number — no offset, so page 10,000 is as fast as page 1;
* ``facet=field`` (repeatable): the most frequent values and their counts;
* ``group_by=a,b`` with ``agg=count``, ``agg=sum:field`` (``avg``, ``min``, ``max``,
  ``count_distinct``): one row per group (sortable by group keys and aggregate names);
* ``bbox``, ``near``, ``commune``: geographic filters for datasets with a geometry column or
  latitude/longitude columns (:mod:`beffroi.query.geo`). On a dataset without positions,
  a column of that name is filtered by equality (as before), else the request is a 422;
* ``version`` or ``as_of``: a past version (read by the caller, not here).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from beffroi.errors import InvalidInputError
from beffroi.query import geo
from beffroi.query.engine import ROW_COLUMN, ROWS_SCHEMA, Column, View, quote

OPERATORS: Final = frozenset(
    {"eq", "ne", "in", "lt", "lte", "gt", "gte", "contains", "startswith", "null"}
)
AGGREGATES: Final = frozenset({"count", "sum", "avg", "min", "max", "count_distinct"})
RESERVED: Final = frozenset(
    {
        "q",
        "sort",
        "select",
        "limit",
        "cursor",
        "facet",
        "group_by",
        "agg",
        "version",
        "format",
        "as_of",
    }
)
"""Parameter names that are not filters (a column with such a name: ``name__eq=``)."""
EXPORT_OPTIONS: Final = frozenset({"excel_fr", "download"})
FACET_VALUES: Final = 20
MAX_FACETS: Final = 10
NESTED = re.compile(r"(\[\]|^STRUCT|^MAP|^UNION|\[\d+\]$)")
TEXT_TYPES: Final = ("VARCHAR",)
_COMPARISONS: Final = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _bad(message: str, hint: str, field_name: str | None = None) -> InvalidInputError:
    problem = {"field": field_name, "message": message} if field_name else None
    return InvalidInputError(message, hint=hint, details={"errors": [problem]} if problem else {})


@dataclass(frozen=True, slots=True)
class Filter:
    """One condition on a field."""

    field: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One aggregate of a grouped query: ``function(field)``, named ``function_field``."""

    function: str
    field: str | None

    @property
    def name(self) -> str:
        """The output column name (``count``, ``sum_montant``…)."""
        return self.function if self.field is None else f"{self.function}_{self.field}"


@dataclass(slots=True)
class RecordsQuery:
    """A parsed, not yet checked, records request."""

    filters: list[Filter] = field(default_factory=list)
    q: str | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    select: list[str] | None = None
    limit: int = 20
    cursor: str | None = None
    facets: list[str] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    geo: list[tuple[str, str]] = field(default_factory=list)  # bbox, near, commune (raw)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse(  # noqa: PLR0912 - one branch per parameter name
    params: Iterable[tuple[str, str]],
    *,
    default_limit: int,
    max_limit: int,
    ignore: Iterable[str] = (),
) -> RecordsQuery:
    """Read the query-string pairs (names are not checked against columns yet)."""
    query = RecordsQuery(limit=default_limit)
    skipped = set(ignore)
    for name, value in params:
        if name in skipped:
            continue
        if name == "q":
            query.q = value.strip() or None
        elif name == "sort":
            for key in _split(value):
                descending = key.startswith("-")
                query.sort.append((key.lstrip("-+"), descending))
        elif name == "select":
            query.select = (query.select or []) + _split(value)
        elif name == "limit":
            query.limit = _limit(value, max_limit)
        elif name == "cursor":
            query.cursor = value or None
        elif name == "facet":
            query.facets += _split(value)
        elif name == "group_by":
            query.group_by += _split(value)
        elif name == "agg":
            query.aggregates += [_aggregate(item) for item in _split(value)]
        elif name in geo.PARAMETERS:
            query.geo.append((name, value))
        elif name in RESERVED:
            continue  # handled by the caller (version, as_of, format)
        else:
            column, _, op = name.rpartition("__")
            if not column or op not in OPERATORS:
                column, op = name, "eq"
            query.filters.append(Filter(column, op, value))
    if len(query.facets) > MAX_FACETS:
        raise _bad(
            f"Trop de facettes demandées ({len(query.facets)})",
            f"au plus {MAX_FACETS} champs dans facet",
            "facet",
        )
    if query.aggregates and not query.group_by:
        query.group_by = []  # aggregates over the whole (filtered) table: one row
    return query


def _limit(value: str, max_limit: int) -> int:
    try:
        limit = int(value)
    except ValueError:
        raise _bad(
            f"limit invalide : {value!r}", f"un entier de 1 à {max_limit}", "limit"
        ) from None
    if not 1 <= limit <= max_limit:
        raise _bad(f"limit hors bornes : {limit}", f"un entier de 1 à {max_limit}", "limit")
    return limit


def _aggregate(item: str) -> Aggregate:
    function, _, column = item.partition(":")
    function = function.strip().lower()
    if function not in AGGREGATES:
        raise _bad(
            f"Agrégat inconnu : {function!r}",
            f"agrégats : {', '.join(sorted(AGGREGATES))} (ex. agg=sum:montant)",
            "agg",
        )
    if function != "count" and not column:
        raise _bad(
            f"L'agrégat {function} demande un champ", f"écrivez agg={function}:<champ>", "agg"
        )
    return Aggregate(function, column.strip() or None)


# -- compilation ---------------------------------------------------------------------------


@dataclass(slots=True)
class Compiled:
    """SQL and its bound parameters."""

    sql: str
    params: list[Any]


class Compiler:
    """Turns a :class:`RecordsQuery` into SQL over one view, checking every name."""

    def __init__(self, view: View, positions: geo.GeoColumns | None = None) -> None:
        self.view = view
        self.positions = positions or geo.GeoColumns()
        self.source = f"{ROWS_SCHEMA}.{quote(view.table.slug)}"

    def column(self, name: str, parameter: str) -> Column:
        """The view's column ``name``, or a 422 that lists the valid ones."""
        found = self.view.column(name)
        if found is None:
            names = ", ".join(self.view.names[:50])
            raise _bad(
                f"Champ inconnu : {name!r} (paramètre {parameter})",
                f"champs disponibles : {names}",
                parameter,
            )
        return found

    def where(self, query: RecordsQuery) -> tuple[str, list[Any]]:
        """The WHERE clause (without the keyword; ``TRUE`` when empty) and its parameters."""
        parts: list[str] = []
        params: list[Any] = []
        for item in [*query.filters, *self._geo_as_fields(query)]:
            sql, values = self._filter(item)
            parts.append(sql)
            params += values
        if query.geo and self.positions != geo.GeoColumns():
            geo_parts, geo_params = geo.where(geo.parse(query.geo), self.positions)
            parts += geo_parts
            params += geo_params
        if query.q:
            text_columns = [c for c in self.view.columns if c.type in TEXT_TYPES]
            if not text_columns:
                raise _bad("Recherche q impossible : aucun champ texte", "filtrez par champ", "q")
            for word in query.q.split():
                ors = " OR ".join(f"contains(lower({quote(c.name)}), ?)" for c in text_columns)
                parts.append(f"({ors})")
                params += [word.lower()] * len(text_columns)
        return (" AND ".join(parts) or "TRUE"), params

    def resolve(self, query: RecordsQuery) -> RecordsQuery:
        """``query`` with ``bbox``/``near``/``commune`` turned into field filters when the
        dataset has no positions (see :meth:`_geo_as_fields`): the fast paths of plain
        field filters then apply, as before geographic filters existed."""
        moved = self._geo_as_fields(query)
        if not moved:
            return query
        return replace(query, filters=[*query.filters, *moved], geo=[])

    def _geo_as_fields(self, query: RecordsQuery) -> list[Filter]:
        """``bbox``/``near``/``commune`` on a dataset without positions: a field filter on a
        column of that name (kept from before geographic filters), else a 422."""
        if not query.geo or self.positions != geo.GeoColumns():
            return []
        missing = [name for name, _v in query.geo if self.view.column(name) is None]
        if missing:
            raise geo.not_geographic(self.view.table.slug, missing)
        return [Filter(name, "eq", value) for name, value in query.geo]

    def _filter(self, item: Filter) -> tuple[str, list[Any]]:
        parameter = item.field if item.op == "eq" else f"{item.field}__{item.op}"
        column = self.column(item.field, parameter)
        name = quote(column.name)
        if item.op == "null":
            flag = item.value.strip().lower()
            if flag not in {"true", "false", "1", "0", "oui", "non"}:
                raise _bad(f"{parameter} attend true ou false", f"{parameter}=true", parameter)
            negate = flag in {"false", "0", "non"}
            return (f"{name} IS {'NOT ' if negate else ''}NULL"), []
        if item.op in {"contains", "startswith"}:
            text = name if column.type in TEXT_TYPES else f"CAST({name} AS VARCHAR)"
            function = "contains" if item.op == "contains" else "starts_with"
            return f"{function}(lower({text}), ?)", [item.value.lower()]
        if NESTED.search(column.type):
            raise _bad(
                f"Le champ {column.name} ({column.type}) ne se filtre que par __null",
                f"{column.name}__null=true",
                parameter,
            )
        if item.op == "in":
            values = _split(item.value)
            if not values:
                raise _bad(f"{parameter} est vide", f"{parameter}=a,b,c", parameter)
            marks = ", ".join(f"CAST(? AS {column.type})" for _ in values)
            return f"{name} IN ({marks})", values
        return f"{name} {_COMPARISONS[item.op]} CAST(? AS {column.type})", [item.value]

    def sort_columns(self, query: RecordsQuery) -> list[tuple[Column, bool]]:
        """The checked sort keys."""
        keys: list[tuple[Column, bool]] = []
        for name, descending in query.sort:
            column = self.column(name, "sort")
            if NESTED.search(column.type):
                raise _bad(
                    f"Tri impossible sur {column.name} ({column.type})",
                    "triez sur un champ simple",
                    "sort",
                )
            keys.append((column, descending))
        return keys

    def selected(self, query: RecordsQuery) -> list[Column]:
        """The returned columns (all by default)."""
        if query.select is None:
            return list(self.view.columns)
        return [self.column(name, "select") for name in dict.fromkeys(query.select)]

    def page(
        self, query: RecordsQuery, *, window: tuple[int, int] | None = None
    ) -> tuple[Compiled, list[Column], list[tuple[Column, bool]]]:
        """One page of records (limit + 1 rows, to know whether there is a next page).

        The result has the selected columns, then ``__k0…`` (the sort keys) and the row
        number, which the caller strips.
        """
        where, params = self.where(query)
        keys = self.sort_columns(query)
        columns = self.selected(query)
        if query.cursor:
            after, values = self._after(query, keys)
            where = f"({where}) AND ({after})"
            params += values
        if window is not None:
            # Row numbers are (nearly) dense: in upload order, the next page is most often
            # exactly the next ``limit`` numbers, which zone maps find without a scan.
            low, high = int(window[0]), int(window[1])
            where = f"({where}) AND {ROW_COLUMN} > {low} AND {ROW_COLUMN} <= {high}"
        order = ", ".join(
            f"{quote(c.name)} {'DESC' if desc else 'ASC'} NULLS LAST" for c, desc in keys
        )
        order = f"{order}, {ROW_COLUMN}" if order else ROW_COLUMN
        extra = "".join(f", {quote(c.name)} AS __k{i}" for i, (c, _desc) in enumerate(keys))
        listed = ", ".join(quote(c.name) for c in columns) or "NULL AS __none"
        limit = int(query.limit) + 1
        if window is not None:
            # At most ``limit + 1`` row numbers fit in the window: no ORDER BY (the caller
            # sorts those few rows; DuckDB's sort of compressed columns costs more).
            sql = (
                f"SELECT {listed}{extra}, {ROW_COLUMN} FROM {self.source} "  # noqa: S608 - checked names
                f"WHERE {where}"
            )
        else:
            # Two phases: find the page's row numbers reading only the filtered and sorted
            # columns, then fetch the page's rows by number (late materialisation).
            sql = (
                f"SELECT {listed}{extra}, {ROW_COLUMN} FROM {self.source} "  # noqa: S608 - checked names
                f"WHERE {ROW_COLUMN} IN (SELECT {ROW_COLUMN} FROM {self.source} "
                f"WHERE {where} ORDER BY {order} LIMIT {limit}) ORDER BY {order}"
            )
        return Compiled(sql, params), columns, keys

    def count(self, query: RecordsQuery) -> Compiled:
        """Rows matching the filters."""
        where, params = self.where(query)
        return Compiled(f"SELECT count(*) FROM {self.source} WHERE {where}", params)  # noqa: S608

    def facet(self, query: RecordsQuery, name: str) -> Compiled:
        """The most frequent values of one field among the matching rows."""
        column = self.column(name, "facet")
        where, params = self.where(query)
        q = quote(column.name)
        return Compiled(
            f"SELECT {q} AS value, count(*) AS n FROM {self.source} WHERE {where} "  # noqa: S608
            f"GROUP BY {q}{self._having_min_cell()} ORDER BY n DESC, {q} NULLS LAST "
            f"LIMIT {FACET_VALUES}",
            params,
        )

    # Statistical secrecy (access layer: ReadableTable.min_cell_size, set for readers outside
    # the owner of a dataset with a minimum cell size): groups and facet values counting
    # fewer rows are left out.
    def _having_min_cell(self) -> str:
        size = self.view.table.min_cell_size
        return f" HAVING count(*) >= {int(size)}" if size else ""

    def grouped(self, query: RecordsQuery, offset: int) -> tuple[Compiled, Compiled, list[str]]:
        """Groups (page + total) and their column names."""
        where, params = self.where(query)
        groups = [self.column(name, "group_by") for name in dict.fromkeys(query.group_by)]
        aggregates = query.aggregates or [Aggregate("count", None)]
        outputs: list[str] = [c.name for c in groups]
        expressions = [quote(c.name) for c in groups]
        for aggregate in aggregates:
            if aggregate.field is None:
                expressions.append(f"count(*) AS {quote(aggregate.name)}")
            else:
                target = quote(self.column(aggregate.field, "agg").name)
                if aggregate.function == "count_distinct":
                    call = f"count(DISTINCT {target})"
                else:
                    call = f"{aggregate.function}({target})"
                expressions.append(f"{call} AS {quote(aggregate.name)}")
            outputs.append(aggregate.name)
        group_sql = ", ".join(quote(c.name) for c in groups)
        group_clause = f" GROUP BY {group_sql}" if groups else ""
        order_parts: list[str] = []
        for name, descending in query.sort:
            if name not in outputs:
                raise _bad(
                    f"Tri impossible sur {name!r} d'un regroupement",
                    f"triez sur : {', '.join(outputs)}",
                    "sort",
                )
            order_parts.append(f"{quote(name)} {'DESC' if descending else 'ASC'} NULLS LAST")
        order_parts += [f"{quote(c.name)} NULLS LAST" for c in groups]
        order = f" ORDER BY {', '.join(order_parts)}" if order_parts else ""
        inner = f"SELECT {', '.join(expressions)} FROM {self.source} WHERE {where}{group_clause}"  # noqa: S608
        inner += self._having_min_cell()
        page = Compiled(f"{inner}{order} LIMIT {int(query.limit) + 1} OFFSET {int(offset)}", params)
        total = Compiled(f"SELECT count(*) FROM ({inner})", list(params))  # noqa: S608
        return page, total, outputs

    def _after(self, query: RecordsQuery, keys: list[tuple[Column, bool]]) -> tuple[str, list[Any]]:
        """Rows strictly after the cursor's (keys…, row number), nulls last in both orders."""
        state = decode_cursor(query.cursor or "")
        values = state.get("k")
        row = state.get("r")
        if (
            not isinstance(values, list)
            or len(values) != len(keys)
            or not isinstance(row, int)
            or state.get("s") != sort_signature(query)
        ):
            raise _bad(
                "Curseur invalide pour ce tri",
                "suivez le lien next tel quel, sans changer sort ni les filtres",
                "cursor",
            )
        ors: list[str] = []
        params: list[Any] = []
        equal: list[str] = []
        equal_params: list[Any] = []
        for (column, descending), value in zip(keys, values, strict=True):
            name = quote(column.name)
            if value is not None:
                op = "<" if descending else ">"
                ors.append(
                    "("
                    + " AND ".join(
                        [*equal, f"({name} {op} CAST(? AS {column.type}) OR {name} IS NULL)"]
                    )
                    + ")"
                )
                params += [*equal_params, str(value)]
                equal.append(f"{name} = CAST(? AS {column.type})")
                equal_params.append(str(value))
            else:
                equal.append(f"{name} IS NULL")
        ors.append("(" + " AND ".join([*equal, f"{ROW_COLUMN} > ?"]) + ")")
        params += [*equal_params, row]
        return " OR ".join(ors), params


def sort_signature(query: RecordsQuery) -> str:
    """What a cursor is valid for: the sort keys."""
    return ",".join(f"{'-' if d else ''}{n}" for n, d in query.sort)


def encode_cursor(state: dict[str, Any]) -> str:
    """An opaque cursor (URL-safe base64 of compact JSON)."""
    raw = json.dumps(state, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The state of a cursor, or a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        state = None
    if not isinstance(state, dict):
        raise _bad("Curseur illisible", "suivez le lien next tel quel", "cursor")
    return state


def cursor_value(value: Any) -> Any:
    """A sort key as stored in a cursor (text, cast back to the column type)."""
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time, decimal.Decimal, float, int, bool)):
        return str(value)
    return str(value)


def field_type(duckdb_type: str) -> str:  # noqa: PLR0911 - one return per family
    """A DuckDB type as a Table Schema type name."""
    t = duckdb_type.upper()
    if NESTED.search(t):
        return "array" if t.endswith("]") else "object"
    if t in {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
    }:
        return "integer"
    if t in {"FLOAT", "DOUBLE", "REAL"} or t.startswith("DECIMAL"):
        return "number"
    if t == "BOOLEAN":
        return "boolean"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "datetime"
    if t.startswith("TIME"):
        return "time"
    if t == "INTERVAL":
        return "duration"
    return "string"


def fields(columns: Sequence[Column]) -> list[dict[str, str]]:
    """The ``fields`` member of a response."""
    return [{"name": c.name, "type": field_type(c.type), "duckdb_type": c.type} for c in columns]
