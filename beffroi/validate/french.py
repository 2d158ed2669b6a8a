"""French custom checks (SIREN, SIRET, INSEE commune code, postal code, RNA), in a registry.

Schemas ask for them the way Validata does, with ``custom_checks``
(``{"name": "french-siret-value", "params": {"column": "siret"}}``), or per field with
``"x-beffroi-checks": ["french-siret-value"]``. Each check is a SQL boolean expression over the
cell text (vectorised like the rest); reference lists are loaded into DuckDB once per run.
SIREN and SIRET checksums are computed before DuckDB, on the digits of a whole Arrow batch at
once (NumPy arithmetic over a digits-by-cells matrix): the same Luhn sums written in SQL cost
0.4 to 0.6 s of CPU per million cells, the matrix a tenth of that.
"""

from __future__ import annotations

# ruff: noqa: S608 - SQL fragments over generated column names and fixed table names.
import csv
import gzip
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa

from beffroi.ingest.cells import cells_of_width, rows_all, string_layout
from beffroi.reference import cog


def _compact(c: str) -> str:
    return f"regexp_replace({c}, '[ .]', '', 'g')"


def digits_value(c: str, length: int) -> str:
    """SQL: the ``length``-digit identifier in the cell (spaces and dots allowed) as an
    integer, null when it is not one — computed once per cell, then checked arithmetically."""
    digits = f"\\d{{{length}}}"
    compact = _compact(c)
    return (
        f"CASE WHEN regexp_full_match({c}, '{digits}') THEN CAST({c} AS BIGINT) "
        f"WHEN regexp_full_match({compact}, '{digits}') THEN CAST({compact} AS BIGINT) END"
    )


def _luhn_int(n: str, length: int) -> str:
    """SQL: the Luhn checksum of the ``length``-digit integer ``n`` is valid."""
    terms = []
    for k in range(length):  # k-th digit from the right; every second one is doubled
        digit = f"(({n} // {10**k}) % 10)" if k else f"({n} % 10)"
        terms.append(f"(2 * {digit} - CASE WHEN {digit} > 4 THEN 9 ELSE 0 END)" if k % 2 else digit)
    return f"(({' + '.join(terms)}) % 10 = 0)"


def verdict_sql(verdict: str, _params: dict[str, Any]) -> str:
    """A check whose verdict per cell was computed before DuckDB (``vector``)."""
    return f"COALESCE({verdict}, FALSE)"


def siren_sql(n: str, _params: dict[str, Any]) -> str:
    """A SIREN (``n``: :func:`digits_value` of 9): Luhn checksum."""
    return f"({n} IS NOT NULL AND {_luhn_int(n, 9)})"


def siret_sql(n: str, _params: dict[str, Any]) -> str:
    """A SIRET (``n``: :func:`digits_value` of 14): Luhn checksum of the SIRET and of its
    SIREN; La Poste's establishments (SIREN 356000000, but its head office): digit sum
    divisible by 5 — python-stdnum's rule, which Validata uses."""
    digit_sum = " + ".join(f"(({n} // {10**k}) % 10)" for k in range(14))
    siren = f"({n} // 100000)"
    return (
        f"({n} IS NOT NULL AND CASE WHEN {siren} = 356000000 AND {n} <> 35600000000048 "
        f"THEN ({digit_sum}) % 5 = 0 ELSE {_luhn_int(n, 14)} AND {_luhn_int(siren, 9)} END)"
    )


# ------------------------------------------------------------------------------------------
# SIREN and SIRET on digit vectors

_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)  # Luhn: 2d, digits summed
_SEPARATORS = re.compile(r"[ .]")
_LA_POSTE = np.array([3, 5, 6, 0, 0, 0, 0, 0, 0], dtype=np.uint8)
_LA_POSTE_HEAD_OFFICE = np.array([3, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8], dtype=np.uint8)


def _luhn_ok(digits: np.ndarray) -> np.ndarray:
    """Per column of a digits-by-cells matrix: the Luhn checksum holds (from the right,
    every second digit doubled). Cells are columns so that each step is one contiguous
    vector operation."""
    width = digits.shape[0]
    doubled = np.arange(width)[::-1] % 2 == 1
    total = digits[~doubled].sum(axis=0, dtype=np.uint16)
    total += _DOUBLED[digits[doubled]].sum(axis=0, dtype=np.uint16)
    ok: np.ndarray = np.asarray(total % 10 == 0)
    return ok


def siren_digits_ok(digits: np.ndarray) -> np.ndarray:
    """SIREN (columns of 9 digits): Luhn checksum."""
    return _luhn_ok(digits)


def siret_digits_ok(digits: np.ndarray) -> np.ndarray:
    """SIRET (columns of 14 digits): Luhn checksum of the SIRET and of its SIREN; La Poste's
    establishments (SIREN 356000000, but its head office): digit sum divisible by 5 —
    python-stdnum's rule, which Validata uses."""
    ok: np.ndarray = _luhn_ok(digits) & _luhn_ok(digits[:9])
    poste = (digits[:9] == _LA_POSTE[:, None]).all(axis=0)
    if poste.any():
        poste &= ~(digits == _LA_POSTE_HEAD_OFFICE[:, None]).all(axis=0)
        ok[poste] = digits[:, poste].sum(axis=0, dtype=np.uint16) % 5 == 0
    return ok


def digits_check(
    length: int, verdict: Callable[[np.ndarray], np.ndarray]
) -> Callable[[pa.Array[Any]], pa.Array[Any]]:
    """A vectorised check of ``length``-digit identifiers (spaces and dots allowed): the
    verdict per cell, ``False`` for a cell that is not such an identifier. ``verdict`` gets
    the digits as a ``length``-by-cells matrix."""
    pattern = re.compile(f"[0-9]{{{length}}}")

    def check(values: Any) -> pa.Array[Any]:
        values, offsets, data, sizes = string_layout(values)
        count = len(values)
        verdicts = np.zeros(count, dtype=bool)
        if count == 0:
            return pa.array(verdicts)
        present = values.is_valid().to_numpy(zero_copy_only=False)
        # The common case: exactly ``length`` bytes, all ASCII digits, checked in bulk.
        fast, cells = cells_of_width(offsets, data, present & (sizes == length), length)
        digits = np.subtract(cells, np.uint8(48))  # '0' → 0; other bytes wrap above 9
        numeric = rows_all(digits <= np.uint8(9))
        if not numeric.all():
            fast, digits = fast[numeric], digits[numeric]
        verdicts[fast] = verdict(np.ascontiguousarray(digits.T))  # digits by cells
        # Longer cells may hold spaces or dots (shorter ones cannot match): one by one.
        for row in np.flatnonzero(present & (sizes > length)):
            compact = _SEPARATORS.sub("", values[int(row)].as_py())
            if pattern.fullmatch(compact):
                column = np.frombuffer(compact.encode("ascii"), np.uint8) - np.uint8(48)
                verdicts[row] = bool(verdict(column[:, None])[0])
        return pa.array(verdicts)

    return check


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
    prepare: Callable[[str], str] | None = None  # per-cell value the SQL then tests
    # Or the per-cell value computed on each Arrow batch before DuckDB (the SQL tests it).
    vector: Callable[[pa.Array[Any]], pa.Array[Any]] | None = None

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
            verdict_sql,
            "n'est pas un SIREN valide (9 chiffres, clé de Luhn)",
            "is not a valid SIREN (9 digits, Luhn checksum)",
            "Recopiez le SIREN à 9 chiffres depuis https://annuaire-entreprises.data.gouv.fr.",
            vector=digits_check(9, siren_digits_ok),
        ),
        CustomCheck(
            "french-siret-value",
            "SIRET invalide",
            verdict_sql,
            "n'est pas un SIRET valide (14 chiffres, clé de Luhn)",
            "is not a valid SIRET (14 digits, Luhn checksum)",
            "Recopiez le SIRET à 14 chiffres (SIREN + NIC) depuis "
            "https://annuaire-entreprises.data.gouv.fr.",
            vector=digits_check(14, siret_digits_ok),
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
