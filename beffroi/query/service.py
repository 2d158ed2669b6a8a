"""Query services called by the web API and the CLI: records, SQL, exports.

Each asks the access layer (:mod:`beffroi.access.reading`) what the actor may read, builds
(or reuses) the sandboxed database of exactly that, and runs the query there.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.access.cache import catalogue_key
from beffroi.access.reading import ReadableTable, readable_table, readable_tables
from beffroi.catalog.history import version_at
from beffroi.catalog.models import DatasetVersion
from beffroi.catalog.services import get_dataset
from beffroi.errors import InvalidInputError
from beffroi.query import exports, geo, geojson, lookup
from beffroi.query import records as rec
from beffroi.query.engine import ROW_COLUMN, Column, QueryDatabase, View, engine_for
from beffroi.settings import Settings


@dataclass(slots=True)
class RecordsPage:
    """One page of records (or of groups), ready to be rendered as JSON."""

    dataset: str
    version: int
    published: bool
    data: list[dict[str, Any]]
    fields: list[dict[str, str]]
    total: int
    total_exact: bool
    limit: int
    next_cursor: str | None
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    grouped: bool = False
    encoded: bytes | None = None
    """The JSON of ``fields`` and ``data`` (set by the first response that renders this
    page: pages are remembered, so popular pages are encoded once)."""


@dataclass(slots=True)
class SqlResult:
    """The answer to a SQL query (at most ``limit`` rows)."""

    columns: list[Column]
    rows: list[dict[str, Any]]
    truncated: bool
    limit: int
    tables: list[str]
    read: list[str] = field(default_factory=list)
    """The datasets the query read (their slugs), for usage counting."""


def plain(value: Any) -> Any:  # noqa: PLR0911 - one return per type
    """A DuckDB value as JSON-ready Python (dates as ISO text, decimals as numbers)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def _database(settings: Settings, tables: list[ReadableTable]) -> QueryDatabase:
    return engine_for(settings).database(tables)


CACHED_PROFILES = 1024
_profiles: OrderedDict[tuple[str, int, int], tuple[list[dict[str, Any]], bool]] = OrderedDict()
_profiles_lock = threading.Lock()


def _profile(session: Session, table: ReadableTable) -> tuple[list[dict[str, Any]], bool]:
    """The stored profile of a version and whether it may be geographic (cached: a version
    never changes; keyed by the catalogue too, since two instances in one process number
    their datasets alike)."""
    key = (catalogue_key(session), table.dataset_id, table.version)
    with _profiles_lock:
        found = _profiles.get(key)
    if found is not None:
        return found
    profile = session.scalar(
        select(DatasetVersion.profile).where(
            DatasetVersion.dataset_id == table.dataset_id, DatasetVersion.number == table.version
        )
    )
    listed = list(profile or [])
    found = (listed, _may_be_geographic(listed))
    with _profiles_lock:
        _profiles[key] = found
        while len(_profiles) > CACHED_PROFILES:
            _profiles.popitem(last=False)
    return found


def _may_be_geographic(profile: Sequence[Mapping[str, Any]]) -> bool:
    columns = [Column(str(p.get("name")), "VARCHAR") for p in profile]
    return geo.find_columns(profile, columns) != geo.GeoColumns()


def as_of_param(params: Iterable[tuple[str, str]]) -> str | None:
    """The last ``as_of`` of the query string (None when absent or empty)."""
    found = [value for name, value in params if name == "as_of"]
    return found[-1].strip() or None if found else None


def resolve_version(
    session: Session,
    actor: Actor,
    settings: Settings,
    slug: str,
    version: int | None,
    as_of: str | None,
) -> int | None:
    """The version to read: ``version``, or the one published at ``as_of`` (not both)."""
    if as_of is None:
        return version
    if version is not None:
        raise InvalidInputError(
            "version et as_of ne se combinent pas",
            hint="donnez un numéro de version ou une date de publication, pas les deux",
            message_en="version and as_of cannot be combined",
            hint_en="give a version number or a publication date, not both",
            details={"errors": [{"field": "as_of", "message": "exclusif avec version"}]},
        )
    dataset = get_dataset(session, actor, slug)
    return version_at(session, dataset, as_of, settings.timezone)


@dataclass(slots=True)
class DatasetView:
    """A readable dataset version in its database, with its geographic columns."""

    database: QueryDatabase
    view: View
    positions: geo.GeoColumns


def located_view(
    session: Session,
    actor: Actor,
    settings: Settings,
    slug: str,
    version: int | None = None,
    *,
    as_of: str | None = None,
) -> DatasetView:
    """The database, view and positions of one readable dataset version (404 if not
    readable); ``as_of`` picks the version published at that moment."""
    number = resolve_version(session, actor, settings, slug, version, as_of)
    table = readable_table(session, actor, slug, version=number)
    profile, spatial = _profile(session, table)
    database = engine_for(settings).database([table], in_memory=True, spatial=spatial)
    view = database.views[table.slug]
    positions = geo.find_columns(profile, view.columns) if spatial else geo.GeoColumns()
    return DatasetView(database, view, positions)


def dataset_view(
    session: Session, actor: Actor, settings: Settings, slug: str, version: int | None = None
) -> tuple[QueryDatabase, View]:
    """The database and view of one readable dataset version (404 if not readable)."""
    found = located_view(session, actor, settings, slug, version)
    return found.database, found.view


def records(
    session: Session,
    actor: Actor,
    settings: Settings,
    slug: str,
    params: Iterable[tuple[str, str]],
    *,
    version: int | None = None,
) -> RecordsPage:
    """One page of a dataset's records (filters, search, sort, keyset cursor, facets,
    groups with aggregates, geographic filters; ``as_of`` in ``params`` reads the version
    published at that moment) — only what the access layer lets the actor read."""
    pairs = list(params)
    query = rec.parse(
        pairs,
        default_limit=min(100, settings.page_size_max),
        max_limit=settings.page_size_max,
    )
    found = located_view(session, actor, settings, slug, version, as_of=as_of_param(pairs))
    query = rec.Compiler(found.view, found.positions).resolve(query)
    return records_page(found.database, found.view, query, found.positions)


def records_page(
    database: QueryDatabase,
    view: View,
    query: rec.RecordsQuery,
    positions: geo.GeoColumns | None = None,
) -> RecordsPage:
    """One page of a parsed records query on a view of a database (access already
    decided: the view is what the actor may read). Pages are remembered per database:
    the version never changes, so the same question gets the same answer."""
    key = ("records", view.table.slug, repr(query), positions)
    return database.remember(key, lambda: _records_page(database, view, query, positions))


def _records_page(
    database: QueryDatabase,
    view: View,
    query: rec.RecordsQuery,
    positions: geo.GeoColumns | None = None,
) -> RecordsPage:
    compiler = rec.Compiler(view, positions)
    facets = {
        name: [
            {"value": plain(row["value"]), "count": int(row["n"])}
            for row in database.memo(*_args(compiler.facet(query, name))).to_pylist()
        ]
        for name in dict.fromkeys(query.facets)
    }
    if query.group_by or query.aggregates:
        return _groups(database, compiler, view, query, facets)
    page, columns, keys = compiler.page(query)
    found: list[tuple[Any, ...]] | None = None
    if not keys and not query.filters and not query.q and not query.geo and view.in_memory:
        start = int(rec.decode_cursor(query.cursor).get("r", -1)) if query.cursor else -1
        fast, _c, _k = compiler.page(query, window=(start, start + query.limit + 1))
        found = sorted(database.rows(fast.sql, fast.params), key=lambda row: int(row[-1]))
        if len(found) <= query.limit:
            found = None  # a gap in the numbers, or the last page: ask the general query
    total: int | None = None
    if found is None and not keys and not query.q and not query.geo and len(query.filters) == 1:
        found, total = _indexed(database, view, query, columns)
    if found is None:
        found = database.rows(page.sql, page.params)
    has_next = len(found) > query.limit
    found = found[: query.limit]
    width = len(columns)
    data = [{c.name: plain(v) for c, v in zip(columns, row[:width], strict=True)} for row in found]
    next_cursor = None
    if has_next and found:
        last = found[-1]
        next_cursor = rec.encode_cursor(
            {
                "s": rec.sort_signature(query),
                "k": [rec.cursor_value(v) for v in last[width : width + len(keys)]],
                "r": int(last[-1]),
            }
        )
    if total is None and not has_next and not query.cursor:
        total = len(found)  # the first page is the whole answer: no count to run
    if total is None:
        total = database.count(*_args(compiler.count(query)))
    return RecordsPage(
        dataset=view.table.slug,
        version=view.table.version,
        published=view.table.published,
        data=data,
        fields=rec.fields(columns),
        total=total,
        total_exact=True,
        limit=query.limit,
        next_cursor=next_cursor,
        facets=facets,
    )


def _indexed(
    database: QueryDatabase, view: View, query: rec.RecordsQuery, columns: list[Column]
) -> tuple[list[tuple[Any, ...]] | None, int | None]:
    """A ``field=value`` page in upload order through the field's value index, if any."""
    [item] = query.filters
    column = view.column(item.field)
    if item.op != "eq" or column is None:
        return None, None
    numbers = lookup.row_numbers(database, view, column, item.value)
    if numbers is None:
        return None, None
    after = int(rec.decode_cursor(query.cursor).get("r", -1)) if query.cursor else -1
    wanted = lookup.page_numbers(numbers, after, query.limit)
    if not wanted:
        return [], len(numbers)
    listed = ", ".join(_q(c.name) for c in columns) or "NULL AS __none"
    numbers_sql = ", ".join(str(int(n)) for n in wanted)
    found = database.rows(
        f"SELECT {listed}, {ROW_COLUMN} FROM {_rows_source(view)} "  # noqa: S608 - ints, quoted
        f"WHERE {ROW_COLUMN} BETWEEN {wanted[0]} AND {wanted[-1]} "
        f"AND {ROW_COLUMN} IN ({numbers_sql})"
    )
    found.sort(key=lambda row: int(row[-1]))  # a few rows: cheaper here than in DuckDB
    return found, len(numbers)


def _rows_source(view: View) -> str:
    from beffroi.query.engine import ROWS_SCHEMA  # noqa: PLC0415

    return f"{ROWS_SCHEMA}.{_q(view.table.slug)}"


def _q(name: str) -> str:
    from beffroi.query.engine import quote  # noqa: PLC0415

    return quote(name)


def _args(compiled: rec.Compiled) -> tuple[str, list[Any]]:
    return compiled.sql, compiled.params


def _groups(
    database: QueryDatabase,
    compiler: rec.Compiler,
    view: View,
    query: rec.RecordsQuery,
    facets: dict[str, list[dict[str, Any]]],
) -> RecordsPage:
    offset = 0
    if query.cursor:
        state = rec.decode_cursor(query.cursor)
        offset = state.get("o", -1)
        if not isinstance(offset, int) or offset < 0:
            raise InvalidInputError(
                "Curseur invalide pour un regroupement", hint="suivez le lien next tel quel"
            )
    page, total_sql, _outputs = compiler.grouped(query, offset)
    result = database.memo(page.sql, page.params)
    columns = [Column(f.name, _duck_type(f.type)) for f in result.schema]
    rows = result.to_pylist()
    has_next = len(rows) > query.limit
    rows = rows[: query.limit]
    # The last page tells the number of groups (when it is not empty, or is the first):
    # counting them would run the whole aggregation a second time.
    if not has_next and (rows or offset == 0):
        total = offset + len(rows)
    else:
        total = database.count(*_args(total_sql))
    return RecordsPage(
        dataset=view.table.slug,
        version=view.table.version,
        published=view.table.published,
        data=[{k: plain(v) for k, v in row.items()} for row in rows],
        fields=rec.fields(columns),
        total=total,
        total_exact=True,
        limit=query.limit,
        next_cursor=rec.encode_cursor({"o": offset + query.limit}) if has_next else None,
        facets=facets,
        grouped=True,
    )


def _duck_type(type_: pa.DataType) -> str:  # noqa: PLR0911 - one return per family
    """A DuckDB type name for an Arrow type of an aggregate's result."""
    if pa.types.is_integer(type_):
        return "BIGINT"
    if pa.types.is_floating(type_):
        return "DOUBLE"
    if pa.types.is_decimal(type_):
        return "DECIMAL"
    if pa.types.is_boolean(type_):
        return "BOOLEAN"
    if pa.types.is_date(type_):
        return "DATE"
    if pa.types.is_timestamp(type_):
        return "TIMESTAMP"
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return "VARCHAR[]"
    if pa.types.is_struct(type_):
        return "STRUCT"
    return "VARCHAR"


def run_sql(
    session: Session, actor: Actor, settings: Settings, sql: str, *, limit: int | None = None
) -> SqlResult:
    """A read-only SQL query over every table the actor may read (and ``ref.*``)."""
    limit = min(limit or settings.sql_max_rows, settings.sql_max_rows)
    tables = readable_tables(session, actor)
    database = _database(settings, tables)
    query = database.checked(sql)
    checked = query.sql
    limited = f"SELECT * FROM ({checked}) LIMIT {limit + 1}"  # noqa: S608 - checked SELECT
    columns = database.describe(limited)
    _schema, batches = database.stream(limited)
    collected: list[dict[str, Any]] = []
    for batch in batches:
        collected += batch.to_pylist()
    truncated = len(collected) > limit
    return SqlResult(
        columns=columns,
        rows=[{k: plain(v) for k, v in row.items()} for row in collected[:limit]],
        truncated=truncated,
        limit=limit,
        tables=sorted(database.views),
        read=_slugs(tables, query.datasets),
    )


def sql_batches(
    session: Session, actor: Actor, settings: Settings, sql: str
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """A SQL query's whole result, streamed (exports: no row limit)."""
    tables = readable_tables(session, actor)
    database = _database(settings, tables)
    checked = database.check(sql)
    return database.stream(checked, timeout=settings.query_timeout_seconds * 10)


@dataclass(slots=True)
class ExportFile:
    """An export ready to stream: its name, media type and bytes."""

    filename: str
    media_type: str
    chunks: Iterator[bytes]
    read: list[str] = field(default_factory=list)
    """The datasets a SQL export read (their slugs), for usage counting."""


def export_records(
    session: Session,
    actor: Actor,
    settings: Settings,
    slug: str,
    params: Iterable[tuple[str, str]],
    fmt: exports.Format,
    *,
    version: int | None = None,
) -> ExportFile:
    """Every record matching a records query (filters, q, sort, select, geographic
    filters, ``as_of``; no paging) in a file format, streamed in upload order unless sorted.
    Without parameters: the whole version."""
    pairs = list(params)
    query = rec.parse(
        pairs,
        default_limit=1,
        max_limit=settings.page_size_max,
        ignore=rec.EXPORT_OPTIONS,
    )
    if query.group_by or query.aggregates or query.facets or query.cursor:
        raise InvalidInputError(
            "Un export ne prend ni group_by, ni agg, ni facet, ni cursor",
            hint="exportez les lignes (filtres, q, sort, select) ; les agrégats passent par "
            "l'API SQL",
        )
    found = located_view(session, actor, settings, slug, version, as_of=as_of_param(pairs))
    database, view = found.database, found.view
    compiler = rec.Compiler(view, found.positions)
    where, values = compiler.where(query)
    keys = compiler.sort_columns(query)
    columns = compiler.selected(query)
    order = ", ".join(f"{_q(c.name)} {'DESC' if d else 'ASC'} NULLS LAST" for c, d in keys)
    order = f"{order}, {ROW_COLUMN}" if order else ROW_COLUMN
    if fmt.name == "geojson":
        if found.positions == geo.GeoColumns():
            raise geo.not_geographic(view.table.slug, ["export.geojson"])
        listed = geojson.select_list(columns, found.positions)
    else:
        listed = exports.projection(columns, fmt)
    sql = (
        f"SELECT {listed} FROM {_rows_source(view)} "  # noqa: S608 - checked, quoted names
        f"WHERE {where} ORDER BY {order}"
    )
    if fmt.name in {"json", "ndjson"}:
        sql = exports.json_projection(sql)
    if fmt.name == "xlsx":
        [(count,)] = database.rows(*_args(compiler.count(query)))
        if count > exports.XLSX_MAX_ROWS:
            raise InvalidInputError(
                f"Trop de lignes pour un classeur Excel : {count} (1 048 575 au plus)",
                hint="exportez en CSV ou en Parquet, ou filtrez les lignes",
            )
    schema, batches = database.stream(sql, values, timeout=settings.query_timeout_seconds * 10)
    suffix = "" if view.table.published else f"-v{view.table.version}"
    return ExportFile(
        filename=f"{view.table.slug}{suffix}.{fmt.extension}",
        media_type=fmt.media_type,
        chunks=exports.write(fmt, schema, batches),
    )


def export_sql(
    session: Session, actor: Actor, settings: Settings, sql: str, fmt: exports.Format
) -> ExportFile:
    """A SQL query's whole result (no row limit) in a file format, streamed."""
    if fmt.name == "geojson":
        raise InvalidInputError(
            "Pas d'export GeoJSON d'une requête SQL",
            hint="exportez en GeoJSON les enregistrements d'un jeu de données géographique "
            "(…/datasets/<jeu>/export.geojson) ; ici : csv, json, ndjson, parquet, xlsx",
            message_en="No GeoJSON export of a SQL query",
            hint_en="export the records of a geographic dataset as GeoJSON "
            "(…/datasets/<dataset>/export.geojson); here: csv, json, ndjson, parquet, xlsx",
        )
    tables = readable_tables(session, actor)
    database = _database(settings, tables)
    query = database.checked(sql)
    checked = query.sql
    columns = database.describe(checked)
    shaped = f"SELECT {exports.projection(columns, fmt)} FROM ({checked}) t"  # noqa: S608
    if fmt.name in {"json", "ndjson"}:
        shaped = exports.json_projection(checked)
    schema, batches = database.stream(shaped, timeout=settings.query_timeout_seconds * 10)
    return ExportFile(
        filename=f"requete.{fmt.extension}",
        media_type=fmt.media_type,
        chunks=exports.write(fmt, schema, batches),
        read=_slugs(tables, query.datasets),
    )


def _slugs(tables: list[ReadableTable], read: frozenset[str]) -> list[str]:
    """The slugs of the readable tables a query read (the guard lower-cases names)."""
    return sorted(t.slug for t in tables if t.slug.casefold() in read)


def fields_of(columns: list[Column]) -> list[dict[str, str]]:
    """The ``fields`` member of an answer (name, Table Schema type, DuckDB type)."""
    return rec.fields(columns)


def text(value: Any) -> str:
    """A value as text for CSV (ISO dates, ``.`` decimals, JSON for nested values)."""
    plain_value = plain(value)
    if isinstance(plain_value, (dict, list)):
        return json.dumps(plain_value, ensure_ascii=False)
    if isinstance(plain_value, bool):
        return "true" if plain_value else "false"
    return str(plain_value)
