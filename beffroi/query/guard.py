"""The check every user SQL statement passes before it reaches DuckDB.

Defence in depth, on top of the sandboxed database (external access off, configuration
locked, only the authorised versions' own files allowed): a statement is run only if

1. it is exactly one statement, of type ``SELECT`` (``con.extract_statements``) — COPY,
   ATTACH, INSTALL, LOAD, SET, CALL, EXPLAIN, CREATE, INSERT… are refused;
2. its syntax tree (``json_serialize_sql``) reads only the tables of the connection (the
   authorised views and ``ref.*``) or its own CTEs — no file name used as a table
   (``FROM '/etc/passwd'``), no other schema or catalogue (``information_schema``,
   ``_rows``, ``system``), no ``SHOW`` listing;
3. it calls no table function but :data:`TABLE_FUNCTIONS` (``read_csv``, ``glob``,
   ``query``, ``pragma_*``, ``duckdb_settings()`` … are refused: ``PRAGMA x`` arrives as a
   SELECT over ``pragma_x()``) and no scalar function of :data:`DENIED_FUNCTIONS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import duckdb

from beffroi.errors import InvalidInputError

TABLE_FUNCTIONS: Final = frozenset({"range", "generate_series", "unnest"})
"""Table functions user SQL may call: they read no file and no setting."""

DENIED_FUNCTIONS: Final = frozenset(
    {
        "current_setting",
        "getvariable",
        "getenv",
        "current_schemas",
        "json_serialize_sql",
        "json_deserialize_sql",
        "json_execute_serialized_sql",
        "read_blob",
        "read_text",
    }
)
"""Scalar functions refused (settings, paths and SQL-executing helpers)."""

ALLOWED_HINT: Final = (
    "seules les requêtes SELECT (avec WITH, JOIN, GROUP BY…) sur les tables autorisées et "
    "ref.* sont acceptées ; pas de fonction de lecture de fichier ou d'URL / only SELECT "
    "queries over the authorised tables and ref.* are accepted"
)


@dataclass(frozen=True, slots=True)
class CheckedQuery:
    """A single SELECT statement that passed the check."""

    sql: str
    datasets: frozenset[str] = frozenset()
    """The dataset tables (``main`` schema) it reads, lower-cased: usage counting."""


def _refuse(reason: str, statement: str, *, hint: str = ALLOWED_HINT) -> InvalidInputError:
    """A refused statement: which one, why (``details``) and what is allowed (``hint``)."""
    shown = statement.strip()
    if len(shown) > 200:
        shown = shown[:200] + "…"
    return InvalidInputError(
        f"Requête refusée : {reason}",
        hint=hint,
        details={"errors": [{"field": "sql", "message": reason, "statement": shown}]},
    )


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _cte_names(tree: Any) -> set[str]:
    names: set[str] = set()
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names.update(str(entry.get("key", "")).casefold() for entry in cte_map.get("map", []))
    return names


def check_sql(
    con: duckdb.DuckDBPyConnection, sql: str, tables: set[tuple[str, str]]
) -> CheckedQuery:
    """The one SELECT statement of ``sql``, or :class:`InvalidInputError` saying why not.

    ``tables`` are the (schema, name) pairs the query may read, lower-cased (``main`` for
    the dataset views, ``ref`` for the reference tables).
    """
    if not sql or not sql.strip():
        raise _refuse("requête vide", sql, hint="écrivez une requête SELECT")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise _refuse(f"syntaxe incorrecte ({_first_line(exc)})", sql) from None
    if len(statements) != 1:
        raise _refuse(
            f"{len(statements)} instructions (une seule est acceptée)",
            sql,
            hint="envoyez une seule requête SELECT, sans « ; » entre deux requêtes",
        )
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise _refuse(
            f"instruction {statement.type.name} (lecture seule : SELECT uniquement)",
            statement.query,
        )
    raw = con.execute("SELECT json_serialize_sql(?)", [statement.query]).fetchone()
    tree = json.loads(raw[0]) if raw else {"error": True}
    if tree.get("error"):
        raise _refuse(
            f"instruction non analysable ({tree.get('error_message', '?')})", statement.query
        )
    ctes = _cte_names(tree)
    datasets: set[str] = set()
    for node in _nodes(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str(node.get("function", {}).get("function_name", "?")).casefold()
            if name not in TABLE_FUNCTIONS:
                raise _refuse(f"fonction de table « {name} » interdite", statement.query)
        elif kind == "BASE_TABLE":
            _check_table(node, ctes, tables, statement.query, datasets)
        elif kind == "SHOW_REF" and node.get("query") is None:
            raise _refuse("SHOW interdit", statement.query, hint="DESCRIBE <table> est accepté")
        elif node.get("class") == "FUNCTION":
            name = str(node.get("function_name", "")).casefold()
            schema = str(node.get("schema", "")).casefold()
            if name in DENIED_FUNCTIONS or schema not in {"", "main"}:
                raise _refuse(f"fonction « {name} » interdite", statement.query)
    return CheckedQuery(sql=statement.query, datasets=frozenset(datasets))


def _check_table(
    node: dict[str, Any],
    ctes: set[str],
    tables: set[tuple[str, str]],
    statement: str,
    datasets: set[str],
) -> None:
    """A table reference: a CTE, an allowed table (a dataset's is added to ``datasets``),
    or refused."""
    name = str(node.get("table_name", "")).casefold()
    schema = str(node.get("schema_name", "")).casefold()
    catalog = str(node.get("catalog_name", "")).casefold()
    if catalog not in {"", "memory"}:
        raise _refuse(f"base « {catalog} » inaccessible", statement)
    if node.get("at_clause"):
        raise _refuse(
            "AT (voyage dans le temps) non pris en charge",
            statement,
            hint="lisez une version passée par l'API : …/records?version=<n>",
        )
    if not schema and name in ctes:
        return
    if (schema or "main", name) in tables:
        if (schema or "main") == "main":
            datasets.add(name)
        return
    shown = f"{schema}.{name}" if schema else name
    raise _refuse(
        f"table « {shown} » inconnue ou non autorisée",
        statement,
        hint="tables lisibles : les jeux de données autorisés (par leur identifiant, entre "
        'guillemets doubles s\'il contient un tiret : "mon-jeu") et ref.*',
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
