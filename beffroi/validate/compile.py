"""Compile a Table Schema into DuckDB SQL expressions over the raw text cells.

Each field gives three expressions of its cell column: *missing* (null or one of the missing
values), *valid* (the text parses as the field's type, as frictionless-py reads it) and
*value* (the typed value, null when missing or invalid) used by range, enum and uniqueness
checks. Every check is then one boolean expression per cell: the whole batch is checked by
one vectorised query, never a Python loop over rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from beffroi.validate.schema import Field

WS = r"\s*"
DIGITS = r"\d(?:_?\d)*"
DECIMAL = rf"[+-]?(?:{DIGITS}(?:\.(?:{DIGITS})?)?|\.{DIGITS})(?:[eE][+-]?{DIGITS})?"
SPECIAL = r"(?i)[+-]?(?:nan|snan|inf|infinity)"
EMAIL = (
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]"
)
URI = r"[A-Za-z][A-Za-z0-9+.-]*:\S*"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
WKT = (
    r"(?i)\s*(?:POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|"
    r"GEOMETRYCOLLECTION|TRIANGLE|TIN|POLYHEDRALSURFACE)\s*(?:ZM|Z|M)?\s*(?:\(.*\)|EMPTY)\s*"
)
_NUM = r"\d+(?:[,.]\d+)?"
DURATION = (
    rf"[+-]?P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
TZ = r"(?:Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?"
TIME = rf"\d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?{TZ}"
DATETIME = rf"\d{{4}}-\d{{2}}-\d{{2}}.{TIME}"
GEOJSON_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
    "Feature",
    "FeatureCollection",
)

TYPE_LABELS: dict[str, tuple[str, str, str]] = {
    # type: (French description, English description, how to fix)
    "string": ("un texte", "a string", "Corrigez la valeur."),
    "integer": (
        "un nombre entier",
        "an integer",
        "Écrivez un nombre entier sans espace ni séparateur de milliers, par ex. 1250.",
    ),
    "number": (
        "un nombre",
        "a number",
        (
            "Écrivez un nombre avec un point décimal et sans séparateur de milliers, par ex. "
            "1250.50 (pas 1 250,50)."
        ),
    ),
    "boolean": ("un booléen", "a boolean", "Utilisez une des valeurs {values}."),
    "date": (
        "une date au format {format}",
        "a date ({format})",
        "Écrivez la date au format {format}, par ex. {example}.",
    ),
    "datetime": (
        "une date et heure au format {format}",
        "a datetime ({format})",
        "Écrivez la date et l'heure au format {format}, par ex. {example}.",
    ),
    "time": (
        "une heure au format {format}",
        "a time ({format})",
        "Écrivez l'heure au format {format}, par ex. {example}.",
    ),
    "year": ("une année", "a year", "Écrivez l'année sur quatre chiffres, par ex. 2024."),
    "yearmonth": ("un mois (AAAA-MM)", "a year-month", "Écrivez le mois au format AAAA-MM."),
    "duration": (
        "une durée ISO 8601",
        "an ISO 8601 duration",
        "Écrivez la durée au format ISO 8601, par ex. P1Y2M, PT3H ou P10D.",
    ),
    "geopoint": (
        "un point « longitude, latitude »",
        "a geopoint",
        "Écrivez la longitude puis la latitude en degrés décimaux, par ex. « -3.36, 47.75 ».",
    ),
    "geojson": (
        "un objet GeoJSON",
        "a GeoJSON object",
        'Donnez une géométrie GeoJSON, par ex. {{"type": "Point", "coordinates": [-3.36, 47.75]}}.',
    ),
    "object": ("un objet JSON", "a JSON object", "Donnez un objet JSON entre accolades."),
    "array": ("un tableau JSON", "a JSON array", "Donnez un tableau JSON entre crochets."),
    "any": ("une valeur", "a value", "Corrigez la valeur."),
}
FORMAT_LABELS = {
    "email": ("une adresse électronique", "an email", "Écrivez une adresse comme nom@exemple.fr."),
    "uri": (
        "une adresse web (URI)",
        "a URI",
        "Écrivez l'adresse complète, par ex. https://exemple.fr/page.",
    ),
    "uuid": (
        "un identifiant UUID",
        "a UUID",
        "Écrivez un UUID comme 123e4567-e89b-12d3-a456-426614174000.",
    ),
    "binary": ("du base64", "base64 data", "Encodez la valeur en base64."),
    "wkt": (
        "une géométrie WKT",
        "a WKT geometry",
        "Écrivez une géométrie WKT, par ex. POINT (-3.36 47.75).",
    ),
}


def sql_string(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def re2(pattern: str) -> str:
    """A Python/ECMAScript regular expression in RE2 syntax (``\\uXXXX`` → ``\\x{XXXX}``)."""
    return re.sub(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})", r"\1\\x{\2}", pattern)


def _match(expression: str, pattern: str) -> str:
    return f"regexp_full_match({expression}, {sql_string(pattern)})"


def strip(expression: str) -> str:
    """Python ``str.strip()`` of a text expression."""
    return f"regexp_replace({expression}, '^\\s+|\\s+$', '', 'g')"


PY_TO_DUCK = {"%-d": "%d", "%-m": "%m", "%-H": "%H", "%-M": "%M", "%-S": "%S"}


def _human_format(fmt: str) -> str:
    return (
        fmt.replace("%Y", "AAAA")
        .replace("%m", "MM")
        .replace("%d", "JJ")
        .replace("%H", "hh")
        .replace("%M", "mm")
        .replace("%S", "ss")
        .replace("%y", "AA")
        .replace("%z", "±hhmm")
    )


@dataclass(slots=True)
class FieldSql:
    """The SQL of one field over its cell column."""

    column: str
    valid: str  # when not missing: the text reads as the type
    value: str  # the typed value (when valid)
    note: str  # French description of the type, for messages
    note_en: str
    fix: str
    # A date format whose fixed-width cells can be proven valid in bulk, on the Arrow bytes
    # (a cell so proven needs no ``valid``; the others still get it).
    fixed_date: str | None = None
    # When ``valid`` is "the text is one of these" (booleans): checked on the Arrow arrays.
    allowed: tuple[str, ...] | None = None


def compile_field(item: Field, column: str) -> FieldSql:  # noqa: PLR0911, PLR0912, PLR0915
    """Validity and value expressions of ``item`` over the text column ``column``."""
    c = column
    kind = item.type
    note, note_en, fix = TYPE_LABELS.get(kind, TYPE_LABELS["any"])
    if kind == "string":
        if item.format in FORMAT_LABELS:
            note, note_en, fix = FORMAT_LABELS[item.format]
        pattern = {"email": EMAIL, "uri": URI, "uuid": UUID, "binary": BASE64, "wkt": WKT}.get(
            item.format
        )
        valid = "TRUE" if pattern is None else _match(c, pattern)
        return FieldSql(c, valid, c, note, note_en, fix)
    if kind == "integer":
        text = strip(c)
        if not item.bare_number:
            text = f"regexp_replace({text}, '^[^-\\d]*|\\D*$', '', 'g')"
        slow = _match(text, rf"[+-]?{DIGITS}")
        # Fast path: what DuckDB casts to an integer, but for "1.", "1e5" (not Python ints).
        fast = (
            f"(TRY_CAST({c} AS BIGINT) IS NOT NULL AND NOT contains({c}, '.') "
            f"AND NOT contains(lower({c}), 'e'))"
        )
        valid = f"CASE WHEN {fast} THEN TRUE ELSE {slow} END"
        value = (
            f"CASE WHEN {fast} THEN TRY_CAST({c} AS HUGEINT) "
            f"ELSE TRY_CAST(replace({text}, '_', '') AS HUGEINT) END"
        )
        return FieldSql(c, valid, value, note, note_en, fix)
    if kind == "number":
        text = strip(c)
        guard = "TRUE"
        if item.number_processing:
            if not item.bare_number:
                text = f"regexp_replace({text}, '^[^-\\d]*|\\D*$', '', 'g')"
            if item.group_char:
                text = f"replace({text}, {sql_string(item.group_char)}, '')"
            if item.decimal_char != ".":
                guard = f"NOT contains({text}, '.')"
                text = f"replace({text}, {sql_string(item.decimal_char)}, '.')"
        if item.decimal_char != "." or item.group_char:
            fix = (
                f"Écrivez un nombre avec « {item.decimal_char} » comme séparateur décimal"
                + (f" et « {item.group_char} » entre les milliers" if item.group_char else "")
                + "."
            )
        plain, special = _match(text, WS + DECIMAL + WS), _match(text, WS + SPECIAL + WS)
        valid = f"({guard} AND ({plain} OR {special}))"
        value = f"TRY_CAST(replace({text}, '_', '') AS DOUBLE)"
        if not item.number_processing:
            # Fast path: whatever DuckDB casts to a double, Python's Decimal reads too.
            fast = f"TRY_CAST({c} AS DOUBLE)"
            # CASE, not OR: DuckDB then runs the slow branch on the other rows only.
            valid = f"CASE WHEN {fast} IS NOT NULL THEN TRUE ELSE {valid} END"
            value = f"CASE WHEN {fast} IS NOT NULL THEN {fast} ELSE {value} END"
        return FieldSql(c, valid, value, note, note_en, fix)
    if kind == "boolean":
        values = [*item.true_values, *item.false_values]
        listed = ", ".join(sql_string(v) for v in values)
        trues = ", ".join(sql_string(v) for v in item.true_values) or "NULL"
        valid = f"({c} IN ({listed}))" if values else "FALSE"
        fix = fix.format(values=" / ".join(values))
        return FieldSql(c, valid, f"({c} IN ({trues}))", note, note_en, fix, allowed=tuple(values))
    if kind in {"date", "datetime", "time"}:
        return _temporal(item, c, note, note_en, fix)
    if kind == "year":
        year_pattern = _match(c, WS + r"\+?" + DIGITS + WS)
        valid = f"(length({c}) = 4 AND {year_pattern})"
        value = f"TRY_CAST(replace({strip(c)}, '_', '') AS INTEGER)"
        return FieldSql(c, valid, value, note, note_en, fix)
    if kind == "yearmonth":
        part = WS + r"\+?" + DIGITS + WS
        year = f"TRY_CAST(replace(trim(split_part({c}, '-', 1)), '_', '') AS BIGINT)"
        month = f"TRY_CAST(replace(trim(split_part({c}, '-', 2)), '_', '') AS BIGINT)"
        valid = f"({_match(c, part + '-' + part)} AND {month} BETWEEN 1 AND 12)"
        return FieldSql(c, valid, f"({year} * 12 + {month})", note, note_en, fix)
    if kind == "duration":
        valid = f"({_match(c, DURATION)} AND {c} NOT IN ('P', '+P', '-P'))"
        return FieldSql(c, valid, c, note, note_en, fix)
    if kind == "geopoint":
        return _geopoint(item, c, note, note_en, fix)
    if kind in {"object", "array", "geojson"}:
        wanted = "ARRAY" if kind == "array" else "OBJECT"
        valid = (
            f"(json_valid({c}) AND CASE WHEN json_valid({c}) THEN json_type({c}) END = '{wanted}')"
        )
        if kind == "geojson" and item.format != "topojson":
            types = ", ".join(sql_string(t) for t in GEOJSON_TYPES)
            valid = (
                f"({valid} AND CASE WHEN json_valid({c}) THEN json_extract_string({c}, '$.type') "
                f"END IN ({types}))"
            )
        return FieldSql(c, valid, c, note, note_en, fix)
    return FieldSql(c, "TRUE", c, note, note_en, fix)


_DATE_FORMATS = {"default": "%Y-%m-%d"}


def _temporal(item: Field, c: str, note: str, note_en: str, fix: str) -> FieldSql:
    kind = item.type
    fmt = item.format
    if fmt == "default":
        if kind == "date":
            shape = _match(c, r"\d{4}-\d{1,2}-\d{1,2}")
            fast = (
                f"(length({c}) = 10 AND substr({c}, 5, 1) = '-' AND substr({c}, 8, 1) = '-' "
                f"AND TRY_CAST({c} AS DATE) IS NOT NULL)"
            )
            slow = f"({shape} AND try_strptime({c}, '%Y-%m-%d') IS NOT NULL)"
            valid = f"CASE WHEN {fast} THEN TRUE ELSE {slow} END"
            value = (
                f"CASE WHEN {fast} THEN TRY_CAST({c} AS DATE) "
                f"ELSE CAST(try_strptime({c}, '%Y-%m-%d') AS DATE) END"
            )
            human, example = "AAAA-MM-JJ", "2024-03-31"
        elif kind == "datetime":
            stamp = (
                f"try_strptime(substr({c}, 1, 10) || ' ' || substr({c}, 12, 8), "
                "'%Y-%m-%d %H:%M:%S')"
            )
            valid = f"({_match(c, DATETIME)} AND {stamp} IS NOT NULL)"
            value = stamp
            human, example = "AAAA-MM-JJThh:mm:ss", "2024-03-31T14:30:00"
        else:
            stamp = f"try_strptime('2000-01-01 ' || substr({c}, 1, 8), '%Y-%m-%d %H:%M:%S')"
            valid = f"({_match(c, TIME)} AND {stamp} IS NOT NULL)"
            value = f"CAST({stamp} AS TIME)"
            human, example = "hh:mm:ss", "14:30:00"
    elif fmt == "any":
        cast = {"date": "DATE", "datetime": "TIMESTAMP", "time": "TIME"}[kind]
        french = (
            f"try_strptime({c}, ['%d/%m/%Y', '%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', "
            "'%Y/%m/%d', '%d-%m-%Y', '%d.%m.%Y'])"
        )
        value = f"COALESCE(TRY_CAST({c} AS {cast}), CAST({french} AS {cast}))"
        valid = f"({value} IS NOT NULL)"
        human, example = "quelconque (AAAA-MM-JJ de préférence)", "2024-03-31"
    else:
        duck = fmt
        for python, duckdb in PY_TO_DUCK.items():
            duck = duck.replace(python, duckdb)
        stamp = f"try_strptime({c}, {sql_string(duck)})"
        cast = {"date": "DATE", "datetime": "TIMESTAMP", "time": "TIME"}[kind]
        valid = f"({stamp} IS NOT NULL AND {c} = trim({c}))"
        value = f"CAST({stamp} AS {cast})"
        human, example = _human_format(fmt), _human_format(fmt)
    return FieldSql(
        c,
        valid,
        value,
        note.format(format=human),
        note_en.format(format=fmt),
        fix.format(format=human, example=example),
        fixed_date=None if kind != "date" or fmt == "any" else _DATE_FORMATS.get(fmt, fmt),
    )


def _geopoint(item: Field, c: str, note: str, note_en: str, fix: str) -> FieldSql:
    number = WS + DECIMAL + WS
    if item.format == "array":
        lon = f"TRY_CAST(json_extract({c}, '$[0]') AS DOUBLE)"
        lat = f"TRY_CAST(json_extract({c}, '$[1]') AS DOUBLE)"
        shape = _match(c, rf"\s*\[{number},{number}\]\s*")
        fix = "Écrivez [longitude, latitude], par ex. [-3.36, 47.75]."
    elif item.format == "object":
        lon = f"TRY_CAST(json_extract({c}, '$.lon') AS DOUBLE)"
        lat = f"TRY_CAST(json_extract({c}, '$.lat') AS DOUBLE)"
        shape = (
            f"(json_valid({c}) AND CASE WHEN json_valid({c}) THEN json_type({c}) = 'OBJECT' "
            f"AND len(json_keys({c})) = 2 END)"
        )
        fix = 'Écrivez {"lon": -3.36, "lat": 47.75}.'
    else:
        lon = f"TRY_CAST(trim(split_part({c}, ',', 1)) AS DOUBLE)"
        lat = f"TRY_CAST(trim(split_part({c}, ',', 2)) AS DOUBLE)"
        shape = _match(c, number + "," + number)
    valid = (
        f"({shape} AND CASE WHEN {shape} THEN {lon} BETWEEN -180 AND 180 "
        f"AND {lat} BETWEEN -90 AND 90 END)"
    )
    return FieldSql(c, f"COALESCE({valid}, FALSE)", c, note, note_en, fix)


def literal(item: Field, value: Any, sql: FieldSql) -> str:
    """A constraint value (``minimum``, ``enum`` item) as the typed SQL value of ``item``."""
    text = value if isinstance(value, str) else json.dumps(value)
    if item.type == "boolean" and isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return sql.value.replace(sql.column, sql_string(text))
