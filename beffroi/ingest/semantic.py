"""Semantic types of a column: what its values *are* (an INSEE code, a SIRET, an e-mail…).

Detection looks at the column's DISTINCT values only (at most ``max_distinct``, 5,000 by
default), with vectorised regular expressions (``pyarrow.compute``); checksums
(Luhn, vectorised with NumPy over a matrix of digits) and the shipped reference
(:func:`beffroi.reference.communes`, loaded lazily on first need, ~20 MB) run over those
distinct candidates only — never over rows.

A label is given when at least ``threshold`` (90 % by default) of the distinct non-null values
are recognised; the *confidence* is that share. Labels, most specific first:

=====================  ==========================================================================
``siret``              14 digits (spaces allowed), Luhn checksum of the SIRET and of its SIREN —
                       La Poste's establishments (SIREN 356000000), whose SIRET fail Luhn, need
                       a digit sum divisible by 5 (the rule of ``stdnum.fr.siret``)
``siren``              9 digits (spaces allowed), Luhn checksum (as ``stdnum.fr.siren``)
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

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, TypeAlias, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    yield "siret", _count_checked(distinct, _SIRET_LIKE, 14)
    yield "siren", _count_checked(distinct, _SIREN_LIKE, 9)
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


def _count_checked(distinct: Values, pattern: str, width: int) -> int:
    """Values of the right shape (SIRET: 14 digits, SIREN: 9) whose checksum holds."""
    candidates = distinct.filter(pc.match_substring_regex(distinct, pattern))
    if len(candidates) < THRESHOLD * len(distinct):
        return 0  # cannot reach the threshold: spare the checksums
    return int(np.count_nonzero(valid_identifiers(candidates, width)))


def valid_identifiers(values: Values, width: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """For text values of ``width`` ASCII digits once spaces are removed (the shape the
    patterns check), whether each is a valid SIREN (``width=9``) or SIRET (``width=14``).

    The rules of ``stdnum.fr.siren``/``stdnum.fr.siret``, on a matrix of digits: Luhn
    checksum (every second digit from the right doubled); a SIRET also needs a valid SIREN,
    and La Poste's establishments (SIREN 356000000, but the head office 35600000000048) a
    digit sum divisible by 5 instead of the SIRET's Luhn checksum.
    """
    if len(values) == 0:
        return np.zeros(0, dtype=np.bool_)
    compact = cast("pa.StringArray", pc.replace_substring(values, " ", ""))
    if not pa.types.is_string(compact.type):
        compact = cast("pa.StringArray", pc.cast(compact, pa.string()))
    buffers = compact.buffers()
    offsets = np.frombuffer(memoryview(cast("pa.Buffer", buffers[1])), dtype=np.int32)
    offsets = offsets[compact.offset : compact.offset + len(compact) + 1]
    if not bool(np.all(np.diff(offsets) == width)):
        msg = f"valid_identifiers expects values of {width} digits"
        raise ValueError(msg)
    data = np.frombuffer(memoryview(cast("pa.Buffer", buffers[2])), dtype=np.uint8)
    digits = data[offsets[0] : offsets[-1]].reshape(len(compact), width).astype(np.int16) - 48
    if width == 14:  # a SIRET
        siren = _luhn_valid(digits[:, :9])
        la_poste = np.all(digits[:, :9] == _LA_POSTE, axis=1) & np.any(
            digits != _LA_POSTE_HEAD_OFFICE, axis=1
        )
        own = np.where(la_poste, digits.sum(axis=1) % 5 == 0, _luhn_valid(digits))
        return np.asarray(siren & own, dtype=np.bool_)
    return _luhn_valid(digits)


_LA_POSTE: Final = np.array([3, 5, 6, 0, 0, 0, 0, 0, 0], dtype=np.int16)
_LA_POSTE_HEAD_OFFICE: Final = np.array([int(c) for c in "35600000000048"], dtype=np.int16)


def _luhn_valid(digits: np.ndarray[Any, np.dtype[np.int16]]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Luhn checksum of each row of a digit matrix (most significant digit first)."""
    reversed_digits = digits[:, ::-1]
    doubled = reversed_digits[:, 1::2] * 2
    doubled = doubled - np.where(doubled > 9, 9, 0)
    total = reversed_digits[:, 0::2].sum(axis=1) + doubled.sum(axis=1)
    return np.asarray(total % 10 == 0, dtype=np.bool_)


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
