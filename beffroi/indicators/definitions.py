"""Indicator definitions: the input shapes, their validation, and their compilation to SQL.

A definition is either

* **declarative** — a dataset, a measure column and an aggregate (``count``, ``sum``,
  ``avg``, ``min``, ``max``, ``count_distinct``), filters (``eq``, ``ne``, ``in``, ``lt``,
  ``lte``, ``gt``, ``gte``, ``null``, ``notnull``), the column holding the commune's INSEE
  code and the date column that places a row in a period; or
* **SQL** — one ``SELECT`` over the datasets (by slug) and ``ref.*`` returning a numeric
  column ``value`` and, optionally, ``commune`` (INSEE code), ``period`` (a date, or text
  such as ``2025``) and ``n`` (how many units the value counts: statistical secrecy).
  Rows of one commune falling in one period (two dates of a year) are summed, values and
  ``n`` alike.

Either way it compiles to one ``SELECT commune, period, raw, n`` (the *base query*) that
runs through the query engine's guard and sandbox (:mod:`beffroi.query`), never raw.
Normalisation per inhabitant, cumulation and the EPCI total are applied afterwards
(:mod:`beffroi.indicators.compute`).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Self

import duckdb
from pydantic import BaseModel, ConfigDict, Field, model_validator

from beffroi.catalog.models import AccessLevel
from beffroi.catalog.schemas import Slug, Title
from beffroi.catalog.vocabularies import THEMES
from beffroi.errors import InvalidInputError

Period = Literal["none", "month", "quarter", "year"]
Breakdown = Literal["commune", "epci"]
Normalisation = Literal["none", "per_inhabitant", "per_1000"]
Direction = Literal["higher", "lower"]
Aggregate = Literal["count", "sum", "avg", "min", "max", "count_distinct"]
Operator = Literal["eq", "ne", "in", "lt", "lte", "gt", "gte", "null", "notnull"]

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
PERIOD_RE = re.compile(r"^(|\d{4}|\d{4}-Q[1-4]|\d{4}-(0[1-9]|1[0-2]))$")
SQL_COLUMNS = frozenset({"value", "commune", "period", "n"})

_OPERATORS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_AGGREGATES = {
    "sum": "sum({m})",
    "avg": "avg({m})",
    "min": "min({m})",
    "max": "max({m})",
    "count_distinct": "count(DISTINCT {m})",
}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Scalar = str | int | float | bool


class Filter(_Input):
    """One row filter of a declarative definition."""

    column: Annotated[str, Field(min_length=1, max_length=300)]
    op: Operator = "eq"
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> Self:
        if self.op in {"null", "notnull"}:
            if self.value is not None:
                msg = f"le filtre {self.op} ne prend pas de valeur"
                raise ValueError(msg)
        elif self.op == "in":
            if not isinstance(self.value, list) or not self.value:
                msg = "le filtre in prend une liste non vide de valeurs"
                raise ValueError(msg)
        elif self.value is None or isinstance(self.value, list):
            msg = f"le filtre {self.op} prend une seule valeur"
            raise ValueError(msg)
        return self


class DeclarativeDefinition(_Input):
    """A dataset, a measure and an aggregate, with filters."""

    kind: Literal["declarative"] = "declarative"
    dataset: Slug
    aggregate: Aggregate = "count"
    measure: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    filters: list[Filter] = Field(default_factory=list)
    commune: Annotated[str, Field(min_length=1, max_length=300)] | None = Field(
        default=None, description="Column holding the commune's INSEE code."
    )
    date: Annotated[str, Field(min_length=1, max_length=300)] | None = Field(
        default=None, description="Date column placing each row in a period."
    )

    @model_validator(mode="after")
    def _measure_when_needed(self) -> Self:
        if self.aggregate != "count" and self.measure is None:
            msg = f"l'agrégat {self.aggregate} porte sur une colonne : indiquez measure"
            raise ValueError(msg)
        return self


class SqlDefinition(_Input):
    """One SELECT over datasets and ``ref.*`` returning ``value`` (+ commune, period, n)."""

    kind: Literal["sql"]
    sql: Annotated[str, Field(min_length=8, max_length=20_000)]


Definition = Annotated[DeclarativeDefinition | SqlDefinition, Field(discriminator="kind")]


def _code(value: str) -> str:
    if not CODE_RE.match(value):
        msg = f"« {value} » n'est pas un code d'indicateur : minuscules, chiffres et tirets"
        raise ValueError(msg)
    return value


def _theme(value: str) -> str:
    if value not in THEMES:
        msg = f"« {value} » n'est pas un thème connu : valeurs possibles {', '.join(THEMES)}"
        raise ValueError(msg)
    return value


class IndicatorCreate(_Input):
    """Fields to create an indicator."""

    code: Annotated[str, Field(min_length=3, max_length=80)]
    title: Title
    title_en: Annotated[str, Field(min_length=3, max_length=300)] | None = None
    description: str = ""
    unit: Annotated[str, Field(min_length=1, max_length=60)]
    definition: Definition
    period: Period = "year"
    breakdown: Breakdown = "commune"
    normalisation: Normalisation = "none"
    cumulative: bool = False
    target: float | None = None
    alert_threshold: float | None = None
    direction: Direction = "higher"
    owner: Slug
    theme: str
    access_level: AccessLevel = AccessLevel.PUBLIC

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _code(self.code)
        _theme(self.theme)
        check_consistency(self.definition, self.period, self.breakdown, self.cumulative)
        return self


class IndicatorUpdate(_Input):
    """Fields to change (omitted ones stay as they are)."""

    title: Title | None = None
    title_en: Annotated[str, Field(min_length=3, max_length=300)] | None = None
    description: str | None = None
    unit: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    definition: Definition | None = None
    period: Period | None = None
    breakdown: Breakdown | None = None
    normalisation: Normalisation | None = None
    cumulative: bool | None = None
    target: float | None = None
    alert_threshold: float | None = None
    direction: Direction | None = None
    theme: str | None = None
    access_level: AccessLevel | None = None

    @model_validator(mode="after")
    def _theme_known(self) -> Self:
        if self.theme is not None:
            _theme(self.theme)
        return self


def check_consistency(
    definition: DeclarativeDefinition | SqlDefinition,
    period: str,
    breakdown: str,
    cumulative: bool,
) -> None:
    """Cross-field rules of a definition (``ValueError`` naming the fix)."""
    if isinstance(definition, DeclarativeDefinition):
        if breakdown == "commune" and definition.commune is None:
            msg = "une ventilation par commune demande la colonne du code INSEE (commune)"
            raise ValueError(msg)
        if period != "none" and definition.date is None:
            msg = f"une période « {period} » demande la colonne de date (date)"
            raise ValueError(msg)
        if cumulative and definition.aggregate not in {"count", "sum"}:
            msg = "le cumul n'a de sens que pour les agrégats count et sum"
            raise ValueError(msg)


# ---------------------------------------------------------------- compilation


def quote(name: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Scalar) -> str:
    """A SQL literal for a filter value (strings quoted, numbers as written)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def period_expression(column: str, period: str) -> str:
    """SQL text of the period of a date expression (``''`` when periods are not used)."""
    if period == "none":
        return "''"
    day = f"TRY_CAST({column} AS DATE)"
    if period == "year":
        return f"strftime({day}, '%Y')"
    if period == "month":
        return f"strftime({day}, '%Y-%m')"
    return f"strftime({day}, '%Y') || '-Q' || CAST(quarter({day}) AS VARCHAR)"


def _where(filters: list[Filter]) -> str:
    clauses = []
    for item in filters:
        column = quote(item.column)
        if item.op == "null":
            clauses.append(f"{column} IS NULL")
        elif item.op == "notnull":
            clauses.append(f"{column} IS NOT NULL")
        elif item.op == "in":
            assert isinstance(item.value, list)  # noqa: S101 - checked by the model
            clauses.append(f"{column} IN ({', '.join(literal(v) for v in item.value)})")
        else:
            assert item.value is not None  # noqa: S101 - checked by the model
            assert not isinstance(item.value, list)  # noqa: S101
            clauses.append(f"{column} {_OPERATORS[item.op]} {literal(item.value)}")
    return " AND ".join(clauses) or "TRUE"


def declarative_sql(
    definition: DeclarativeDefinition,
    period: str,
    *,
    by_commune: bool,
    members: list[str] | None,
) -> str:
    """The base query of a declarative definition (per commune, or the whole territory).

    ``members``: the INSEE codes rows must belong to (``None``: every row).
    """
    measure = quote(definition.measure) if definition.measure else "*"
    raw = (
        "count(*)"
        if definition.aggregate == "count" and definition.measure is None
        else f"count({measure})"
        if definition.aggregate == "count"
        else _AGGREGATES[definition.aggregate].format(m=measure)
    )
    where = _where(definition.filters)
    code = f"insee_normalize({quote(definition.commune)})" if definition.commune else None
    if members is not None and code is not None:
        listed = ", ".join(literal(c) for c in members) or "NULL"
        where = f"({where}) AND {code} IN ({listed})"
    commune = code if by_commune and code is not None else "CAST(NULL AS VARCHAR)"
    when = period_expression(quote(definition.date), period) if definition.date else "''"
    return (
        f"SELECT {commune} AS commune, {when} AS period, "  # noqa: S608 - quoted identifiers
        f"CAST({raw} AS DOUBLE) AS raw, count(*) AS n "
        f"FROM {quote(definition.dataset)} WHERE {where} GROUP BY 1, 2"
    )


def sql_wrapper(user_sql: str, columns: dict[str, str], period: str) -> str:
    """The base query around a SQL definition, given its result columns (name → type)."""
    lowered = {name.casefold(): (name, kind) for name, kind in columns.items()}
    if "value" not in lowered:
        found = ", ".join(columns) or "aucune"
        raise InvalidInputError(
            f"La requête de l'indicateur ne renvoie pas de colonne value (colonnes : {found})",
            hint="nommez la mesure : SELECT commune, period, sum(x) AS value, count(*) AS n …",
            message_en=f"The indicator's query returns no value column (columns: {found})",
            hint_en="name the measure: SELECT commune, period, sum(x) AS value, count(*) AS n …",
        )
    value = quote(lowered["value"][0])
    commune = (
        f"insee_normalize(u.{quote(lowered['commune'][0])})"
        if "commune" in lowered
        else "CAST(NULL AS VARCHAR)"
    )
    if "period" in lowered:
        name, kind = lowered["period"]
        upper = kind.upper()
        if period != "none" and (upper.startswith(("DATE", "TIMESTAMP"))):
            when = period_expression(f"u.{quote(name)}", period)
        else:
            when = f"coalesce(CAST(u.{quote(name)} AS VARCHAR), '')"
    else:
        when = "''"
    count = f"CAST(u.{quote(lowered['n'][0])} AS BIGINT)" if "n" in lowered else "NULL"
    # Rows falling in the same commune and period (dates of one year…) are summed.
    return (
        f"SELECT {commune} AS commune, {when} AS period, "  # noqa: S608 - checked user SQL
        f"sum(CAST(u.{value} AS DOUBLE)) AS raw, CAST(sum({count}) AS BIGINT) AS n "
        f"FROM ({user_sql}) u GROUP BY 1, 2"
    )


def referenced_tables(sql: str) -> set[str]:
    """Names of the tables of the default schema a SQL text reads (CTEs excluded)."""
    con = duckdb.connect()
    try:
        raw = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    finally:
        con.close()
    tree = json.loads(raw[0]) if raw else {"error": True}
    if tree.get("error"):
        raise InvalidInputError(
            f"Requête de l'indicateur illisible : {tree.get('error_message', '?')}",
            hint="écrivez une seule requête SELECT (DuckDB) sur les jeux de données et ref.*",
            message_en=f"Unreadable indicator query: {tree.get('error_message', '?')}",
            hint_en="write one SELECT query (DuckDB) over the datasets and ref.*",
        )
    names: set[str] = set()
    ctes: set[str] = set()
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            cte_map = node.get("cte_map")
            if isinstance(cte_map, dict):
                ctes.update(str(e.get("key", "")).casefold() for e in cte_map.get("map", []))
            if node.get("type") == "BASE_TABLE" and not node.get("schema_name"):
                names.add(str(node.get("table_name", "")))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return {n for n in names if n.casefold() not in ctes}


def sources_of(definition: DeclarativeDefinition | SqlDefinition) -> list[str]:
    """The dataset slugs a definition reads."""
    if isinstance(definition, DeclarativeDefinition):
        return [definition.dataset]
    return sorted(referenced_tables(definition.sql))
