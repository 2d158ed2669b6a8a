"""INSEE COG communes, départements, régions and EPCI, read from the files shipped in ``data/``.

The files are built by ``scripts/build_reference.py`` (see ``data/SOURCES.md`` for sources,
vintages and known gaps). Each table is parsed once, on first use, and kept in memory; the
mappings returned are read-only views shared by every caller.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final, Literal

from beffroi.errors import ConfigurationError, NotFoundError

Typecom = Literal["COM", "ARM"]
EpciNature = Literal["CC", "CA", "CU", "METRO", "MET69"]
EpciFinancing = Literal["FPU", "FA"]

VINTAGE: Final[dict[str, int]] = {"cog": 2026, "epci": 2025, "population": 2023}
"""Vintage (millésime) of each part of the shipped reference data."""

ATTRIBUTION: Final = (
    "Sources : INSEE (COG 2026, populations légales 2023), DGCL (BANATIC 2025), "
    "La Poste (codes postaux) — Licence Ouverte 2.0 (Etalab)"
)
"""The attribution line to show wherever the reference data is displayed or exported."""

_TYPECOMS: Final[dict[str, Typecom]] = {"COM": "COM", "ARM": "ARM"}
_NATURES: Final[dict[str, EpciNature]] = {
    "CC": "CC",
    "CA": "CA",
    "CU": "CU",
    "METRO": "METRO",
    "MET69": "MET69",
}
_FINANCINGS: Final[dict[str, EpciFinancing]] = {"FPU": "FPU", "FA": "FA"}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune (``COM``) or a municipal arrondissement of Paris, Lyon, Marseille (``ARM``).

    ``siren`` and ``epci_siren`` are ``None`` for arrondissements (the commune is the legal
    entity and the EPCI member) and ``epci_siren`` for the 4 island communes outside any EPCI.
    ``population_municipale`` is ``None`` when unknown (Mayotte). ``postal_codes`` are La Poste
    codes, sorted; a commune may have several and a postal code may serve several communes.
    """

    code_insee: str
    name: str
    typecom: Typecom
    departement: str
    region: str
    arrondissement: str | None
    siren: str | None
    epci_siren: str | None
    population_municipale: int | None
    postal_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Epci:
    """An EPCI à fiscalité propre: communauté de communes, d'agglomération, urbaine, métropole.

    ``nature`` is ``CC``, ``CA``, ``CU``, ``METRO`` or ``MET69`` (Métropole de Lyon);
    ``financing`` is ``FPU`` (fiscalité professionnelle unique) or ``FA`` (additionnelle).
    ``population_municipale`` is the sum of the members' and ``None`` when one is unknown.
    """

    siren: str
    name: str
    nature: EpciNature
    financing: EpciFinancing
    seat_departement: str
    member_count: int
    population_municipale: int | None


@dataclass(frozen=True, slots=True)
class Departement:
    """A département (``01`` … ``95``, ``2A``, ``2B``, ``971`` … ``976``)."""

    code: str
    region: str
    name: str
    chef_lieu: str


@dataclass(frozen=True, slots=True)
class Region:
    """A région, with the INSEE code of its chef-lieu commune."""

    code: str
    name: str
    chef_lieu: str


def _read(name: str) -> Iterator[dict[str, str]]:
    """The rows of one shipped gzipped CSV file, streamed (never all held at once)."""
    resource = resources.files("beffroi.reference").joinpath("data", name)
    try:
        with (
            resource.open("rb") as raw,
            gzip.GzipFile(fileobj=raw, mode="rb") as unzipped,
            io.TextIOWrapper(unzipped, encoding="utf-8", newline="") as text,
        ):
            # Repeated values (département, région, EPCI SIREN…) are interned to save memory.
            for row in csv.DictReader(text):
                yield {key: sys.intern(value) for key, value in row.items()}
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"Fichier de référence absent / missing reference file: {name}",
            hint="reinstall Beffroi, or run `python scripts/build_reference.py` in a checkout",
        ) from exc


def _optional(value: str) -> str | None:
    return value or None


def _optional_int(value: str) -> int | None:
    return int(value) if value else None


def _fold(text: str) -> str:
    """Lower-case, accent-free, punctuation collapsed to single spaces (for search and sort)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", stripped.replace("œ", "oe").replace("æ", "ae")).strip()


@cache
def _communes() -> Mapping[str, Commune]:
    index = {
        row["code_insee"]: Commune(
            code_insee=row["code_insee"],
            name=row["name"],
            typecom=_TYPECOMS[row["typecom"]],
            departement=row["departement"],
            region=row["region"],
            arrondissement=_optional(row["arrondissement"]),
            siren=_optional(row["siren"]),
            epci_siren=_optional(row["epci_siren"]),
            population_municipale=_optional_int(row["population_municipale"]),
            postal_codes=tuple(row["postal_codes"].split()),
        )
        for row in _read("communes.csv.gz")
    }
    return MappingProxyType(index)


@cache
def _epcis() -> Mapping[str, Epci]:
    index = {
        row["siren"]: Epci(
            siren=row["siren"],
            name=row["name"],
            nature=_NATURES[row["nature"]],
            financing=_FINANCINGS[row["financing"]],
            seat_departement=row["seat_departement"],
            member_count=int(row["member_count"]),
            population_municipale=_optional_int(row["population_municipale"]),
        )
        for row in _read("epci.csv.gz")
    }
    return MappingProxyType(index)


@cache
def _departements() -> Mapping[str, Departement]:
    index = {
        row["code"]: Departement(
            code=row["code"], region=row["region"], name=row["name"], chef_lieu=row["chef_lieu"]
        )
        for row in _read("departements.csv.gz")
    }
    return MappingProxyType(index)


@cache
def _regions() -> Mapping[str, Region]:
    index = {
        row["code"]: Region(code=row["code"], name=row["name"], chef_lieu=row["chef_lieu"])
        for row in _read("regions.csv.gz")
    }
    return MappingProxyType(index)


@cache
def _members() -> Mapping[str, tuple[Commune, ...]]:
    grouped: defaultdict[str, list[Commune]] = defaultdict(list)
    for item in _communes().values():
        if item.typecom == "COM" and item.epci_siren is not None:
            grouped[item.epci_siren].append(item)
    return MappingProxyType(
        {
            siren: tuple(sorted(items, key=lambda c: (_fold(c.name), c.name, c.code_insee)))
            for siren, items in grouped.items()
        }
    )


@cache
def _by_postal_code() -> Mapping[str, tuple[Commune, ...]]:
    grouped: defaultdict[str, list[Commune]] = defaultdict(list)
    for item in _communes().values():
        for postal_code in item.postal_codes:
            grouped[postal_code].append(item)
    return MappingProxyType({code: tuple(items) for code, items in grouped.items()})


@cache
def _folded_epci_names() -> tuple[tuple[str, Epci], ...]:
    return tuple(sorted(((_fold(e.name), e) for e in _epcis().values()), key=lambda p: p[0]))


def communes() -> Mapping[str, Commune]:
    """Every commune and municipal arrondissement of the COG, keyed by INSEE code (read-only)."""
    return _communes()


def epcis() -> Mapping[str, Epci]:
    """Every EPCI à fiscalité propre, keyed by SIREN (read-only)."""
    return _epcis()


def departements() -> Mapping[str, Departement]:
    """Every département, keyed by code (read-only)."""
    return _departements()


def regions() -> Mapping[str, Region]:
    """Every région, keyed by code (read-only)."""
    return _regions()


def _commune_hint(code: str) -> str:
    """Say why *code* is probably wrong: a postal code, a lost leading zero, or a format error."""
    by_postal = _by_postal_code().get(code)
    if by_postal:
        listed = ", ".join(f"{c.code_insee} ({c.name})" for c in by_postal[:5])
        more = "…" if len(by_postal) > 5 else ""
        return (
            f"« {code} » est un code postal, pas un code INSEE / this is a postal code, "
            f"not an INSEE code: {listed}{more}"
        )
    if len(code) == 4 and code.isdigit() and f"0{code}" in _communes():
        return f"zéro initial perdu ? / leading zero lost? Try « 0{code} »"
    if len(code) == 5:
        return (
            "ancienne commune ou code périmé ? Utilisez le code de la commune au COG 2026 / "
            "a former commune? Use the code of the commune in the 2026 COG"
        )
    return (
        "un code INSEE a 5 caractères, ex. « 01053 », « 2A004 », « 97411 » / "
        "an INSEE code has 5 characters"
    )


def commune(code: str) -> Commune:
    """The commune or arrondissement with INSEE *code* (``"01053"``, ``"2A004"``).

    Surrounding spaces are ignored and ``2a``/``2b`` are accepted for Corsica. Raises
    :class:`~beffroi.errors.NotFoundError` naming the code, with a hint when it looks like a
    postal code or lost its leading zero.
    """
    key = code.strip().upper()
    found = _communes().get(key)
    if found is None:
        raise NotFoundError(
            f"Commune inconnue au COG {VINTAGE['cog']} : « {code} » / "
            f"unknown commune in COG {VINTAGE['cog']}: {code!r}",
            hint=_commune_hint(key),
        )
    return found


def epci(siren: str) -> Epci:
    """The EPCI with this 9-digit *siren*; raises :class:`~beffroi.errors.NotFoundError`."""
    key = siren.replace(" ", "")
    found = _epcis().get(key)
    if found is None:
        if len(key) == 9 and key.isdigit():
            hint = (
                f"pas un EPCI à fiscalité propre en {VINTAGE['epci']} (syndicat, commune ?) ; "
                "cherchez par nom avec find_epci() / not an EPCI with own taxation in "
                f"{VINTAGE['epci']}; search by name with find_epci()"
            )
        else:
            hint = "un SIREN a 9 chiffres, ex. « 200071751 » / a SIREN has 9 digits"
        raise NotFoundError(
            f"EPCI inconnu : « {siren} » / unknown EPCI: {siren!r}",
            hint=hint,
        )
    return found


def epci_members(siren: str) -> list[Commune]:
    """The member communes (``COM`` only) of the EPCI *siren*, sorted by name, accents ignored.

    Raises :class:`~beffroi.errors.NotFoundError` when the EPCI is unknown.
    """
    found = epci(siren)
    return list(_members().get(found.siren, ()))


def departement(code: str) -> Departement:
    """The département *code* (``"01"``, ``"2A"``, ``"974"``); raises ``NotFoundError``."""
    key = code.strip().upper()
    found = _departements().get(key)
    if found is None:
        raise NotFoundError(
            f"Département inconnu : « {code} » / unknown département: {code!r}",
            hint="ex. « 01 », « 2A », « 974 » (2 caractères, 3 outre-mer / 3 overseas)",
        )
    return found


def region(code: str) -> Region:
    """The région *code* (``"84"``, ``"94"`` for Corse); raises ``NotFoundError``."""
    key = code.strip()
    found = _regions().get(key)
    if found is None:
        valid = ", ".join(sorted(_regions()))
        raise NotFoundError(
            f"Région inconnue : « {code} » / unknown région: {code!r}",
            hint=f"codes valides / valid codes: {valid}",
        )
    return found


def find_epci(name_query: str) -> list[Epci]:
    """EPCI whose name contains *name_query*, ignoring case, accents and punctuation.

    ``find_epci("saint-malo")`` finds « CA du Pays de Saint Malo Agglomération ». Results are
    sorted by name; a blank query returns an empty list.
    """
    needle = _fold(name_query)
    if not needle:
        return []
    return [item for folded, item in _folded_epci_names() if needle in folded]
