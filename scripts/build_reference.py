"""Build the reference data shipped in ``beffroi/reference/data/`` from the shared source files.

Usage::

    python scripts/build_reference.py [--source DIR] [--output DIR]

``--source`` defaults to ``../shared/data/reference`` beside the repository, ``--output`` to
``beffroi/reference/data``. The output is deterministic: rows are sorted, CSVs use ``\\n`` line
endings and gzip headers carry no file name and ``mtime=0``, so a rerun on the same sources gives
byte-identical files (a unit test checks it). The product only ever reads the packaged files.

Stdlib only. Every consistency check that fails stops the build with a message naming the row.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from beffroi.reference.update import (
    COMMUNE_COLUMNS,
    DEPARTEMENT_COLUMNS,
    EPCI_COLUMNS,
    REGION_COLUMNS,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "reference"
DEFAULT_OUTPUT = REPO_ROOT / "beffroi" / "reference" / "data"

COG_VINTAGE = 2026
EPCI_VINTAGE = 2025
POPULATION_VINTAGE = 2023
POSTAL_VINTAGE = 2020


EPCI_NATURES = frozenset({"CC", "CA", "CU", "METRO", "MET69"})
# Communes whose population is published per municipal arrondissement (ARM) only.
PLM_COMMUNES = {"75056": "751", "69123": "6938", "13055": "132"}


class BuildError(Exception):
    """A source file is missing or inconsistent."""


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    """Read a UTF-8 CSV (BOM tolerated) into a list of dicts of strings."""
    if not path.is_file():
        raise BuildError(f"missing source file: {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def require(condition: bool, message: str) -> None:
    """Stop the build with *message* when *condition* is false."""
    if not condition:
        raise BuildError(message)


def gzip_csv(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """Serialise rows as CSV and gzip them reproducibly (no file name, mtime 0)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    return raw.getvalue()


def build_regions(source: Path) -> list[list[str]]:
    rows = read_csv(source / "insee-cog" / "regions.csv")
    out = [[r["REG"], r["LIBELLE"], r["CHEFLIEU"]] for r in rows]
    return sorted(out)


def build_departements(source: Path, region_codes: set[str]) -> list[list[str]]:
    rows = read_csv(source / "insee-cog" / "departements.csv")
    out = []
    for r in rows:
        require(r["REG"] in region_codes, f"département {r['DEP']}: unknown region {r['REG']}")
        out.append([r["DEP"], r["REG"], r["LIBELLE"], r["CHEFLIEU"]])
    return sorted(out)


def build_communes(source: Path, departements: dict[str, str]) -> list[list[str]]:
    """One row per COM and ARM of the COG, with SIREN, EPCI, population and postal codes."""
    rows = read_csv(source / "derived" / "communes-reference.csv")
    cog = read_csv(source / "insee-cog" / "communes.csv")
    cog_codes = {r["COM"] for r in cog if r["TYPECOM"] in {"COM", "ARM"}}
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for r in rows:
        code = r["code_insee"]
        require(len(code) == 5, f"commune {code!r}: INSEE code is not 5 characters")
        require(code not in seen, f"commune {code}: duplicate row")
        seen.add(code)
        typecom = r["typecom"]
        require(typecom in {"COM", "ARM"}, f"commune {code}: unexpected typecom {typecom!r}")
        dep = r["code_departement"]
        require(departements.get(dep) == r["code_region"], f"commune {code}: bad dep/region")
        siren = r["siren_commune"]
        require(
            (len(siren) == 9 and siren.isdigit()) if typecom == "COM" else siren == "",
            f"commune {code}: bad SIREN {siren!r}",
        )
        postal = sorted(set(filter(None, r["codes_postaux_2020"].split("|"))))
        out[code] = [
            code,
            r["nom"],
            typecom,
            dep,
            r["code_region"],
            r["code_arrondissement"],
            siren,
            r["epci_siren"],
            r["population_municipale"],
            " ".join(postal),
        ]
    require(set(out) == cog_codes, "communes-reference.csv and insee-cog/communes.csv disagree")
    # Paris, Lyon and Marseille: the sources give population and postal codes per arrondissement
    # only. Population municipale is additive, so the commune gets the sum of its arrondissements.
    for parent, prefix in PLM_COMMUNES.items():
        arms = [row for code, row in out.items() if row[2] == "ARM" and code.startswith(prefix)]
        require(bool(arms), f"no arrondissement found for {parent}")
        row = out[parent]
        if not row[8]:
            require(all(a[8] for a in arms), f"{parent}: an arrondissement lacks a population")
            row[8] = str(sum(int(a[8]) for a in arms))
        if not row[9]:
            row[9] = " ".join(sorted({cp for a in arms for cp in a[9].split()}))
    return [out[code] for code in sorted(out)]


def build_epcis(source: Path, communes: list[list[str]]) -> list[list[str]]:
    """One row per EPCI à fiscalité propre; population is the sum of its members' (2023)."""
    rows = read_csv(source / "derived" / "epci-2025.csv")
    members: dict[str, list[list[str]]] = defaultdict(list)
    for c in communes:
        if c[2] == "COM" and c[7]:
            members[c[7]].append(c)
    out = []
    for r in rows:
        siren = r["epci_siren"]
        require(len(siren) == 9 and siren.isdigit(), f"EPCI {siren!r}: bad SIREN")
        require(r["nature_juridique"] in EPCI_NATURES, f"EPCI {siren}: bad nature")
        count = int(r["nb_membres"])
        mine = members.pop(siren, [])
        require(
            len(mine) == count,
            f"EPCI {siren}: {count} members announced, {len(mine)} communes point to it",
        )
        pops = [c[8] for c in mine]
        population = str(sum(int(p) for p in pops)) if all(pops) else ""
        out.append(
            [
                siren,
                r["epci_nom"],
                r["nature_juridique"],
                r["mode_financement"],
                r["departement_siege"],
                str(count),
                population,
            ]
        )
    require(not members, f"communes point to unknown EPCIs: {sorted(members)[:5]}")
    return sorted(out)


def sources_md(communes: list[list[str]], epcis: list[list[str]], deps: int, regions: int) -> str:
    """The attribution and provenance note shipped beside the data."""
    typecoms = Counter(c[2] for c in communes)
    no_epci = sorted(f"{c[0]} {c[1]}" for c in communes if c[2] == "COM" and not c[7])
    no_pop = sorted(c[0] for c in communes if not c[8])
    no_postal = sorted(f"{c[0]} {c[1]}" for c in communes if not c[9])
    no_arr = sum(1 for c in communes if not c[5])
    epci_no_pop = sorted(f"{e[0]} {e[1]}" for e in epcis if not e[6])
    natures = Counter(e[2] for e in epcis)
    nature_text = ", ".join(f"{k} {natures[k]}" for k in sorted(natures))
    lines = [
        "# Données de référence embarquées / Shipped reference data",
        "",
        "Generated by `scripts/build_reference.py`; do not edit by hand. Rerun the script",
        "to refresh; the output is byte-identical for identical sources.",
        "",
        "## Sources and licence",
        "",
        "The INSEE and DGCL sources are published under the **Licence Ouverte 2.0 / Open",
        "Licence 2.0 (Etalab)**, which requires attribution (source and date of last update):",
        "",
        f"- **INSEE, Code officiel géographique (COG) au 1er janvier {COG_VINTAGE}**: communes,",
        "  municipal arrondissements (ARM), départements, régions, chefs-lieux.",
        f"- **DGCL, BANATIC, EPCI à fiscalité propre au 1er janvier {EPCI_VINTAGE}**: EPCI",
        "  names, legal nature, financing regime (FPU/FA), seat département, members, SIREN of",
        "  member communes (the 2024 BANATIC SIREN↔INSEE table fills the few missing SIREN).",
        f"- **INSEE, populations légales millésime {POPULATION_VINTAGE}** (in force from 1 January",
        f"  {POPULATION_VINTAGE + 3}): `population_municipale` of communes.",
        f"- **La Poste, base officielle des codes postaux** (copy of about {POSTAL_VINTAGE}):",
        "  `postal_codes`. La Poste now publishes it on data.gouv.fr under Licence Ouverte 2.0;",
        "  it was under the ODbL earlier: check the licence of the copy before redistributing.",
        "",
        "Attribution line used by the product: « Sources : INSEE (COG 2026, populations légales",
        "2023), DGCL (BANATIC 2025), La Poste (codes postaux) — Licence Ouverte 2.0 (Etalab) ».",
        "",
        "## Files",
        "",
        f"- `communes.csv.gz`: {len(communes)} rows ({typecoms['COM']} COM + {typecoms['ARM']}"
        " ARM); columns " + ", ".join(COMMUNE_COLUMNS) + ". Postal codes are space-separated.",
        f"- `epci.csv.gz`: {len(epcis)} EPCI à fiscalité propre ({nature_text}); columns "
        + ", ".join(EPCI_COLUMNS)
        + ".",
        f"- `departements.csv.gz`: {deps} rows; columns " + ", ".join(DEPARTEMENT_COLUMNS) + ".",
        f"- `regions.csv.gz`: {regions} rows; columns " + ", ".join(REGION_COLUMNS) + ".",
        "",
        "Codes are strings (`01053`, `2A004`, `976`); empty cells mean unknown / not applicable.",
        "",
        "## How it is built",
        "",
        "From `../shared/data/reference/`: `derived/communes-reference.csv` (COG 2026 joined with",
        "BANATIC 2025, populations 2023 and La Poste 2020), `derived/epci-2025.csv`,",
        "`insee-cog/communes.csv` (cross-check of the commune list), `insee-cog/departements.csv`",
        "and `insee-cog/regions.csv`. Checks: 5-character unique codes, 9-digit SIREN for every",
        "COM, each EPCI's announced member count equals the number of communes pointing to it.",
        "",
        "Derived values:",
        "",
        "- Paris (75056), Lyon (69123) and Marseille (13055): the sources give population and",
        "  postal codes per municipal arrondissement only; the commune row carries the **sum** of",
        "  its arrondissements' population municipale (additive by definition) and the union of",
        "  their postal codes. ARM rows have no SIREN and no EPCI (the commune is the member).",
        f"- EPCI `population_municipale` is the sum of its member communes' {POPULATION_VINTAGE}",
        "  population municipale (the BANATIC file carries an older vintage), so that an EPCI and",
        "  its members always agree.",
        "",
        "## Known gaps",
        "",
        f"- {len(no_epci)} communes belong to no EPCI (island communes exempted by law): "
        + ", ".join(no_epci)
        + ".",
        f"- {len(no_pop)} communes without population {POPULATION_VINTAGE}: Mayotte (976), whose"
        " communes are not in the populations légales file of this vintage: "
        + ", ".join(no_pop)
        + ".",
        f"- {len(epci_no_pop)} EPCI without population for the same reason: "
        + ", ".join(epci_no_pop)
        + ".",
        f"- {len(no_postal)} communes without postal code: their INSEE code was created or"
        f" changed after the La Poste {POSTAL_VINTAGE} file: " + ", ".join(no_postal) + ".",
        f"- {no_arr} communes without arrondissement (Mayotte has none).",
        "- Overseas collectivities and New Caledonia (975, 977, 978, 984, 986, 987, 988) are not",
        "  in the COG commune list and are not shipped. Former communes (COMD, COMA) and the",
        "  history of changes (mouvements) are not shipped either.",
        "",
    ]
    return "\n".join(lines)


def build(source: Path, output: Path) -> dict[str, int]:
    """Build every file into *output*; return the row counts."""
    regions = build_regions(source)
    departements = build_departements(source, {r[0] for r in regions})
    communes = build_communes(source, {d[0]: d[1] for d in departements})
    epcis = build_epcis(source, communes)
    output.mkdir(parents=True, exist_ok=True)
    files = {
        "communes.csv.gz": gzip_csv(COMMUNE_COLUMNS, communes),
        "epci.csv.gz": gzip_csv(EPCI_COLUMNS, epcis),
        "departements.csv.gz": gzip_csv(DEPARTEMENT_COLUMNS, departements),
        "regions.csv.gz": gzip_csv(REGION_COLUMNS, regions),
        "SOURCES.md": sources_md(communes, epcis, len(departements), len(regions)).encode(),
    }
    for name, content in files.items():
        (output / name).write_bytes(content)
    return {
        "communes": len(communes),
        "epci": len(epcis),
        "departements": len(departements),
        "regions": len(regions),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="reference data dir")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output dir")
    args = parser.parse_args(argv)
    try:
        counts = build(args.source, args.output)
    except BuildError as exc:
        print(f"build_reference: {exc}", file=sys.stderr)
        return 1
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    print(f"wrote {args.output}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
