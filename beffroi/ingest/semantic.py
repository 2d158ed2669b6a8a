"""Semantic types of a column: what its values *are* (an INSEE code, a SIRET, an e-mail…).

Detection looks at the column's DISTINCT values only (at most ``max_distinct``, 5,000 by
default), with vectorised regular expressions (``pyarrow.compute``); checksums
(``python-stdnum``) and the shipped reference (:func:`beffroi.reference.communes`, loaded lazily
on first need, ~20 MB) run in Python over those distinct candidates only — never over rows.

A label is given when at least ``threshold`` (90 % by default) of the distinct non-null values
are recognised; the *confidence* is that share. Labels, most specific first:

=====================  ==========================================================================
``siret``              14 digits (spaces allowed), Luhn checksum — La Poste's establishments,
                       whose SIRET fail Luhn, are accepted by ``stdnum.fr.siret``
``siren``              9 digits (spaces allowed), Luhn checksum (``stdnum.fr.siren``)
``rna``                Répertoire national des associations: ``W`` + 9 characters
                       (``W751234567``; the département part may be ``2A``/``2B``)
``code_commune_insee`` 5 characters, a valid département prefix (``01`` to ``95``, ``2A``, ``2B``,
                       ``97x``), checked against the COG when ``use_reference``
``code_postal``        5 digits in 01000 to 98890, checked against La Poste codes of the COG
``code_departement``   ``01`` to ``95``, ``2A``, ``2B``, ``971`` to ``976`` — only when the header
                       says so (``dep``, ``departement``…): two digits alone mean little
``email``              ``local@domain.tld``
``url``                ``http(s)://…``, ``ftp://…`` or ``www.…``
``telephone``          French numbers: ``0X XX XX XX XX``, ``+33 X …``, ``0033…`` (separators
                       space, ``.`` or ``-``)
``latitude``           numeric column named ``lat``, ``latitude``, ``y``… with values in ±90
``longitude``          numeric column named ``lon``, ``lng``, ``longitude``, ``x``… in ±180
=====================  ==========================================================================

INSEE and postal codes look alike (``13001`` is both Aix-en-Provence and Marseille 1er): the
reference decides, then the header (``cp``, ``postal`` vs ``insee``, ``cog``, ``commune``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, TypeAlias, cast

import pyarrow as pa
import pyarrow.compute as pc
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from beffroi.ingest.names import name_tokens

Values: TypeAlias = "pa.Array[Any]"
ChunkedValues: TypeAlias = "pa.ChunkedArray[Any]"

MAX_DISTINCT: Final = 5_000
THRESHOLD: Final = 0.9

# Identifiers whose values must stay text (leading zeros, checksums).
CODE_LABELS: Final = frozenset(
    {"siret", "siren", "rna", "code_commune_insee", "code_postal", "code_departement", "telephone"}
)
LABELS: Final = (
    "siret",
    "siren",
    "rna",
    "code_commune_insee",
    "code_postal",
    "code_departement",
    "email",
    "url",
    "telephone",
    "latitude",
    "longitude",
)

_SIREN_LIKE: Final = r"^\d{3} ?\d{3} ?\d{3}$"
_SIRET_LIKE: Final = r"^\d{3} ?\d{3} ?\d{3} ?\d{5}$"
_RNA: Final = r"^W\d[\dAB]\d{7}$"
_INSEE_SHAPE: Final = r"^(?:0[1-9]|[1-8]\d|9[0-5]|2[AB])\d{3}$|^97[1-6]\d{2}$"
_POSTAL_SHAPE: Final = r"^(?:0[1-9]|[1-8]\d|9[0-8])\d{3}$"
_DEPARTEMENT: Final = r"^(?:0[1-9]|[1-8]\d|9[0-5]|2[AB]|97[1-6])$"
_EMAIL: Final = r"^[A-Za-z0-9._%+'\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$"  # noqa: E501
_URL: Final = r"^(?i:(?:https?|ftp)://[^\s/?#]+\.[^\s/?#]+|www\.[^\s/?#]+\.[^\s/?#]+)[^\s]*$"
_PHONE: Final = (
    r"^(?:(?:\+|00)33[ .\-]?(?:\(0\)[ .\-]?)?[1-9]|0[1-9])(?:[ .\-]?\d{2}){4}$"
    r"|^(?:\+|00)(?:262|269|508|590|594|596|681|687|689)[ .\-]?\d(?:[ .\-]?\d{2}){4}$"
)
_POSTAL_MIN, _POSTAL_MAX = "01000", "98890"

_LATITUDE_NAMES: Final = frozenset({"lat", "latitude", "ylat", "ylatitude", "y", "lati"})
_LONGITUDE_NAMES: Final = frozenset(
    {"lon", "lng", "long", "longitude", "xlong", "xlon", "xlongitude", "x", "longi"}
)
_INSEE_HEADER: Final = frozenset(
    {"insee", "cog", "codgeo", "depcom", "codcom", "numcom", "commune", "com", "codecommune"}
)
_POSTAL_HEADER: Final = frozenset({"cp", "postal", "codepostal", "zip", "zipcode", "postcode"})
_DEPARTEMENT_HEADER: Final = frozenset(
    {"dep", "dept", "departement", "numdep", "coddep", "codedepartement"}
)


@dataclass(frozen=True, slots=True)
class SemanticType:
    """A detected semantic type: its ``label`` (one of :data:`LABELS`) and the share of
    distinct non-null values that fit it (``confidence``, from 0 to 1)."""

    label: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"label": self.label, "confidence": round(self.confidence, 4)}


def distinct_values(values: Values | ChunkedValues, limit: int = MAX_DISTINCT) -> Values:
    """The first ``limit`` distinct non-null values (text trimmed), as one array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = pc.utf8_trim_whitespace(values)
        values = values.filter(pc.not_equal(values, pa.scalar("")))
    unique = pc.unique(values.drop_null())
    return unique.slice(0, limit) if len(unique) > limit else unique


def detect(
    values: Values | ChunkedValues,
    name: str = "",
    *,
    use_reference: bool = True,
    max_distinct: int = MAX_DISTINCT,
    threshold: float = THRESHOLD,
) -> SemanticType | None:
    """The semantic type of a column, or ``None`` when no label reaches ``threshold``.

    ``values`` may be raw text (trimmed here) or a typed column (only latitude/longitude
    apply to numbers). ``name`` is the header, used for latitude/longitude, to tell INSEE
    from postal codes and for département codes. ``use_reference=False`` skips the COG
    look-up (structure only).
    """
    distinct = distinct_values(values, max_distinct)
    if len(distinct) == 0:
        return None
    tokens = set(name_tokens(name))
    if pa.types.is_integer(distinct.type) or pa.types.is_floating(distinct.type):
        return _detect_coordinate(distinct, tokens, threshold)
    if not (pa.types.is_string(distinct.type) or pa.types.is_large_string(distinct.type)):
        return None
    total = len(distinct)
    for label, share in _text_candidates(distinct, tokens, use_reference=use_reference):
        if share / total >= threshold:
            return SemanticType(label, share / total)
    return None


def _text_candidates(
    distinct: Values, tokens: set[str], *, use_reference: bool
) -> Iterable[tuple[str, int]]:
    """(label, number of distinct values recognised), most specific label first, lazily."""
    yield "siret", _count_checked(distinct, _SIRET_LIKE, stdnum_siret.is_valid)
    yield "siren", _count_checked(distinct, _SIREN_LIKE, stdnum_siren.is_valid)
    yield "rna", _count(distinct, _RNA)
    yield from _commune_or_postal(distinct, tokens, use_reference=use_reference)
    if tokens & _DEPARTEMENT_HEADER:
        yield "code_departement", _count(distinct, _DEPARTEMENT)
    yield "email", _count(distinct, _EMAIL)
    yield "url", _count(distinct, _URL)
    yield "telephone", _count(distinct, _PHONE)


def _commune_or_postal(
    distinct: Values, tokens: set[str], *, use_reference: bool
) -> Iterable[tuple[str, int]]:
    lengths: Values = pc.utf8_length(cast("pa.StringArray", distinct))
    five = distinct.filter(pc.equal(lengths, pa.scalar(5, lengths.type)))
    if len(five) < THRESHOLD * len(distinct):
        return
    insee_shape = five.filter(pc.match_substring_regex(five, _INSEE_SHAPE))
    postal_shape = five.filter(
        pc.and_(
            pc.match_substring_regex(five, _POSTAL_SHAPE),
            pc.and_(
                pc.greater_equal(five, pa.scalar(_POSTAL_MIN)),
                pc.less_equal(five, pa.scalar(_POSTAL_MAX)),
            ),
        )
    )
    says_insee = bool(tokens & _INSEE_HEADER) or any(t.startswith("codecom") for t in tokens)
    says_postal = bool(tokens & _POSTAL_HEADER)
    if use_reference:
        insee = _count_in(insee_shape, _insee_codes())
        postal = _count_in(postal_shape, _postal_codes())
        # Codes of communes merged since the file was made are not in today's COG: when the
        # header names INSEE codes, the shape alone is enough.
        if says_insee:
            insee = max(insee, len(insee_shape))
        if says_postal:
            postal = max(postal, len(postal_shape))
    else:
        insee, postal = len(insee_shape), len(postal_shape)
    if says_postal and not says_insee:
        order = [("code_postal", postal), ("code_commune_insee", insee)]
    elif says_insee or insee > postal or insee == postal:
        order = [("code_commune_insee", insee), ("code_postal", postal)]
    else:
        order = [("code_postal", postal), ("code_commune_insee", insee)]
    yield from order


def _detect_coordinate(distinct: Values, tokens: set[str], threshold: float) -> SemanticType | None:
    if tokens & _LATITUDE_NAMES:
        label, bound = "latitude", 90.0
    elif tokens & _LONGITUDE_NAMES:
        label, bound = "longitude", 180.0
    else:
        return None
    as_float = pc.cast(distinct, pa.float64())
    low, high = pa.scalar(-bound), pa.scalar(bound)
    inside = _true_count(pc.and_(pc.greater_equal(as_float, low), pc.less_equal(as_float, high)))
    share = inside / len(distinct)
    return SemanticType(label, share) if share >= threshold else None


def _count(distinct: Values, pattern: str) -> int:
    return _true_count(pc.match_substring_regex(distinct, pattern))


def _count_checked(distinct: Values, pattern: str, is_valid: Callable[[str], bool]) -> int:
    """Values of the right shape whose checksum holds (Python over distinct candidates)."""
    candidates = distinct.filter(pc.match_substring_regex(distinct, pattern))
    if len(candidates) < THRESHOLD * len(distinct):
        return 0  # cannot reach the threshold: spare the checksums
    return sum(1 for value in cast("list[str]", candidates.to_pylist()) if is_valid(value))


def _count_in(values: Values, reference: Values) -> int:
    if len(values) == 0:
        return 0
    return _true_count(pc.is_in(values, value_set=reference))


def _true_count(mask: Values) -> int:
    """How many values of a boolean array are true."""
    return int(cast("pa.BooleanArray", mask).true_count)


@cache
def _insee_codes() -> Values:
    # Imported here: the COG costs ~20 MB once loaded, only when a 5-digit column shows up.
    from beffroi.reference import communes  # noqa: PLC0415

    return pa.array(sorted(communes()), pa.string())


@cache
def _postal_codes() -> Values:
    from beffroi.reference import communes  # noqa: PLC0415

    codes = {code for commune in communes().values() for code in commune.postal_codes}
    return pa.array(sorted(codes), pa.string())


def is_code_like(label: str | None) -> bool:
    """True for labels whose values are identifiers that must stay text (leading zeros,
    checksums): INSEE and postal codes, SIREN, SIRET, RNA, telephone numbers."""
    return label in CODE_LABELS
