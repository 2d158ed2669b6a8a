"""French custom checks (SIREN, SIRET, INSEE commune code, postal code, RNA), in a registry.

Schemas ask for them the way Validata does, with ``custom_checks``
(``{"name": "french-siret-value", "params": {"column": "siret"}}``), or per field with
``"x-beffroi-checks": ["french-siret-value"]``. Each check is a SQL boolean expression over the
cell text (vectorised like the rest); reference lists are loaded into DuckDB once per run.
"""

from __future__ import annotations

# ruff: noqa: S608 - SQL fragments over generated column names and fixed table names.
import csv
import gzip
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa

from beffroi.reference import cog


def _luhn(digits: str, length: int) -> str:
    """SQL: the Luhn checksum of the ``length``-digit text ``digits`` is valid (unrolled:
    no lambda, a few integer operations per digit)."""
    terms = []
    for position in range(1, length + 1):
        digit = f"(ascii(substr({digits}, {position}, 1)) - 48)"
        if (length - position) % 2 == 1:  # every second digit from the right is doubled
            terms.append(f"({digit} * 2 - CASE WHEN {digit} > 4 THEN 9 ELSE 0 END)")
        else:
            terms.append(digit)
    return f"(({' + '.join(terms)}) % 10 = 0)"


def _digit_sum(digits: str, length: int) -> str:
    return " + ".join(f"(ascii(substr({digits}, {p}, 1)) - 48)" for p in range(1, length + 1))


def _compact(c: str) -> str:
    return f"regexp_replace({c}, '[ .]', '', 'g')"


def siren_sql(c: str, _params: dict[str, Any]) -> str:
    """A SIREN: 9 digits, Luhn checksum."""
    d = _compact(c)
    return f"CASE WHEN regexp_full_match({d}, '\\d{{9}}') THEN {_luhn(d, 9)} ELSE FALSE END"


def siret_sql(c: str, _params: dict[str, Any]) -> str:
    """A SIRET: 14 digits, Luhn checksum of the SIRET and of its SIREN; La Poste's
    establishments (SIREN 356000000, but its head office): digit sum divisible by 5 (as
    python-stdnum, which Validata uses)."""
    d = _compact(c)
    poste = f"(({_digit_sum(d, 14)}) % 5 = 0)"
    siren = f"substr({d}, 1, 9)"
    regular = f"({_luhn(d, 14)} AND {_luhn(siren, 9)})"
    return (
        f"CASE WHEN regexp_full_match({d}, '\\d{{14}}') THEN "
        f"CASE WHEN starts_with({d}, '356000000') AND {d} <> '35600000000048' THEN {poste} "
        f"ELSE {regular} END ELSE FALSE END"
    )


def commune_sql(c: str, _params: dict[str, Any]) -> str:
    """An INSEE code of a current commune (COG 2026)."""
    return f"({c} IN (SELECT code FROM ref_communes))"


def postal_sql(c: str, _params: dict[str, Any]) -> str:
    """A La Poste postal code in use."""
    return f"({c} IN (SELECT code FROM ref_postal_codes))"


def rna_sql(c: str, _params: dict[str, Any]) -> str:
    """An RNA association number: W, then 9 characters (département, then digits)."""
    return f"regexp_full_match({c}, 'W[0-9][0-9AB][0-9]{{7}}')"


@cache
def successors() -> dict[str, tuple[str, str]]:
    """Former INSEE commune code → (current code, date of the change)."""
    data = resources.files("beffroi.validate").joinpath("data", "communes-successeurs.csv.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8", newline="") as text:
        return {
            row["code_ancien"]: (row["code_actuel"], row["date_effet"])
            for row in csv.DictReader(io.StringIO(text.read()))
        }


def _commune_explain(cell: str) -> tuple[str, str, str]:
    found = successors().get(cell)
    if found is not None:
        code, date = found
        current = cog.communes().get(code)
        name = f" ({current.name})" if current else ""
        return (
            f"n'est plus un code de commune depuis le {date} : elle a rejoint {code}{name}",
            f"is no longer a commune code since {date}: it merged into {code}{name}",
            f"Utilisez le code de la commune actuelle : {code}{name}.",
        )
    return (
        "n'est pas un code INSEE de commune (COG 2026)",
        "is not an INSEE commune code (COG 2026)",
        (
            "Utilisez le code INSEE à 5 caractères de la commune (par ex. 56121), pas son "
            "code postal ; voir https://www.insee.fr/fr/recherche/recherche-geographique."
        ),
    )


@dataclass(frozen=True, slots=True)
class CustomCheck:
    """One custom check: its code (the Validata check name), SQL and explanations."""

    code: str
    title: str
    sql: Callable[[str, dict[str, Any]], str]
    note: str
    note_en: str
    fix: str
    explain_cell: Callable[[str], tuple[str, str, str]] | None = None

    def explain(self, cell: str) -> tuple[str, str, str]:
        """(note, English note, how to fix) for one bad cell."""
        if self.explain_cell is not None:
            return self.explain_cell(cell)
        return self.note, self.note_en, self.fix


CUSTOM_CHECKS: dict[str, CustomCheck] = {
    check.code: check
    for check in (
        CustomCheck(
            "french-siren-value",
            "SIREN invalide",
            siren_sql,
            "n'est pas un SIREN valide (9 chiffres, clé de Luhn)",
            "is not a valid SIREN (9 digits, Luhn checksum)",
            "Recopiez le SIREN à 9 chiffres depuis https://annuaire-entreprises.data.gouv.fr.",
        ),
        CustomCheck(
            "french-siret-value",
            "SIRET invalide",
            siret_sql,
            "n'est pas un SIRET valide (14 chiffres, clé de Luhn)",
            "is not a valid SIRET (14 digits, Luhn checksum)",
            "Recopiez le SIRET à 14 chiffres (SIREN + NIC) depuis "
            "https://annuaire-entreprises.data.gouv.fr.",
        ),
        CustomCheck(
            "french-insee-commune-value",
            "Code commune inconnu",
            commune_sql,
            "n'est pas un code INSEE de commune (COG 2026)",
            "is not an INSEE commune code",
            "Utilisez le code INSEE à 5 caractères de la commune.",
            _commune_explain,
        ),
        CustomCheck(
            "french-postal-code-value",
            "Code postal inconnu",
            postal_sql,
            "n'est pas un code postal en usage",
            "is not a postal code in use",
            "Vérifiez le code postal à 5 chiffres (base officielle de La Poste).",
        ),
        CustomCheck(
            "french-rna-value",
            "Numéro RNA invalide",
            rna_sql,
            "n'est pas un numéro RNA (W suivi de 9 caractères)",
            "is not an RNA number (W and 9 characters)",
            "Recopiez le numéro RNA de l'association (par ex. W561234567) depuis "
            "https://www.journal-officiel.gouv.fr/associations.",
        ),
    )
}
"""Every custom check, by code."""


NEEDS_REFERENCE = frozenset({"french-insee-commune-value", "french-postal-code-value"})
"""Checks that query :func:`reference_tables`."""


def reference_tables() -> dict[str, list[str]]:
    """The reference lists the checks query: communes and postal codes in use."""
    communes = cog.communes()
    postal = sorted({code for commune in communes.values() for code in commune.postal_codes})
    return {"ref_communes": sorted(communes), "ref_postal_codes": postal}


REFERENCE_TABLES = ("ref:communes", "ref:epci", "ref:departements", "ref:regions")
"""Reference data a foreign key may point to (``"reference": {"resource": "ref:communes",
"fields": ["code_insee"]}``): the shipped COG, whatever the instance."""


def reference_table(name: str, fields: Sequence[str]) -> pa.Table | None:
    """The columns ``fields`` of a shipped reference table, as text (``None``: unknown)."""
    rows: list[Any]
    if name == "ref:communes":
        rows = list(cog.communes().values())
    elif name == "ref:epci":
        rows = list(cog.epcis().values())
    elif name == "ref:departements":
        rows = list(cog.departements().values())
    elif name == "ref:regions":
        rows = list(cog.regions().values())
    else:
        return None
    if not rows or not all(hasattr(rows[0], f) for f in fields):
        return None
    return pa.table(
        {
            f: pa.array([None if (v := getattr(r, f)) is None else str(v) for r in rows])
            for f in fields
        }
    )
