"""Column types: infer them from a sample (or take the declared Table Schema), then convert.

Readers hand over record batches whose CSV/spreadsheet columns are raw text (``pa.string()``,
empty cells already null); Parquet/JSON columns may already be typed. :func:`infer_schema`
looks at a sample (the first N rows, e.g. 50,000) and returns one :class:`ColumnType` per
column; :func:`convert` applies them to every batch. Everything is vectorised with
``pyarrow.compute``: inference works on the DISTINCT values of the sample, conversion on whole
columns; Python never loops over rows.

Rules (``tests/unit/ingest/test_infer.py`` pins each one)
-----------------------------------------------------------
**Null tokens.** Empty and blank cells are null everywhere. In a column typed number, integer,
boolean, date or datetime these cell texts are null too (any case): :data:`NULL_TOKENS`
(``NA``, ``N/A``, ``#N/A``, ``NULL``, ``None``, ``NaN``, ``-``, ``--``, ``—``, ``ND``,
``N.D.``, ``NC``, ``N.C.``, ``n/d``, ``?``). In a text column they stay text: a column that
holds only such tokens stays text.

**Numbers.** An optional sign (``+``, ``-``, U+2212 minus), digits, an optional decimal part, an
optional exponent. Decimal mark ``,`` or ``.``; thousands separators: spaces (space, NBSP
U+00A0, NNBSP U+202F, thin space U+2009 — interchangeable, always accepted since a space is
never a decimal mark), ``.`` or ``,`` (or ``'``), always in groups of three digits. The mark and
separator are chosen *for the column as a whole*: the first of these readings that fits every
value wins — (``.`` decimal, no separator), (``,`` decimal), (``,`` decimal, ``.``
separator), (``.`` decimal, ``,`` separator). So ``1,234`` alone is 1.234 (a lone separator
followed by three digits is read as a decimal mark, ``12,5`` beside it confirms), but
``1,234,567`` beside it makes ``,`` a thousands separator; ``1.234,56`` is French, ``1,234.56``
English; ``1.5`` beside ``1,5`` is mixed: text. A sniffed ``decimal_mark=","`` (French file)
makes ``1.234`` read as 1234, a sniffed ``"."`` makes ``1,234`` read as 1234. Integers become
``int64``, decimals ``float64`` (exact for up to 15 significant digits). A column whose sample
holds only integers is ``integer``: a decimal in a later batch is an error, not a widening.

Every candidate type must convert *all* the sample's distinct values (so ``31/02/2024`` or an
``int64`` overflow makes the column text), otherwise the next candidate is tried.

**Codes keep their leading zeros.** A column that would be numeric stays text when: a value has
a leading zero (``01053``, ``01000``, ``0612345678``); a value has 16 digits or more; its
header names a code (:data:`CODE_HEADER_TOKENS`, or a word starting with ``code``: ``code``,
``insee``, ``cog``, ``siren``, ``siret``, ``cp``, ``code_postal``, ``telephone``, ``tel``,
``id``…); or its values are SIREN/SIRET (Luhn), INSEE or postal codes (checked against the
COG) or telephone numbers (:mod:`beffroi.ingest.semantic`, ≥ 90 % of distinct values).

**Booleans.** Every value, ignoring case, among ``oui``/``non``, ``vrai``/``faux``,
``true``/``false``, ``yes``/``no`` (one word alone — a column of ``non`` — is enough), or the
letters ``o``/``n`` or ``y``/``n`` when both letters appear. ``0``/``1`` stay integers unless
the header is boolean-ish (a word ``is``, ``has``, ``est``, ``flag``, ``bool``…).

**Dates.** ``yyyy-mm-dd``; ``dd/mm/yyyy``, ``dd-mm-yyyy``, ``dd.mm.yyyy``, ``dd/mm/yy``,
``dd-mm-yy`` (one separator per column); ``yyyy/mm/dd``; each with an optional time
``HH:MM[:SS]`` → datetime; ISO 8601 with ``T``, fractions and offsets (``Z``, ``+02:00``) →
datetime in UTC. Day first unless a second component above 12 proves month first (French
files; ``day_first=False`` flips the default). Two-digit years follow POSIX/Python ``%y``:
69-99 → 19xx, 00-68 → 20xx. Impossible dates (``31/02/2024``) are errors, not rolled over.

**Geometry.** WKT (``POINT (2.35 48.85)``…) or GeoJSON geometry objects: kind ``geometry``,
kept as text (WKT/GeoJSON) — building binary geometries is left to DuckDB spatial, since
shapely is not installed; latitude/longitude *pairs* are reported by the profile's semantic
types, not merged here.

**Anything else, or a mix, is text.** Declared fields (Table Schema field descriptors) bypass
inference: their type is taken as given; parse parameters they do not state (decimal mark,
thousands separator, date format) are detected from the sample within that type.

Conversion errors
-----------------
A value that does not fit its column type in a later batch never becomes null silently:
:func:`convert` raises :class:`~beffroi.errors.InvalidFileError` with ``details`` = column,
value, row (within the batch, and absolute when ``row_offset`` is given) and the expected
type, and a hint (declare the column as text, or fix the value). A caller that prefers to
degrade rather than fail catches it, calls :func:`degrade_to_string` with
``details["column"]`` and restarts the file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any, Final, Literal, TypeAlias, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from beffroi.errors import InvalidFileError, InvalidInputError
from beffroi.ingest import semantic
from beffroi.ingest.cells import rows_all
from beffroi.ingest.names import name_tokens

Values: TypeAlias = "pa.Array[Any]"

Kind = Literal["string", "integer", "number", "boolean", "date", "datetime", "geometry"]
KINDS: Final[tuple[Kind, ...]] = (
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "geometry",
)

NULL_TOKENS: Final[tuple[str, ...]] = (
    "NA",
    "N/A",
    "#N/A",
    "NULL",
    "None",
    "NaN",
    "-",
    "--",
    "—",
    "ND",
    "N.D.",
    "NC",
    "N.C.",
    "n/d",
    "?",
)
"""Cell texts read as null in typed (non-text) columns, in any case; empty cells always are."""

SPACES: Final = " \u00a0\u202f\u2009"
"""Space-like thousands separators: space, NBSP, NNBSP (Excel ≥ 2019 in French), thin space."""

CODE_HEADER_TOKENS: Final = frozenset(
    {
        "code",
        "codes",
        "cod",
        "insee",
        "cog",
        "codgeo",
        "depcom",
        "codcom",
        "numcom",
        "numdep",
        "coddep",
        "dept",
        "departement",
        "siren",
        "siret",
        "nic",
        "rna",
        "cp",
        "postal",
        "zip",
        "zipcode",
        "tel",
        "telephone",
        "phone",
        "mobile",
        "portable",
        "fax",
        "id",
        "ids",
        "ident",
        "identifiant",
        "identifier",
        "uid",
        "uuid",
        "ref",
        "iban",
        "bic",
        "naf",
        "ape",
        "cpv",
        "matricule",
        "ean",
        "finess",
        "uai",
        "rpps",
        "nir",
    }
)
"""Header words that make a numeric-looking column stay text (also: a word starting ``code``)."""

BOOLEAN_HEADER_TOKENS: Final = frozenset(
    {"is", "has", "est", "flag", "bool", "boolean", "booleen", "indicateur"}
)
"""Header words that let a 0/1 column be boolean (otherwise 0/1 stay integers)."""

TRUE_WORDS: Final = ("oui", "vrai", "true", "yes")
FALSE_WORDS: Final = ("non", "faux", "false", "no")
_LETTER_PAIRS: Final = (("o", "n"), ("y", "n"))

# Table Schema defaults (https://specs.frictionlessdata.io/table-schema/#boolean).
_TS_TRUE: Final = ("true", "True", "TRUE", "1")
_TS_FALSE: Final = ("false", "False", "FALSE", "0")

_TS_KINDS: Final[dict[str, Kind]] = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "year": "integer",
    "geojson": "geometry",
    "geopoint": "string",
    "object": "string",
    "array": "string",
    "list": "string",
    "any": "string",
    "time": "string",
    "yearmonth": "string",
    "duration": "string",
}

HINT: Final = "déclarez la colonne comme texte (--schema) ou corrigez la valeur"
HINT_EN: Final = "declare the column as string (--schema) or fix the value"

_MINUS: Final = "\u2212"
_SIGN: Final = f"[+\\-{_MINUS}]?"
_CENTURY_DAYS: Final = 36_525  # 1969-2068 → 2069-2168 spans exactly 25 leap days
_WKT: Final = (
    r"(?is)^\s*(?:(?:MULTI)?(?:POINT|LINESTRING|POLYGON)|GEOMETRYCOLLECTION)"
    r"\s*(?:ZM|Z|M)?\s*(?:\(.*\)|EMPTY)\s*$"
)
_GEOJSON: Final = (
    r'(?s)^\s*\{.*"type"\s*:\s*"(?:Point|MultiPoint|LineString|MultiLineString|Polygon|'
    r'MultiPolygon|GeometryCollection)".*\}\s*$'
)


@dataclass(frozen=True, slots=True)
class ColumnType:
    """How to read one column.

    ``kind`` is one of :data:`KINDS`. Parse parameters: ``decimal_mark`` (``.`` or ``,``),
    ``group_char`` (thousands separators; *each* character of the string is accepted, ``""``
    for none), ``bare_number`` (``False`` strips currency/percent signs around numbers),
    ``date_format`` (strftime-style, ``None`` = ISO 8601), ``timezone`` (``"UTC"`` when the
    values carry offsets), ``true_values``/``false_values`` (compared case-insensitively when
    ``ignore_case``), ``null_values`` (cell texts read as null besides blank cells) and
    ``geometry_format`` (``wkt``/``geojson``). ``nullable`` is ``False`` only for declared
    required fields (a sample never proves a column has no nulls). ``declared`` says the type
    came from a schema; ``note`` says why a column was kept as text or how it was read.
    """

    name: str
    kind: Kind = "string"
    nullable: bool = True
    decimal_mark: str = "."
    group_char: str = ""
    bare_number: bool = True
    date_format: str | None = None
    timezone: str | None = None
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    ignore_case: bool = False
    null_values: tuple[str, ...] = ()
    geometry_format: Literal["wkt", "geojson"] | None = None
    declared: bool = False
    note: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the converted column."""
        return _arrow_type(self.kind, self.timezone)

    def arrow_field(self) -> pa.Field[Any]:
        """The Arrow field of the converted column."""
        return pa.field(self.name, self.arrow_type, nullable=self.nullable)

    def describe(self) -> str:
        """What is expected, in words (used in error messages)."""
        if self.kind in {"integer", "number"}:
            groups = [_GROUP_NAMES.get(c, c) for c in self.group_char]
            text = f"{self.kind} (decimal mark '{self.decimal_mark}'"
            return text + (f", thousands {'/'.join(groups)})" if groups else ")")
        if self.kind in {"date", "datetime"}:
            return f"{self.kind} ({self.date_format or 'ISO 8601'})"
        if self.kind == "boolean":
            return f"boolean ({'/'.join(self.true_values)} | {'/'.join(self.false_values)})"
        if self.kind == "geometry":
            return f"geometry ({self.geometry_format})"
        return self.kind

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (every parameter)."""
        data = asdict(self)
        data["true_values"] = list(self.true_values)
        data["false_values"] = list(self.false_values)
        data["null_values"] = list(self.null_values)
        return data

    def as_field(self) -> dict[str, Any]:
        """A Frictionless Table Schema field descriptor equivalent to this type."""
        descriptor: dict[str, Any] = {"name": self.name, "type": self.kind}
        if self.kind in {"integer", "number"}:
            if self.kind == "number" and self.decimal_mark != ".":
                descriptor["decimalChar"] = self.decimal_mark
            if self.group_char:
                descriptor["groupChar"] = self.group_char[0]
            if not self.bare_number:
                descriptor["bareNumber"] = False
        elif self.kind in {"date", "datetime"}:
            descriptor["format"] = self.date_format or "default"
        elif self.kind == "boolean":
            descriptor["trueValues"] = list(self.true_values)
            descriptor["falseValues"] = list(self.false_values)
        elif self.kind == "geometry":
            if self.geometry_format == "geojson":
                descriptor["type"] = "geojson"
            else:
                descriptor.update(type="string", format="wkt")
        if self.null_values:
            descriptor["missingValues"] = ["", *self.null_values]
        if not self.nullable:
            descriptor["constraints"] = {"required": True}
        return descriptor


_GROUP_NAMES: Final = {
    " ": "space",
    "\u00a0": "NBSP",
    "\u202f": "NNBSP",
    "\u2009": "thin space",
    ".": "'.'",
    ",": "','",
    "'": '"\'"',
}


def table_schema(types: Sequence[ColumnType]) -> dict[str, Any]:
    """A Frictionless Table Schema descriptor for these column types."""
    return {"fields": [t.as_field() for t in types]}


def degrade_to_string(types: Sequence[ColumnType], names: Iterable[str]) -> list[ColumnType]:
    """The same types with the named columns read as text (after a conversion error)."""
    wanted = set(names)
    return [
        ColumnType(t.name, "string", nullable=t.nullable, note=f"texte : {t.describe()} refusé")
        if t.name in wanted
        else t
        for t in types
    ]


# --------------------------------------------------------------------------------------------
# Inference
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    decimal_mark: str | None
    day_first: bool
    null_values: tuple[str, ...]
    reference: bool = True


def infer_schema(
    sample: pa.Table | pa.RecordBatch,
    *,
    declared: Mapping[str, str | Mapping[str, Any]] | None = None,
    decimal_mark: str | None = None,
    day_first: bool = True,
    null_values: Sequence[str] = NULL_TOKENS,
    use_reference: bool = True,
) -> list[ColumnType]:
    """One :class:`ColumnType` per column of ``sample`` (the first rows of the file).

    ``declared`` maps field names to a Table Schema type (``"number"``) or a Frictionless
    field descriptor (``{"type": "number", "decimalChar": ",", "groupChar": " "}``,
    ``{"type": "date", "format": "%d/%m/%Y"}``, ``{"type": "boolean", "trueValues": [...]}``,
    ``constraints.required``, field-level ``missingValues``); declared fields bypass
    inference. ``decimal_mark`` is the sniffed mark of the file, used only when a column is
    ambiguous (``1,234``, ``1.234``); ``day_first`` settles ``01/02/2024``. ``null_values``
    replaces :data:`NULL_TOKENS`. ``use_reference=False`` skips the COG look-up of 5-digit
    columns. Columns already typed (Parquet, JSON) keep their type.
    """
    if decimal_mark not in {None, ",", "."}:
        raise InvalidInputError(
            f"Séparateur décimal inconnu : {decimal_mark!r}",
            hint="utilisez ',' ou '.'",
            message_en=f"Unknown decimal mark: {decimal_mark!r}",
            hint_en="use ',' or '.'",
        )
    table = pa.Table.from_batches([sample]) if isinstance(sample, pa.RecordBatch) else sample
    context = _Context(decimal_mark, day_first, tuple(null_values), use_reference)
    declared = declared or {}
    types: list[ColumnType] = []
    for name, chunked in zip(table.column_names, table.columns, strict=True):
        column: Values = chunked.combine_chunks()
        if name in declared:
            types.append(_from_descriptor(name, declared[name], column, context))
        elif _is_text(column.type):
            types.append(_infer_text(name, column, context))
        else:
            types.append(_infer_native(name, column.type))
    return types


def _is_text(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def _arrow_type(kind: Kind, timezone: str | None) -> pa.DataType:
    if kind == "integer":
        return pa.int64()
    if kind == "number":
        return pa.float64()
    if kind == "boolean":
        return pa.bool_()
    if kind == "date":
        return pa.date32()
    if kind == "datetime":
        return pa.timestamp("us", tz=timezone)
    return pa.string()


def _infer_native(name: str, data_type: pa.DataType) -> ColumnType:
    """Typed columns (Parquet, JSON) keep their type, in its canonical Arrow form."""
    kind: Kind = "string"
    timezone = None
    if pa.types.is_integer(data_type):
        kind = "integer"
    elif pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        kind = "number"
    elif pa.types.is_boolean(data_type):
        kind = "boolean"
    elif pa.types.is_date(data_type):
        kind = "date"
    elif pa.types.is_timestamp(data_type):
        kind = "datetime"
        timezone = cast("pa.TimestampType", data_type).tz
    return ColumnType(name, kind, timezone=timezone, note=f"native {data_type}")


def _distinct_values(column: Values, null_values: tuple[str, ...]) -> tuple[Values, bool]:
    """The sample's distinct trimmed values that are not null tokens, and whether any
    token was seen."""
    distinct = pc.unique(pc.utf8_trim_whitespace(column)).drop_null()
    tokens = pc.is_in(distinct, value_set=_null_set(null_values))
    return distinct.filter(pc.invert(tokens)), bool(pc.any(tokens).as_py())


def _infer_text(name: str, column: Values, context: _Context) -> ColumnType:
    values, _ = _distinct_values(column, context.null_values)
    if len(values) == 0:
        return ColumnType(name, "string", note="vide / empty")
    tokens = name_tokens(name)
    for candidate in (
        _detect_geometry(name, values),
        _detect_date(name, values, context.day_first),
        _detect_boolean(name, values, tokens),
        _detect_number(name, values, context.decimal_mark),
    ):
        if candidate is None:
            continue
        typed = replace(candidate, null_values=context.null_values)
        if typed.kind in {"integer", "number"}:
            reason = _code_reason(name, tokens, values, reference=context.reference)
            if reason is not None:
                return ColumnType(name, "string", note=reason)
        try:
            _convert_text(values, typed)  # every distinct value of the sample must convert
        except _ConversionError:
            continue
        return typed
    return ColumnType(name, "string")


# The regex tests look at the first values first: most candidates of a column fail on its
# first few values, so the whole sample (up to 50,000 distinct values) is matched only when
# the answer is still open. Same result, a fraction of the regex work on the read-ahead's
# critical path (the pipeline starts only once the sample is typed).
_PROBE: Final = 512


def _all(values: Values, pattern: str) -> bool:
    if len(values) > _PROBE and not _matches_all(values.slice(0, _PROBE), pattern):
        return False
    return _matches_all(values, pattern)


def _any(values: Values, pattern: str) -> bool:
    if len(values) > _PROBE and _matches_any(values.slice(0, _PROBE), pattern):
        return True
    return _matches_any(values, pattern)


def _matches_all(values: Values, pattern: str) -> bool:
    return bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())


def _matches_any(values: Values, pattern: str) -> bool:
    return bool(pc.any(pc.match_substring_regex(values, pattern)).as_py())


def _detect_geometry(name: str, values: Values) -> ColumnType | None:
    if _all(values, _WKT):
        return ColumnType(name, "geometry", geometry_format="wkt")
    if _all(values, _GEOJSON):
        return ColumnType(name, "geometry", geometry_format="geojson")
    return None


def _detect_boolean(name: str, values: Values, tokens: list[str]) -> ColumnType | None:
    lowered_values = pc.unique(pc.utf8_lower(values))
    if len(lowered_values) > len(TRUE_WORDS) + len(FALSE_WORDS) + 2:
        return None
    lowered = set(cast("list[str]", lowered_values.to_pylist()))
    words = set(TRUE_WORDS) | set(FALSE_WORDS)
    if lowered <= words:
        return _boolean(name, TRUE_WORDS, FALSE_WORDS)
    for true, false in _LETTER_PAIRS:
        if {true, false} <= lowered <= words | {true, false}:
            return _boolean(name, (*TRUE_WORDS, true), (*FALSE_WORDS, false))
    if lowered <= {"0", "1"} and _is_boolean_header(name, tokens):
        return _boolean(name, (*TRUE_WORDS, "1"), (*FALSE_WORDS, "0"))
    return None


def _boolean(name: str, true: tuple[str, ...], false: tuple[str, ...]) -> ColumnType:
    return ColumnType(name, "boolean", true_values=true, false_values=false, ignore_case=True)


def _is_boolean_header(name: str, tokens: list[str]) -> bool:
    return bool(BOOLEAN_HEADER_TOKENS & set(tokens)) or bool(re.match(r"^(is|has)[A-Z_]", name))


def _number_regex(decimal_mark: str, group_char: str, *, integer: bool) -> str:
    integer_part = r"\d+"
    if group_char:
        integer_part = rf"(?:\d{{1,3}}(?:[{_class(group_char)}]\d{{3}})+|\d+)"
    if integer:
        return f"^{_SIGN}{integer_part}$"
    mark = "\\" + decimal_mark
    return f"^{_SIGN}(?:{integer_part}(?:{mark}\\d*)?|{mark}\\d+)(?:[eE][+\\-]?\\d+)?$"


def _class(chars: str) -> str:
    """Characters escaped for a RE2 character class."""
    return "".join("\\" + c if c in "\\]^-[" else c for c in chars)


def _number_readings(hint: str | None) -> list[tuple[str, str]]:
    """(decimal mark, non-space thousands separator) in order of preference: without a hint,
    a lone separator is a decimal mark; a sniffed mark makes the other one a separator."""
    if hint == ",":
        return [(",", ""), (",", "."), (".", ""), (".", ","), (".", "'")]
    if hint == ".":
        return [(".", ""), (".", ","), (".", "'"), (",", ""), (",", ".")]
    return [(".", ""), (",", ""), (",", "."), (".", ","), (".", "'")]


_UNIT_SIGNS: Final = r"(?:€|EUR|%)"
_NUMBER_CHARS: Final = "[\\d.,' " + SPACES + "]"
_WITH_UNIT: Final = (
    rf"^\s*{_UNIT_SIGNS}?\s*[+\-{_MINUS}]?{_NUMBER_CHARS}*\d{_NUMBER_CHARS}*\s*{_UNIT_SIGNS}?\s*$"
)
_HAS_UNIT: Final = rf"{_UNIT_SIGNS}\s*$|^\s*{_UNIT_SIGNS}"


def _detect_number(name: str, values: Values, hint: str | None) -> ColumnType | None:
    found = _detect_bare_number(name, values, hint)
    if found is not None or not _any(values, _HAS_UNIT):
        return found
    # Amounts exported with their sign ("1 234,50 €", "12,5 %"): numbers once the sign is
    # stripped (Table Schema bareNumber: false) — only for these signs, present on every
    # value (a column mixing "12 €" and "3" stays text: which unit would "3" be in?).
    if not (_all(values, _HAS_UNIT) and _all(values, _WITH_UNIT)):
        return None
    stripped = _detect_bare_number(name, _strip_non_numeric(values), hint)
    if stripped is None:
        return None
    return replace(stripped, bare_number=False, note="symbole € ou % retiré / € or % sign removed")


def _detect_bare_number(name: str, values: Values, hint: str | None) -> ColumnType | None:
    for mark, group in _number_readings(hint):
        groups = group + SPACES
        if _all(values, _number_regex(mark, groups, integer=False)):
            integer = _all(values, _number_regex(mark, groups, integer=True))
            return ColumnType(
                name, "integer" if integer else "number", decimal_mark=mark, group_char=groups
            )
    return None


QUANTITY_HEADER_TOKENS: Final = frozenset(
    {
        "population",
        "pop",
        "habitants",
        "nombre",
        "nb",
        "nbre",
        "total",
        "totale",
        "somme",
        "montant",
        "montants",
        "effectif",
        "effectifs",
        "surface",
        "superficie",
        "capacite",
        "quantite",
        "qte",
        "prix",
        "cout",
        "places",
        "logements",
        "naissances",
        "deces",
        "menages",
        "emplois",
        "km",
        "longueur",
        "poids",
        "tonnage",
        "volume",
    }
)
"""Header words naming a quantity: such a column is counted, never a code (unless its
values keep leading zeros)."""


def _code_reason(name: str, tokens: list[str], values: Values, *, reference: bool) -> str | None:
    """Why a numeric-looking column must stay text, or ``None``."""
    if any(t in CODE_HEADER_TOKENS or t.startswith("code") for t in tokens):
        return "code : l'en-tête désigne un code / header names a code"
    if _any(values, r"^[+\-]?0\d"):
        return "code : zéros en tête / leading zeros"
    if _any(values, r"^\+?\d{16,}$"):
        return "code : 16 chiffres ou plus / 16 digits or more"
    if any(t in QUANTITY_HEADER_TOKENS for t in tokens):
        return None  # "Population": 57000 and 18000 are also postal codes, but counts here
    if _all(values, r"^\+?[\d .\-]+$"):
        found = semantic.detect(values, name, use_reference=reference)
        if found is not None and semantic.is_code_like(found.label):
            return f"code : {found.label} ({found.confidence:.0%})"
    return None


_DAY_MONTH: Final = r"(\d{1,2})"
_TIME_SUFFIX: Final = r"[ T]\d{1,2}:\d{2}(?::\d{2})?$"
_SECONDS_SUFFIX: Final = r"[ T]\d{1,2}:\d{2}:\d{2}$"
_ISO_DATE: Final = r"^\d{4}-\d{1,2}-\d{1,2}$"
_ISO_DATETIME: Final = (
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
    r"(?:Z|[+\-]\d{2}(?::?\d{2})?)?$"
)
_OFFSET: Final = r":\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+\-]\d{2}(?::?\d{2})?)$"  # after a time


def _detect_date(name: str, values: Values, day_first: bool) -> ColumnType | None:
    if _all(values, _ISO_DATE):
        return ColumnType(name, "date")
    if _all(values, _ISO_DATETIME):
        return _detect_iso_datetime(name, values)
    time = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
    for sep in "/.":
        if _all(values, rf"^\d{{4}}\{sep}\d{{1,2}}\{sep}\d{{1,2}}{time}"):
            return _with_time(name, values, f"%Y{sep}%m{sep}%d")
    for sep in "/-.":
        for year, directive in ((r"\d{4}", "%Y"), (r"\d{2}", "%y")):
            if _all(values, rf"^{_DAY_MONTH}\{sep}{_DAY_MONTH}\{sep}{year}{time}"):
                order = _day_month_order(values, sep, day_first)
                if order is None:
                    return None
                return _with_time(name, values, f"%{order[0]}{sep}%{order[1]}{sep}{directive}")
    return None


def _detect_iso_datetime(name: str, values: Values) -> ColumnType | None:
    """ISO 8601 date-times: UTC when every value has an offset, naive when none has."""
    with_offset = pc.match_substring_regex(values, _OFFSET)
    if bool(pc.all(with_offset).as_py()):
        return ColumnType(name, "datetime", timezone="UTC")
    if not bool(pc.any(with_offset).as_py()):
        return ColumnType(name, "datetime")
    return None


def _with_time(name: str, values: Values, date_format: str) -> ColumnType | None:
    timed = pc.match_substring_regex(values, _TIME_SUFFIX)
    if not bool(pc.any(timed).as_py()):
        return ColumnType(name, "date", date_format=date_format)
    if not bool(pc.all(timed).as_py()):
        return None  # some values with a time, some without: text
    seconds = pc.match_substring_regex(values, _SECONDS_SUFFIX)
    if bool(pc.all(seconds).as_py()):
        return ColumnType(name, "datetime", date_format=f"{date_format} %H:%M:%S")
    if not bool(pc.any(seconds).as_py()):
        return ColumnType(name, "datetime", date_format=f"{date_format} %H:%M")
    return None


def _day_month_order(values: Values, sep: str, day_first: bool) -> tuple[str, str] | None:
    """("d", "m") or ("m", "d"): which of the first two components is the day."""
    parts = pc.extract_regex(values, rf"^(?P<a>\d{{1,2}})\{sep}(?P<b>\d{{1,2}})\{sep}")
    first = pc.max(pc.cast(pc.struct_field(parts, "a"), pa.int32())).as_py() or 0
    second = pc.max(pc.cast(pc.struct_field(parts, "b"), pa.int32())).as_py() or 0
    if first > 12 and second > 12:
        return None
    if first > 12:
        return ("d", "m")
    if second > 12:
        return ("m", "d")
    return ("d", "m") if day_first else ("m", "d")


# --------------------------------------------------------------------------------------------
# Declared Table Schema fields
# --------------------------------------------------------------------------------------------


def _from_descriptor(
    name: str, descriptor: str | Mapping[str, Any], column: Values, context: _Context
) -> ColumnType:
    spec: Mapping[str, Any] = {"type": descriptor} if isinstance(descriptor, str) else descriptor
    ts_type = str(spec.get("type", "string"))
    if ts_type not in _TS_KINDS:
        raise InvalidInputError(
            f"Type inconnu pour la colonne « {name} » : {ts_type!r}",
            hint="types acceptés : " + ", ".join(sorted(_TS_KINDS)),
            details={"column": name, "type": ts_type},
            message_en=f"Unknown type for column '{name}': {ts_type!r}",
            hint_en="accepted types: " + ", ".join(sorted(_TS_KINDS)),
        )
    kind = _TS_KINDS[ts_type]
    required = bool((spec.get("constraints") or {}).get("required", False))
    missing = spec.get("missingValues")
    null_values = (
        tuple(str(v) for v in missing if v != "") if missing is not None else context.null_values
    )
    base = ColumnType(name, kind, nullable=not required, null_values=null_values, declared=True)
    if kind == "string":
        return replace(base, null_values=())
    text = _is_text(column.type)
    values = _distinct_values(column, null_values)[0] if text else pa.array([], pa.string())
    if kind in {"integer", "number"}:
        return _declared_number(base, spec, values, context)
    if kind == "boolean":
        true_values = tuple(str(v) for v in spec.get("trueValues", _TS_TRUE))
        false_values = tuple(str(v) for v in spec.get("falseValues", _TS_FALSE))
        return replace(base, true_values=true_values, false_values=false_values)
    if kind in {"date", "datetime"}:
        return _declared_date(base, spec, values, context)
    return replace(base, geometry_format="geojson" if ts_type == "geojson" else "wkt")


def _declared_number(
    base: ColumnType, spec: Mapping[str, Any], values: Values, context: _Context
) -> ColumnType:
    bare = bool(spec.get("bareNumber", True))
    if not bare and len(values):
        values = _strip_non_numeric(values)
    mark, group = spec.get("decimalChar"), spec.get("groupChar")
    if mark is None or group is None:
        found = _detect_number(base.name, values, context.decimal_mark) if len(values) else None
        mark = mark if mark is not None else (found.decimal_mark if found else ".")
        if group is None:
            group = found.group_char if found else ""
    group = str(group)
    if group and group in SPACES:
        group = SPACES  # whoever writes "space" means whichever space Excel wrote
    return replace(base, decimal_mark=str(mark), group_char=group, bare_number=bare)


def _declared_date(
    base: ColumnType, spec: Mapping[str, Any], values: Values, context: _Context
) -> ColumnType:
    date_format = spec.get("format")
    if isinstance(date_format, str) and date_format.startswith("fmt:"):
        date_format = date_format[4:]
    if date_format in {None, "any"} and len(values):
        found = _detect_date(base.name, values, context.day_first)
        if found is not None and base.kind in {found.kind, "datetime"}:
            return replace(base, date_format=found.date_format, timezone=found.timezone)
    if date_format in {None, "any", "default"}:
        timezone = None
        if base.kind == "datetime" and len(values) and _all(values, r".*" + _OFFSET):
            timezone = "UTC"
        return replace(base, date_format=None, timezone=timezone)
    timezone = "UTC" if base.kind == "datetime" and "%z" in str(date_format) else None
    return replace(base, date_format=str(date_format), timezone=timezone)


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------


class _ConversionError(Exception):
    """A value at ``index`` does not fit the column type."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def convert(
    batch: pa.RecordBatch, types: Sequence[ColumnType], *, row_offset: int = 0
) -> pa.RecordBatch:
    """``batch`` with each column converted to its :class:`ColumnType` (same order, same
    names). Raises :class:`~beffroi.errors.InvalidFileError` on the first value that does not
    fit (``details``: column, value, row_in_batch, row = ``row_offset`` + row_in_batch,
    expected) — never a silent null. Columns are matched by position and must carry the
    names the types were inferred for.
    """
    if batch.schema.names != [t.name for t in types]:
        raise ValueError(
            f"columns {batch.schema.names} do not match the types {[t.name for t in types]}"
        )
    arrays: list[Values] = []
    for column, column_type in zip(batch.columns, types, strict=True):
        try:
            if _is_text(column.type):
                arrays.append(_convert_text(column, column_type))
            else:
                arrays.append(_convert_native(column, column_type))
        except _ConversionError as failure:
            raise _invalid(column, column_type, failure.index, row_offset) from None
    fields = [t.arrow_field() for t in types]
    fields = [
        f if f.type == a.type else f.with_type(a.type) for f, a in zip(fields, arrays, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _invalid(
    column: Values, column_type: ColumnType, index: int, row_offset: int
) -> InvalidFileError:
    value = column[index].as_py()
    shown = value if isinstance(value, str) else repr(value)
    expected = column_type.describe()
    return InvalidFileError(
        f"Colonne « {column_type.name} », ligne {row_offset + index + 1} des données : "
        f"« {shown} » n'est pas du type attendu ({expected})",
        hint=HINT,
        message_en=f"Column '{column_type.name}', data row {row_offset + index + 1}: "
        f"'{shown}' is not of the expected type ({expected})",
        hint_en=HINT_EN,
        details={
            "column": column_type.name,
            "value": shown,
            "row_in_batch": index,
            "row": row_offset + index,
            "expected": expected,
            "kind": column_type.kind,
        },
    )


@cache
def _null_set(null_values: tuple[str, ...]) -> Values:
    """The tokens in their usual spellings (as written, lower, upper, title) and ``""``."""
    spellings = {""}
    for token in null_values:
        spellings |= {token, token.lower(), token.upper(), token.title()}
    return pa.array(sorted(spellings), pa.string())


def _convert_text(column: Values, column_type: ColumnType) -> Values:
    kind = column_type.kind
    if kind == "string":
        return column if pa.types.is_string(column.type) else column.cast(pa.string())
    quick = _quick_convert(column, column_type)
    if quick is not None:
        return quick
    trimmed = pc.utf8_trim_whitespace(column)
    is_null = pc.is_in(trimmed, value_set=_null_set(column_type.null_values))
    if bool(pc.any(is_null).as_py()):
        trimmed = pc.if_else(is_null, pa.scalar(None, trimmed.type), trimmed)
    if kind in {"integer", "number"}:
        return _to_number(trimmed, column_type)
    if kind == "boolean":
        return _to_boolean(trimmed, column_type)
    if kind in {"date", "datetime"}:
        return _to_datetime(trimmed, column_type)
    pattern = _GEOJSON if column_type.geometry_format == "geojson" else _WKT
    _check(trimmed, pattern)
    return trimmed.cast(pa.string())


# --------------------------------------------------------------------------------------------
# Quick conversion: the common, clean columns without regular expressions.
#
# Each function returns the converted column only when it can prove the checked path below
# would give the very same result (it accepts a subset of what that path accepts), else
# ``None`` and the checked path runs (and raises the usual error). They work on the raw
# cells: a value they accept holds no whitespace and no null token (a null token without a
# digit is never a number or a date), so trimming and null tokens change nothing.


def _quick_convert(column: Values, column_type: ColumnType) -> Values | None:
    if not pa.types.is_string(column.type) or _digit_token(column_type.null_values):
        return None
    kind = column_type.kind
    if kind in {"integer", "number"} and column_type.bare_number:
        return _quick_number(column, column_type)
    if kind == "date" and column_type.date_format is not None:
        layout = date_layout(column_type.date_format)
        if layout is not None:
            return _quick_date(column, layout)
    return None


@cache
def _digit_token(null_values: tuple[str, ...]) -> bool:
    return any(char.isdigit() for token in null_values for char in token)


def _quick_number(column: Values, column_type: ColumnType) -> Values | None:
    """Numbers Arrow's cast reads as they are (with ``.`` for a decimal comma).

    Arrow's integer cast takes only ``-`` and ASCII digits, its float cast what the ``.``
    number regex accepts without separators (plus ``nan``/``inf``, refused by
    :func:`_finite_decimals`): a subset of the checked path's values, read the same way.
    A decimal comma is swapped for ``.`` byte for byte when no value holds a ``.`` (which
    would be a thousands separator or an error there).
    """
    if column_type.kind == "integer":
        try:
            return column.cast(pa.int64())
        except (pa.ArrowInvalid, OverflowError):
            return None
    if column_type.decimal_mark == ",":
        swapped = _swap_comma(column)
        if swapped is None:
            return None
        column = swapped
    elif column_type.decimal_mark != ".":
        return None
    return _finite_decimals(column)


def _string_parts(column: Values) -> tuple[Any, Any, Values | None] | None:
    """Offsets (``len + 1``, from the first value's) and bytes of a ``pa.string()`` column,
    and its validity as a bitmap of offset 0 (``None`` without nulls)."""
    buffers: list[Any] = column.buffers()
    if len(buffers) != 3 or buffers[1] is None:
        return None
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    data = (
        np.zeros(0, dtype=np.uint8)
        if buffers[2] is None
        else np.frombuffer(buffers[2], dtype=np.uint8)
    )
    validity: Values | None = None
    if column.null_count:
        validity = pc.is_valid(column)
        if validity.offset:
            return None
    return offsets, data, validity


def _swap_comma(column: Values) -> Values | None:
    """``column`` with every ``,`` made ``.``; ``None`` when a value holds a ``.``."""
    parts = _string_parts(column)
    if parts is None or not len(column):
        return None
    offsets, data, validity = parts
    start, end = int(offsets[0]), int(offsets[-1])
    text = data[start:end]
    if bool((text == ord(".")).any()):
        return None
    swapped = np.where(text == ord(","), np.uint8(ord(".")), text)
    buffers = [
        None if validity is None else validity.buffers()[1],
        pa.py_buffer(cast("Any", (offsets - start).astype(np.int32))),
        pa.py_buffer(cast("Any", swapped)),
    ]
    return pa.Array.from_buffers(pa.string(), len(column), buffers, column.null_count)


@dataclass(frozen=True, slots=True)
class DateLayout:
    """A fixed-width date format: where the digits and the separators are."""

    width: int
    year: int  # position of 4 digits
    month: int  # … of 2 digits
    day: int  # … of 2 digits
    separators: tuple[tuple[int, int], ...]  # (position, byte)


@cache
def date_layout(date_format: str) -> DateLayout | None:
    """The layout of a format made of ``%d``, ``%m``, ``%Y`` and ASCII punctuation only."""
    widths = {"d": 2, "m": 2, "Y": 4}
    fields: dict[str, int] = {}
    separators: list[tuple[int, int]] = []
    position = index = 0
    while index < len(date_format):
        char = date_format[index]
        if char == "%":
            directive = date_format[index + 1 : index + 2]
            if directive not in widths or directive in fields:
                return None
            fields[directive] = position
            position += widths[directive]
            index += 2
            continue
        if not (char.isascii() and not char.isalnum() and not char.isspace()):
            return None
        separators.append((position, ord(char)))
        position += 1
        index += 1
    if len(fields) != 3:
        return None
    return DateLayout(position, fields["Y"], fields["m"], fields["d"], tuple(separators))


_MONTH_DAYS: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def date_fields(cells: np.ndarray, layout: DateLayout) -> tuple[Any, Any, Any, Any]:
    """``(bad, year, month, day)`` of dates written in ``layout``, one per row of ``cells``
    (rows by ``layout.width`` bytes; the numbers as int32): ``bad`` where a separator or a
    digit is not where the format puts it, or the date is not a real day of years 1-9999."""
    width = layout.width
    low = np.full(width, ord("0"), dtype=np.uint8)
    span = np.full(width, 9, dtype=np.uint8)
    for position, byte in layout.separators:
        low[position], span[position] = byte, 0
    # One unsigned comparison per byte: a digit 0-9 where digits go, the separator's byte
    # (0) where it goes; anything below wraps around above.
    digits = np.subtract(cells, low)
    bad = ~rows_all(digits <= span)

    def number(position: int, size: int) -> Any:
        total = digits[:, position].astype(np.int32)
        for index in range(position + 1, position + size):
            total = total * 10 + digits[:, index]
        return total

    year, month, day = number(layout.year, 4), number(layout.month, 2), number(layout.day, 2)
    bad |= (month < 1) | (month > 12) | (year < 1) | (day < 1)
    over = day > _MONTH_DAYS[np.clip(month, 0, 12)]  # February: 28 days here
    leap_day = np.flatnonzero(over & (month == 2) & (day == 29))
    if len(leap_day):  # the 29th of February, of leap years only
        leap_year = year[leap_day]
        leap = (leap_year % 4 == 0) & ((leap_year % 100 != 0) | (leap_year % 400 == 0))
        over[leap_day[leap]] = False
    bad |= over
    return bad, year, month, day


def _quick_date(column: Values, layout: DateLayout) -> Values | None:
    """Dates of a fixed-width format (``dd/mm/yyyy``…) read from the digit bytes.

    Only when every value has exactly the format's width, digits and separators where the
    format puts them, and names a real day of years 1-9999: the checked path reads such
    values the same (proleptic Gregorian days since 1970-01-01, as Arrow's cast).
    """
    parts = _string_parts(column)
    if parts is None:
        return None
    offsets, data, validity = parts
    starts = offsets[:-1]
    if validity is not None:
        mask = np.asarray(validity.to_numpy(zero_copy_only=False), dtype=bool)
        starts = starts[mask]
        lengths = offsets[1:][mask] - starts
    else:
        mask = None
        lengths = offsets[1:] - starts
    width = layout.width
    if not len(starts) or bool((lengths != width).any()):
        return None
    first, last = int(offsets[0]), int(offsets[-1])
    if last - first == len(starts) * width:  # back to back (null cells are empty)
        cells = data[first:last].reshape(-1, width)
    else:
        cells = data[starts[:, None] + np.arange(width)]
    bad, year, month, day = date_fields(cells, layout)
    if bool(bad.any()):
        return None
    # Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = (era * 146_097 + day_of_era - 719_468).astype(np.int32)
    if mask is not None:
        full = np.zeros(len(column), dtype=np.int32)
        full[mask] = days
        days = full
    buffers = [None if validity is None else validity.buffers()[1], pa.py_buffer(cast("Any", days))]
    return pa.Array.from_buffers(pa.date32(), len(column), buffers, column.null_count)


def _check(values: Values, pattern: str) -> None:
    """Raise on the first non-null value that does not match ``pattern``."""
    bad = pc.invert(pc.match_substring_regex(values, pattern))
    if bool(pc.any(bad).as_py()):
        raise _ConversionError(pc.index(bad, True).as_py())


def _strip_non_numeric(values: Values) -> Values:
    """Currency, percent and unit signs around a number (Table Schema ``bareNumber: false``)."""
    stripped = pc.replace_substring_regex(values, rf"^[^\d+\-{_MINUS}.,]+|[^\d.,]+$", "")
    return pc.utf8_trim_whitespace(stripped)


def _to_number(values: Values, column_type: ColumnType) -> Values:
    if not column_type.bare_number:
        values = _strip_non_numeric(values)
    integer = column_type.kind == "integer"
    mark, groups = column_type.decimal_mark, column_type.group_char
    if not integer and mark == ".":  # the group separators are then never "."
        parsed = _finite_decimals(values)
        if parsed is not None:
            return parsed
    _check(values, _number_regex(mark, groups, integer=integer))
    if groups:
        values = pc.replace_substring_regex(values, f"[{_class(groups)}]", "")
    if not integer and mark != ".":
        values = pc.replace_substring(values, mark, ".")
    if bool(pc.any(pc.starts_with(values, _MINUS)).as_py()):
        values = pc.replace_substring(values, _MINUS, "-")
    if integer and bool(pc.any(pc.starts_with(values, "+")).as_py()):
        values = pc.replace_substring_regex(values, r"^\+", "")
    return _cast(values, pa.int64() if integer else pa.float64())


def _finite_decimals(values: Values) -> Values | None:
    """``values`` as float64 when Arrow's parser reads each one as a finite number, else None.

    What Arrow reads is what the regex of a ``.``-decimal number accepts without its
    thousands separators (digits, one optional ``+``/``-``, ``.``, exponent; no space, no
    ``0x``), plus ``nan``/``inf``, ruled out by the finiteness test; removing separators
    that are not there changes nothing. So the regex scan, half the typing time of such a
    column, is skipped; any other value (``2 500.5``, a Unicode minus) takes the checked path.
    """
    try:
        parsed = values.cast(pa.float64())
    except (pa.ArrowInvalid, OverflowError):
        return None
    if pc.all(pc.is_finite(parsed)).as_py() is False:  # None: no value at all
        return None
    return parsed


def _to_boolean(values: Values, column_type: ColumnType) -> Values:
    key = pc.utf8_lower(values) if column_type.ignore_case else values
    true_values, false_values = column_type.true_values, column_type.false_values
    if column_type.ignore_case:
        true_values = tuple(v.lower() for v in true_values)
        false_values = tuple(v.lower() for v in false_values)
    is_true = pc.is_in(key, value_set=pa.array(true_values, pa.string()))
    known = pc.or_(is_true, pc.is_in(key, value_set=pa.array(false_values, pa.string())))
    bad = pc.and_(pc.is_valid(values), pc.invert(known))
    if bool(pc.any(bad).as_py()):
        raise _ConversionError(pc.index(bad, True).as_py())
    result: Values = pc.if_else(pc.is_null(values), pa.scalar(None, pa.bool_()), is_true)
    return result


def _cast(values: Values, target: pa.DataType) -> Values:
    """Cast, or raise on the first value that does not cast (found by bisection)."""
    try:
        return values.cast(target)
    except (pa.ArrowInvalid, OverflowError):
        pass
    low, high = 0, len(values)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            values.slice(low, middle - low).cast(target)
        except (pa.ArrowInvalid, OverflowError):
            high = middle
        else:
            low = middle
    raise _ConversionError(low)


@dataclass(frozen=True, slots=True)
class _DatePlan:
    """How to turn a strftime-style format into ISO 8601 with a regex rewrite."""

    pattern: str | None  # None: the values are ISO 8601 already (or use strptime)
    template: str = ""
    two_digit_year: bool = False
    strptime: str | None = None  # a format with directives we do not rewrite


_DIRECTIVES: Final = {
    "d": r"(\d{1,2})",
    "m": r"(\d{1,2})",
    "Y": r"(\d{4})",
    "y": r"(\d{2})",
    "H": r"(\d{1,2})",
    "M": r"(\d{2})",
    "S": r"(\d{2})",
    "f": r"(\d{1,9})",
    "z": r"(Z|[+\-]\d{2}(?::?\d{2})?)",
}
_REGEX_SPECIALS: Final = frozenset(".^$*+?()[]{}|\\/-")
_ISO_FORMATS: Final = frozenset(
    {"%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"}
)


@cache
def _date_plan(date_format: str | None, kind: str) -> _DatePlan:
    if date_format is None or date_format in _ISO_FORMATS:
        return _DatePlan(None)
    date_format = date_format.replace("%T", "%H:%M:%S").replace("%F", "%Y-%m-%d")
    regex, groups, position = ["^"], {}, 0
    index = 0
    while index < len(date_format):
        char = date_format[index]
        if char == "%" and index + 1 < len(date_format):
            directive = date_format[index + 1]
            index += 2
            if directive == "%":
                regex.append("%")
                continue
            if directive not in _DIRECTIVES or directive in groups:
                return _DatePlan(None, strptime=date_format)
            position += 1
            groups[directive] = f"\\{position}"
            regex.append(_DIRECTIVES[directive])
            continue
        regex.append("\\" + char if char in _REGEX_SPECIALS else char)
        index += 1
    regex.append("$")
    if "Y" in groups:
        year = groups["Y"]
    elif "y" in groups:
        year = "20" + groups["y"]
    else:
        return _DatePlan(None, strptime=date_format)
    template = f"{year}-{groups.get('m', '01')}-{groups.get('d', '01')}"
    if kind == "datetime":
        template += f" {groups.get('H', '00')}:{groups.get('M', '00')}"
        template += f":{groups['S']}" if "S" in groups else ""
        template += f".{groups['f']}" if "f" in groups else ""
        template += groups.get("z", "")
    return _DatePlan("".join(regex), template, two_digit_year="y" in groups)


def _to_datetime(values: Values, column_type: ColumnType) -> Values:
    target = _arrow_type(column_type.kind, column_type.timezone)
    plan = _date_plan(column_type.date_format, column_type.kind)
    if plan.strptime is not None:
        parsed = pc.strptime(values, format=plan.strptime, unit="us", error_is_null=True)
        bad = pc.and_(pc.is_valid(values), pc.is_null(parsed))
        if bool(pc.any(bad).as_py()):
            raise _ConversionError(pc.index(bad, True).as_py())
        return parsed.cast(target)
    iso = values
    if plan.pattern is not None:
        iso = pc.replace_substring_regex(values, plan.pattern, plan.template)
    try:
        out = iso.cast(target)
    except pa.ArrowInvalid:
        # Single-digit days, months or hours ("1/2/2024", "9:05"): pad them, then retry.
        padded = pc.replace_substring_regex(iso, r"(^|[^.\d])(\d)\b", r"\10\2")
        out = _cast(padded, target)
    if plan.two_digit_year:
        out = _fix_century(out)
    return out


def _fix_century(out: Values) -> Values:
    """``%y`` years were read as 20yy: 2069-2099 become 1969-1999 (POSIX pivot)."""
    years: Values = pc.year(cast("pa.TimestampArray[Any, Any]", out))
    shift = pc.greater_equal(years, pa.scalar(2069, years.type))
    if not bool(pc.any(shift).as_py()):
        return out
    if pa.types.is_date32(out.type):
        days = out.cast(pa.int32())
        earlier_days = pc.subtract(days, pa.scalar(_CENTURY_DAYS, pa.int32()))
        shifted: Values = pc.if_else(shift, earlier_days, days)
        return shifted.cast(pa.int32()).cast(pa.date32())
    earlier = pc.subtract(out, pa.scalar(dt.timedelta(days=_CENTURY_DAYS), pa.duration("us")))
    result: Values = pc.if_else(shift, earlier, out)
    return result


def _convert_native(column: Values, column_type: ColumnType) -> Values:
    """Typed input (Parquet, JSON): cast to the canonical type, refusing lossy casts."""
    target = column_type.arrow_type
    if column.type == target:
        return column
    if pa.types.is_null(column.type):
        nulls: Values = pa.nulls(len(column), cast("Any", target))
        return nulls
    if column_type.kind in {"string", "geometry"}:
        try:
            return column.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return column  # nested or binary values: kept as they are
    try:
        return _cast(column, target)
    except pa.ArrowNotImplementedError:
        raise _ConversionError(pc.index(pc.is_valid(column), True).as_py()) from None
