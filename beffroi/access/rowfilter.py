"""Declarative row filters of sharing agreements, compiled to DuckDB SQL.

A filter is data, never SQL typed by a user. One condition is a mapping naming a
``column`` and one operator:

* ``{"column": "code_insee", "in_grantee_communes": true}`` — the INSEE codes of the
  grantee organisations the reader belongs to (a commune's own rows);
* ``{"column": "code_insee", "in": ["56121", "56098"]}`` — a fixed list of values;
* ``{"column": "annee", "eq": 2025}`` — one value.

``{"all": [condition, …]}`` combines conditions with AND. Column names are quoted as
identifiers, values as string literals (compared with the column cast to text, so that
``56121`` matches an integer column too); nothing else reaches the SQL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from beffroi.errors import InvalidInputError

OPERATORS = ("in_grantee_communes", "in", "eq")
MAX_VALUES = 10_000


def quote_identifier(name: str) -> str:
    """A DuckDB identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    """A value as a DuckDB string literal."""
    text = value if isinstance(value, str) else _scalar_text(value)
    return "'" + text.replace("'", "''") + "'"


def _scalar_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(f"valeur de filtre non prise en charge : {value!r}")
    return str(value)


def _bad(message: str) -> InvalidInputError:
    return InvalidInputError(
        f"Filtre de lignes invalide : {message}",
        hint='écrivez par exemple {"column": "code_insee", "in_grantee_communes": true} ou '
        '{"column": "code_insee", "in": ["56121"]}, éventuellement dans {"all": [...]}',
        message_en=f"Invalid row filter: {message}",
        hint_en='write e.g. {"column": "code_insee", "in_grantee_communes": true} or '
        '{"column": "code_insee", "in": ["56121"]}, possibly inside {"all": [...]}',
    )


def conditions(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The conditions of a filter (validated), flattened out of ``all``."""
    if not isinstance(spec, Mapping):
        raise _bad("un objet JSON est attendu")
    if "all" in spec:
        if set(spec) != {"all"} or not isinstance(spec["all"], list) or not spec["all"]:
            raise _bad("« all » attend une liste non vide de conditions, seule")
        return [c for item in spec["all"] for c in conditions(item)]
    column = spec.get("column")
    if not isinstance(column, str) or not column.strip():
        raise _bad("« column » doit nommer une colonne")
    operators = [key for key in spec if key != "column"]
    if len(operators) != 1 or operators[0] not in OPERATORS:
        raise _bad(f"un seul opérateur parmi {', '.join(OPERATORS)} (reçu : {operators})")
    operator = operators[0]
    value = spec[operator]
    if operator == "in_grantee_communes" and value is not True:
        raise _bad("« in_grantee_communes » vaut true")
    if operator == "in":
        if not isinstance(value, list) or len(value) > MAX_VALUES:
            raise _bad(f"« in » attend une liste (au plus {MAX_VALUES} valeurs)")
        for item in value:
            quote_literal(item)  # refuses objects, lists, booleans, null
    if operator == "eq":
        quote_literal(value)
    return [spec]


def columns_of(spec: Mapping[str, Any]) -> set[str]:
    """The columns a filter reads."""
    return {str(c["column"]) for c in conditions(spec)}


def compile_filter(spec: Mapping[str, Any], *, grantee_communes: Collection[str]) -> str:
    """The DuckDB boolean expression of a filter (``grantee_communes``: INSEE codes)."""
    parts = []
    for condition in conditions(spec):
        column = f"CAST({quote_identifier(str(condition['column']))} AS VARCHAR)"
        if "in_grantee_communes" in condition:
            values: list[object] = [*sorted(grantee_communes)]
        elif "in" in condition:
            values = list(condition["in"])
        else:
            values = [condition["eq"]]
        if not values:
            parts.append("FALSE")  # nothing granted: no row (fail closed)
        else:
            parts.append(f"{column} IN ({', '.join(quote_literal(v) for v in values)})")
    return " AND ".join(f"({p})" for p in parts)


__all__ = ["columns_of", "compile_filter", "conditions", "quote_identifier", "quote_literal"]
