"""CKAN DataStore reads (``datastore_search``, ``datastore_search_sql``) over the query engine.

A resource id (``ds-<n>-csv``…) designates the published version of a public dataset; the
query engine (:mod:`beffroi.query`) builds its sandboxed view from what the access layer lets
the anonymous actor read. Every field name is checked against the view and every value is
bound, never spliced into SQL. In SQL, a table is named by its dataset slug (as in
``/api/v1/sql``) or, as CKAN clients write it, by a quoted resource id.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from beffroi.catalog.models import Dataset
from beffroi.errors import InvalidInputError, NotFoundError
from beffroi.publish import formats, public
from beffroi.query import service
from beffroi.query.engine import ROW_COLUMN, ROWS_SCHEMA, Column, View, quote
from beffroi.query.records import field_type
from beffroi.settings import Settings

LIMIT_DEFAULT: Final = 100
LIMIT_MAX: Final = 32000  # CKAN's ckan.datastore.search.rows_max default
CKAN_TYPES: Final = {
    "integer": "int",
    "number": "numeric",
    "boolean": "bool",
    "date": "date",
    "datetime": "timestamp",
    "time": "time",
    "duration": "interval",
    "string": "text",
}
_RESOURCE_IN_SQL = re.compile(r'"(ds-\d+-[a-z]+)"')

Params = dict[str, Any]


def ckan_type(duckdb_type: str) -> str:
    """CKAN's DataStore type name of a DuckDB column type."""
    return CKAN_TYPES.get(field_type(duckdb_type), "text")


def _bad(field: str, message: str, hint: str) -> InvalidInputError:
    problem = {"field": field, "message": message}
    return InvalidInputError(f"{field} : {message}", hint=hint, details={"errors": [problem]})


def _json(params: Params, name: str) -> Any:
    """A parameter given as JSON text (GET) or as a JSON value (POST)."""
    raw = params.get(name)
    if isinstance(raw, str) and raw.strip()[:1] in {"{", "["}:
        try:
            return json.loads(raw)
        except ValueError:
            hint = f'écrivez par exemple {name}={{"champ": "valeur"}}'
            raise _bad(name, "JSON illisible", hint) from None
    return raw


def _int(params: Params, name: str, default: int, high: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _bad(name, f"« {raw} » n'est pas un entier", f"{name}=100") from None
    if value < 0:
        raise _bad(name, "doit être positif ou nul", f"{name}=0")
    return min(value, high) if high is not None else value


def _flag(params: Params, name: str, *, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in {"true", "1", "yes", "on"}


def _dataset_of(session: Session, resource_id: str) -> Dataset:
    """The public dataset whose table resource (or package id) ``resource_id`` names."""
    key, _, suffix = resource_id.rpartition("-")
    if not key.startswith("ds-"):
        key, suffix = resource_id, "csv"
    try:
        dataset = public.public_dataset_by_key(session, key)
    except NotFoundError:
        dataset = None
    known = {f.ext for f in formats.export_formats(dataset)} if dataset else set()
    if dataset is None or suffix not in known:
        raise NotFoundError(
            f"Ressource introuvable dans le DataStore : {resource_id}",
            hint="les ressources tabulaires (CSV, JSON…) d'un jeu publié figurent dans "
            "package_show (resources[].id)",
        )
    return dataset


class _Search:
    """One ``datastore_search`` compiled over a view."""

    def __init__(self, view: View) -> None:
        self.view = view

    def column(self, name: str, parameter: str) -> Column:
        found = self.view.column(name)
        if found is None:
            names = ", ".join(self.view.names[:50])
            raise _bad(parameter, f"champ inconnu {name!r}", f"champs disponibles : {names}")
        return found

    def where(self, filters: Any, q: Any) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if filters not in (None, ""):
            if not isinstance(filters, dict):
                raise _bad("filters", "un objet JSON est attendu", 'filters={"champ": "valeur"}')
            for name, wanted in filters.items():
                column = self.column(str(name), "filters")
                values = wanted if isinstance(wanted, list) else [wanted]
                if not values:
                    raise _bad("filters", f"liste vide pour {name}", f'filters={{"{name}": "v"}}')
                # values are compared in the column's own type (120000 matches 120000.0)
                marks = ", ".join(f"CAST(? AS {column.type})" for _ in values)
                parts.append(f"{quote(column.name)} IN ({marks})")
                params += [None if v is None else _text(v) for v in values]
        if isinstance(q, dict):
            for name, text in q.items():
                quoted = quote(self.column(str(name), "q").name)
                parts.append(f"contains(lower(CAST({quoted} AS VARCHAR)), ?)")
                params.append(_text(text).lower())
        elif q not in (None, ""):
            columns = [quote(c.name) for c in self.view.columns]
            for word in str(q).split():
                ors = " OR ".join(f"contains(lower(CAST({c} AS VARCHAR)), ?)" for c in columns)
                parts.append(f"({ors})")
                params += [word.lower()] * len(columns)
        return (" AND ".join(parts) or "TRUE"), params

    def order(self, sort: Any) -> str:
        keys = []
        for part in str(sort or "").split(","):
            words = part.split()
            if not words:
                continue
            direction = words[1].lower() if len(words) > 1 else "asc"
            if direction not in {"asc", "desc"} or len(words) > 2:
                hint = 'sort="champ asc, autre desc"'
                raise _bad("sort", f"tri illisible {part.strip()!r}", hint)
            if words[0] == "_id":
                keys.append(f"{ROW_COLUMN} {direction.upper()}")
                continue
            column = quote(self.column(words[0].strip('"'), "sort").name)
            keys.append(f"{column} {direction.upper()} NULLS LAST")
        return ", ".join([*keys, ROW_COLUMN])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fields(params: Params) -> list[str] | None:
    raw = _json(params, "fields")
    if raw in (None, "", []):
        return None
    names = raw if isinstance(raw, list) else [n.strip() for n in str(raw).split(",")]
    return [str(n) for n in names if str(n)]


def datastore_search(session: Session, settings: Settings, params: Params) -> dict[str, Any]:
    """Records of a public table resource: filters, q, fields, sort, distinct, limit, offset,
    include_total — the result shape of CKAN's DataStore."""
    resource_id = str(params.get("resource_id") or params.get("id") or "")
    if not resource_id:
        raise _bad("resource_id", "Missing value", "passez resource_id=… (voir package_show)")
    dataset = _dataset_of(session, resource_id)
    database, view = service.dataset_view(session, public.anonymous(), settings, dataset.slug)
    search = _Search(view)
    limit = _int(params, "limit", LIMIT_DEFAULT, LIMIT_MAX)
    offset = _int(params, "offset", 0)
    distinct = _flag(params, "distinct", default=False)
    wanted = _fields(params)
    with_id = not distinct and (wanted is None or "_id" in wanted)
    names = [n for n in (wanted or view.names) if n != "_id"]
    columns = [search.column(n, "fields") for n in names]
    where, values = search.where(_json(params, "filters"), _json(params, "q"))
    source = f"{ROWS_SCHEMA}.{quote(view.table.slug)}"
    selected = ", ".join(quote(c.name) for c in columns)
    if distinct:
        inner = f"SELECT DISTINCT {selected} FROM {source} WHERE {where}"  # noqa: S608 - checked
        sql = f"SELECT * FROM ({inner}) ORDER BY ALL LIMIT ? OFFSET ?"  # noqa: S608
    else:
        identifier = f"{ROW_COLUMN} + 1 AS _id, " if with_id else ""
        order = search.order(params.get("sort"))
        sql = (
            f"SELECT {identifier}{selected} FROM {source} WHERE {where} "  # noqa: S608 - checked
            f"ORDER BY {order} LIMIT ? OFFSET ?"
        )
    rows = database.rows(sql, [*values, limit, offset])
    out_names = (["_id"] if with_id else []) + [c.name for c in columns]
    records = [
        {name: service.plain(value) for name, value in zip(out_names, row, strict=True)}
        for row in rows
    ]
    result: dict[str, Any] = {
        "resource_id": resource_id,
        "fields": ([{"id": "_id", "type": "int"}] if with_id else [])
        + [{"id": c.name, "type": ckan_type(c.type)} for c in columns],
        "records": records,
        "limit": limit,
        "offset": offset,
        "records_format": "objects",
        "_links": _links(params, resource_id, limit, offset),
    }
    for key in ("filters", "q", "sort", "distinct"):
        if params.get(key) not in (None, ""):
            result[key] = _json(params, key)
    if _flag(params, "include_total", default=True):
        what = f"DISTINCT {selected}" if distinct else "1"
        count_from = f"SELECT {what} FROM {source} WHERE {where}"  # noqa: S608 - checked names
        total = database.rows(f"SELECT count(*) FROM ({count_from})", values)[0][0]  # noqa: S608
        result["total"] = int(total)
        result["total_was_estimated"] = False
    return result


def _links(params: Params, resource_id: str, limit: int, offset: int) -> dict[str, str]:
    keep = {
        k: v if isinstance(v, str) else json.dumps(v)
        for k, v in params.items()
        if k not in {"offset", "resource_id", "id"} and v is not None
    }
    base = "/api/3/action/datastore_search"

    def at(position: int) -> str:
        query = {"resource_id": resource_id, **keep}
        if position:
            query["offset"] = str(position)
        return f"{base}?{urlencode(query)}"

    return {"start": at(0), "next": at(offset + limit)}


def datastore_search_sql(session: Session, settings: Settings, params: Params) -> dict[str, Any]:
    """A read-only SQL query over the public tables (named by dataset slug or resource id)."""
    sql = str(params.get("sql") or "")
    if not sql.strip():
        raise _bad("sql", "Missing value", 'sql=SELECT * FROM "ds-1-csv" LIMIT 10')

    def by_resource(match: re.Match[str]) -> str:
        try:
            return quote(_dataset_of(session, match.group(1)).slug)
        except NotFoundError:
            return match.group(0)  # left as written: the query engine reports the unknown table

    rewritten = _RESOURCE_IN_SQL.sub(by_resource, sql)
    result = service.run_sql(session, public.anonymous(), settings, rewritten)
    answer: dict[str, Any] = {
        "sql": sql,
        "fields": [{"id": c.name, "type": ckan_type(c.type)} for c in result.columns],
        "records": result.rows,
        "records_format": "objects",
    }
    if result.truncated:
        answer["records_truncated"] = True
    return answer
