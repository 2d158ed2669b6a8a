"""View definitions: read-only SQL, or a declarative join compiled to SQL.

A **join** reads a left dataset and a right dataset or reference table (``ref.communes``…)::

    {"kind": "join", "left": "bornes", "right": "ref.communes", "how": "left",
     "on": [{"left": "code_insee", "right": "code_insee",
             "normalize": {"function": "insee_current", "year": 2019}}],
     "columns": [{"side": "left", "name": "n_station", "as": "station"},
                 {"side": "right", "name": "name", "as": "commune"}],
     "group_by": ["commune"],
     "aggregates": [{"function": "count", "as": "bornes"}]}

Each key pair may normalise its left value (``normalize``) and its right value
(``normalize_right``) with ``insee_normalize``, ``insee_current`` (with the ``year`` the codes
are valid in), ``siren_of_siret``, ``postal_to_insee``, ``lower``, ``trim`` or ``lower_trim``.
Instead of key pairs, ``spatial`` joins points to the commune whose outline contains them
(``point_in_commune``: ``longitude`` + ``latitude`` columns, or a WKT ``point`` column;
right must be ``ref.communes``). With ``group_by`` (output names of ``columns``) and/or
``aggregates`` the view holds one row per group.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from beffroi.errors import InvalidInputError
from beffroi.query.engine import quote
from beffroi.query.reference import TABLES as REFERENCE_TABLES

Name = Annotated[str, Field(min_length=1, max_length=300)]
NORMALISERS = ("insee_normalize", "insee_current", "siren_of_siret", "postal_to_insee")
TEXT_NORMALISERS = ("lower", "trim", "lower_trim")
AGGREGATES = ("count", "sum", "avg", "min", "max", "count_distinct")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Normaliser(_Model):
    """A function applied to a key before comparing it."""

    function: Literal[
        "insee_normalize",
        "insee_current",
        "siren_of_siret",
        "postal_to_insee",
        "lower",
        "trim",
        "lower_trim",
    ]
    year: int | None = Field(
        default=None, ge=1943, le=2100, description="insee_current: the year the codes are of."
    )

    @model_validator(mode="after")
    def _year_for_insee_current(self) -> Self:
        if self.function == "insee_current" and self.year is None:
            msg = "insee_current a besoin de l'année des codes (year), ex. 2019"
            raise ValueError(msg)
        if self.function != "insee_current" and self.year is not None:
            msg = f"{self.function} ne prend pas d'année (year)"
            raise ValueError(msg)
        return self

    def apply(self, expression: str) -> str:
        """The SQL of the normalised expression."""
        if self.function == "insee_current":
            return f"insee_current({expression}, {int(self.year or 0)})"
        if self.function == "lower":
            return f"lower(CAST({expression} AS VARCHAR))"
        if self.function == "trim":
            return f"trim(CAST({expression} AS VARCHAR))"
        if self.function == "lower_trim":
            return f"lower(trim(CAST({expression} AS VARCHAR)))"
        return f"{self.function}({expression})"


class KeyPair(_Model):
    """Two columns that must be equal (after their normalisers)."""

    left: Name
    right: Name
    normalize: Normaliser | None = None
    normalize_right: Normaliser | None = None


class Spatial(_Model):
    """A spatial predicate instead of key pairs."""

    predicate: Literal["point_in_commune"] = "point_in_commune"
    longitude: Name | None = None
    latitude: Name | None = None
    point: Name | None = Field(default=None, description="A WKT POINT column (lon lat).")

    @model_validator(mode="after")
    def _one_position(self) -> Self:
        pair = self.longitude is not None and self.latitude is not None
        if pair == (self.point is not None) or (
            not pair and (self.longitude or self.latitude) is not None
        ):
            msg = "donnez soit longitude et latitude, soit point (colonne WKT)"
            raise ValueError(msg)
        return self


class Kept(_Model):
    """A column kept in the view, from one side, under a name of its own."""

    side: Literal["left", "right"] = "left"
    name: Name
    as_: Name | None = Field(default=None, alias="as")

    @property
    def output(self) -> str:
        """Its name in the view."""
        return self.as_ or self.name


class Aggregate(_Model):
    """An aggregate of a group (``count`` without a column counts rows)."""

    function: Literal["count", "sum", "avg", "min", "max", "count_distinct"]
    side: Literal["left", "right"] = "left"
    name: Name | None = None
    as_: Name = Field(alias="as")

    @model_validator(mode="after")
    def _column_unless_count(self) -> Self:
        if self.name is None and self.function != "count":
            msg = f"{self.function} a besoin d'une colonne (name)"
            raise ValueError(msg)
        return self


class JoinDefinition(_Model):
    """A declarative join (see the module documentation)."""

    kind: Literal["join"]
    left: Name
    right: Name
    how: Literal["inner", "left"] = "inner"
    on: list[KeyPair] = Field(default_factory=list)
    spatial: Spatial | None = None
    columns: list[Kept] = Field(min_length=1)
    group_by: list[Name] = Field(default_factory=list)
    aggregates: list[Aggregate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if bool(self.on) == (self.spatial is not None):
            msg = "donnez soit des paires de clés (on), soit un prédicat spatial (spatial)"
            raise ValueError(msg)
        if self.spatial is not None and self.right != "ref.communes":
            msg = "point_in_commune joint à ref.communes (right)"
            raise ValueError(msg)
        outputs = [c.output for c in self.columns] + [a.as_ for a in self.aggregates]
        doubles = sorted({n for n in outputs if outputs.count(n) > 1})
        if doubles:
            msg = f"nom de colonne en double dans la vue : {', '.join(doubles)} (renommez avec as)"
            raise ValueError(msg)
        names = {c.output for c in self.columns}
        unknown = [g for g in self.group_by if g not in names]
        if unknown:
            msg = f"group_by nomme des colonnes absentes de columns : {', '.join(unknown)}"
            raise ValueError(msg)
        if self.aggregates or self.group_by:
            loose = [c.output for c in self.columns if c.output not in self.group_by]
            if loose:
                msg = (
                    f"colonnes ni regroupées ni agrégées : {', '.join(loose)} "
                    "(ajoutez-les à group_by ou retirez-les)"
                )
                raise ValueError(msg)
        return self

    @property
    def reference(self) -> str | None:
        """The ``ref`` table on the right, if any."""
        return self.right.removeprefix("ref.") if self.right.startswith("ref.") else None

    @property
    def sources(self) -> list[str]:
        """The dataset slugs read."""
        return sorted({self.left} | ({self.right} if self.reference is None else set()))

    def columns_of(self, side: str) -> set[str]:
        """Every column of one side the definition names (to check they exist)."""
        found = {c.name for c in self.columns if c.side == side}
        found |= {a.name for a in self.aggregates if a.side == side and a.name}
        for pair in self.on:
            found.add(pair.left if side == "left" else pair.right)
        if side == "left" and self.spatial is not None:
            found |= {n for n in (self.spatial.longitude, self.spatial.latitude) if n}
            found |= {self.spatial.point} if self.spatial.point else set()
        return found


class SqlDefinition(_Model):
    """A read-only query (one SELECT) over source slugs and ``ref.*``."""

    kind: Literal["sql"]
    sql: Annotated[str, Field(min_length=1, max_length=100_000)]
    sources: list[Name] = Field(
        default_factory=list,
        description="The datasets read; found in the query when not given.",
    )


Definition = Annotated[JoinDefinition | SqlDefinition, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[JoinDefinition | SqlDefinition] = TypeAdapter(Definition)


def parse_definition(data: object) -> JoinDefinition | SqlDefinition:
    """A definition from JSON data, or one :class:`InvalidInputError` listing every problem."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in error["loc"]) or "definition",
                "message": error["msg"].removeprefix("Value error, "),
            }
            for error in exc.errors()
        ]
        shown = "; ".join(f"{e['field']} : {e['message']}" for e in errors[:5])
        raise InvalidInputError(
            f"Définition de vue invalide : {shown}",
            hint='kind « sql » ({"kind": "sql", "sql": "SELECT …"}) ou « join » (left, right, '
            "on ou spatial, columns) ; voir docs/user/crossings.md",
            message_en=f"Invalid view definition: {shown}",
            hint_en="kind 'sql' or 'join' (left, right, on or spatial, columns); see "
            "docs/user/crossings.md",
            details={"errors": errors},
        ) from None


def _ref(side: str, name: str) -> str:
    return f"{'l' if side == 'left' else 'r'}.{quote(name)}"


def right_table(definition: JoinDefinition) -> str:
    """The SQL name of the right table."""
    reference = definition.reference
    if reference is not None:
        if reference not in REFERENCE_TABLES:
            raise InvalidInputError(
                f"Table de référence inconnue : ref.{reference}",
                hint="tables : " + ", ".join(f"ref.{t}" for t in REFERENCE_TABLES),
                message_en=f"Unknown reference table: ref.{reference}",
                hint_en="tables: " + ", ".join(f"ref.{t}" for t in REFERENCE_TABLES),
                details={"errors": [{"field": "right", "message": definition.right}]},
            )
        return f"ref.{quote(reference)}"
    return quote(definition.right)


def _aggregate(aggregate: Aggregate) -> str:
    if aggregate.name is None:
        expression = "count(*)"
    elif aggregate.function == "count_distinct":
        expression = f"count(DISTINCT {_ref(aggregate.side, aggregate.name)})"
    else:
        expression = f"{aggregate.function}({_ref(aggregate.side, aggregate.name)})"
    return f"{expression} AS {quote(aggregate.as_)}"


def _keys(definition: JoinDefinition, right: str) -> str:
    how = "LEFT JOIN" if definition.how == "left" else "JOIN"
    conditions = []
    for pair in definition.on:
        lhs, rhs = _ref("left", pair.left), _ref("right", pair.right)
        if pair.normalize is not None:
            lhs = pair.normalize.apply(lhs)
        if pair.normalize_right is not None:
            rhs = pair.normalize_right.apply(rhs)
        conditions.append(f"{lhs} = {rhs}")
    left = quote(definition.left)
    return f"FROM {left} AS l\n{how} {right} AS r ON " + "\n  AND ".join(conditions)


_WKT_POINT = r"'^\s*POINT\s*\(\s*(-?[0-9.]+(?:[eE]-?[0-9]+)?)\s+(-?[0-9.]+(?:[eE]-?[0-9]+)?)'"


def _spatial(spatial: Spatial, definition: JoinDefinition, right: str) -> tuple[str, str]:
    """The ``WITH`` clause and the ``FROM`` clause of a point-in-commune join."""
    from beffroi.crossings.outlines import BOXES, CELL_DEGREES, CELLS, EDGES  # noqa: PLC0415

    if spatial.point is not None:
        text = f"CAST({quote(spatial.point)} AS VARCHAR)"
        x = f"TRY_CAST(regexp_extract({text}, {_WKT_POINT}, 1) AS DOUBLE)"
        y = f"TRY_CAST(regexp_extract({text}, {_WKT_POINT}, 2) AS DOUBLE)"
    else:
        x = f"TRY_CAST({quote(spatial.longitude or '')} AS DOUBLE)"
        y = f"TRY_CAST({quote(spatial.latitude or '')} AS DOUBLE)"
    how = "LEFT JOIN" if definition.how == "left" else "JOIN"
    # Even-odd rule: a point is inside the outline when a ray from it crosses an odd
    # number of the outline's edges (holes and multipolygons included). The points are
    # numbered once (MATERIALIZED): both uses see the same numbers.
    prefix = (
        "WITH pts AS MATERIALIZED (\n"  # noqa: S608 - quoted identifiers only
        f"  SELECT *, {x} AS __x, {y} AS __y, row_number() OVER () AS __point\n"
        f"  FROM {quote(definition.left)}\n"
        "), hits AS (\n"
        "  SELECT p.__point, b.code_insee\n"
        "  FROM pts p\n"
        f"  JOIN {CELLS} g ON g.cx = CAST(floor(p.__x / {CELL_DEGREES}) AS INTEGER)\n"
        f"   AND g.cy = CAST(floor(p.__y / {CELL_DEGREES}) AS INTEGER)\n"
        f"  JOIN {BOXES} b ON b.code_insee = g.code_insee\n"
        "   AND p.__x BETWEEN b.xmin AND b.xmax AND p.__y BETWEEN b.ymin AND b.ymax\n"
        f"  JOIN {EDGES} e ON e.code_insee = b.code_insee\n"
        "   AND (e.y1 > p.__y) <> (e.y2 > p.__y)\n"
        "   AND p.__x < (e.x2 - e.x1) * (p.__y - e.y1) / (e.y2 - e.y1) + e.x1\n"
        "  GROUP BY p.__point, b.code_insee\n"
        "  HAVING count(*) % 2 = 1\n"
        "  QUALIFY row_number() OVER (PARTITION BY p.__point ORDER BY b.code_insee) = 1\n"
        ")\n"
    )
    source = (
        f"FROM pts AS l\n{how} hits AS h ON h.__point = l.__point\n"
        f"{how} {right} AS r ON r.code_insee = h.code_insee"
    )
    return prefix, source


def compile_join(definition: JoinDefinition) -> str:
    """The SQL of a declarative join (identifiers quoted; no value comes from the user
    but column names and the year of ``insee_current``, an integer)."""
    select = [f"{_ref(c.side, c.name)} AS {quote(c.output)}" for c in definition.columns]
    select += [_aggregate(a) for a in definition.aggregates]
    right = right_table(definition)
    prefix = ""
    if definition.spatial is None:
        source = _keys(definition, right)
    else:
        prefix, source = _spatial(definition.spatial, definition, right)
    sql = prefix + "SELECT " + ",\n       ".join(select) + "\n" + source
    if definition.group_by:
        by = [c for c in definition.columns if c.output in definition.group_by]
        sql += "\nGROUP BY " + ", ".join(_ref(c.side, c.name) for c in by)
        sql += "\nORDER BY " + ", ".join(str(i + 1) for i in range(len(by)))
    elif definition.spatial is not None and not definition.aggregates:
        sql += "\nORDER BY l.__point"
    return sql


__all__ = [
    "AGGREGATES",
    "JoinDefinition",
    "SqlDefinition",
    "compile_join",
    "parse_definition",
]
