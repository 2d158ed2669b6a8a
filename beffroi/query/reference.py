"""The ``ref`` schema of every query database: COG tables, commune changes, SQL helpers.

Tables (codes are strings; see ``beffroi/reference/data/SOURCES.md`` for vintages):

* ``ref.communes`` — communes and municipal arrondissements of the newest vintage (COG 2026
  as shipped, or a newer one from ``beffroi reference update``), with SIREN, EPCI,
  population, postal codes (a list) and ``vintage`` (the year);
* ``ref.communes_vintages`` — the same for every vintage known (shipped and data
  directory), one row per (vintage, commune): the commune list and EPCI membership per year;
* ``ref.vintages`` — the vintages (``vintage``, ``source``: ``shipped`` or ``data_dir``,
  ``current``: the one ``ref.communes`` shows);
* ``ref.departements``, ``ref.regions``, ``ref.epci``;
* ``ref.postal_codes`` — one row per (postal code, INSEE code) pair (many-to-many);
* ``ref.commune_changes`` — INSEE's « mouvements de communes » since 1943;
* ``ref.commune_successions`` — code retired on ``until`` → today's ``current_code``.

Macros (in the default schema, callable from any query):

* ``insee_normalize(x)`` — a code typed as a number back to 5 characters (``1053`` →
  ``01053``, ``'2a004'`` → ``2A004``);
* ``insee_current(code, year)`` — today's code of a commune code valid on 1 January of
  ``year`` (mergers and code changes followed; NULL when the commune was split); a code
  that is no commune today and was retired before ``year`` (a stale code in a file of that
  year) follows its last retirement;
* ``siren_of_siret(s)`` — the 9-digit SIREN of a 14-digit SIRET (NULL if not a SIRET);
* ``postal_to_insee(cp)`` — the INSEE code of a postal code when it serves one commune only,
  else NULL (join ``ref.postal_codes`` for the many-to-many case).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pyarrow as pa

from beffroi.reference import cog, update
from beffroi.reference.changes import (
    changes,
    changes_path,
    read_changes,
    successions,
    successions_of,
)

if TYPE_CHECKING:
    import duckdb

TABLES: Final = (
    "communes",
    "departements",
    "regions",
    "epci",
    "postal_codes",
    "commune_changes",
    "commune_successions",
    "communes_vintages",
    "vintages",
)

MACROS: Final = (
    """CREATE MACRO insee_normalize(x) AS (
        CASE
            WHEN x IS NULL THEN NULL
            WHEN regexp_full_match(trim(CAST(x AS VARCHAR)), '[0-9]{1,5}(\\.0+)?')
                THEN lpad(regexp_extract(trim(CAST(x AS VARCHAR)), '^[0-9]+'), 5, '0')
            ELSE upper(trim(CAST(x AS VARCHAR)))
        END)""",
    """CREATE MACRO insee_current(code, year) AS (
        CASE WHEN insee_normalize(code) IS NULL THEN NULL ELSE nullif(coalesce(
            (SELECT arg_min(coalesce(s.current_code, ''), s.until)
               FROM ref.commune_successions s
              WHERE s.code = insee_normalize(code)
                AND s.until > make_date(CAST(year AS INTEGER), 1, 1)),
            CASE WHEN NOT EXISTS (SELECT 1 FROM ref.communes c
                                   WHERE c.code_insee = insee_normalize(code))
                 THEN (SELECT arg_max(coalesce(s.current_code, ''), s.until)
                         FROM ref.commune_successions s
                        WHERE s.code = insee_normalize(code)) END,
            insee_normalize(code)), '') END)""",
    """CREATE MACRO siren_of_siret(s) AS (
        CASE WHEN regexp_full_match(regexp_replace(CAST(s AS VARCHAR), '[\\s.]', '', 'g'),
                                    '[0-9]{14}')
             THEN left(regexp_replace(CAST(s AS VARCHAR), '[\\s.]', '', 'g'), 9) END)""",
    """CREATE MACRO postal_to_insee(cp) AS (
        (SELECT CASE WHEN count(DISTINCT p.code_insee) = 1 THEN min(p.code_insee) END
           FROM ref.postal_codes p
          WHERE p.postal_code = lpad(trim(CAST(cp AS VARCHAR)), 5, '0')))""",
)


def signature(root: Path | None) -> int | None:
    """What the data directory's vintages look like now (the reference directory's
    modification time: adding or replacing a vintage renames a directory into it)."""
    if root is None:
        return None
    try:
        return root.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def tables(root: Path | None = None) -> dict[str, pa.Table]:
    """The reference tables as Arrow tables: the newest vintage (``root``: the data
    directory's ``reference/``, preferred over the shipped data of the same year), built
    once per state of ``root``."""
    return _tables(root, signature(root))


def _communes_table(rows: list[dict[str, str]], vintage: int) -> pa.Table:
    string = pa.string()

    def optional(value: str) -> str | None:
        return value or None

    return pa.table(
        {
            "code_insee": pa.array([r["code_insee"] for r in rows], string),
            "name": pa.array([r["name"] for r in rows], string),
            "typecom": pa.array([r["typecom"] for r in rows], string),
            "departement": pa.array([r["departement"] for r in rows], string),
            "region": pa.array([r["region"] for r in rows], string),
            "arrondissement": pa.array([optional(r["arrondissement"]) for r in rows], string),
            "siren": pa.array([optional(r["siren"]) for r in rows], string),
            "epci_siren": pa.array([optional(r["epci_siren"]) for r in rows], string),
            "population_municipale": pa.array(
                [
                    int(r["population_municipale"]) if r["population_municipale"] else None
                    for r in rows
                ],
                pa.int64(),
            ),
            "postal_codes": pa.array([r["postal_codes"].split() for r in rows], pa.list_(string)),
            "vintage": pa.array([vintage] * len(rows), pa.int16()),
        }
    )


@lru_cache(maxsize=2)
def _tables(root: Path | None, _signature: int | None) -> dict[str, pa.Table]:
    shipped_year = cog.VINTAGE["cog"]
    found = update.vintages(root.parent) if root is not None else {}
    year, _source, directory = (
        update.latest(root.parent) if root is not None else (shipped_year, "shipped", None)
    )

    def newest(name: str) -> Path:
        """The file ``name`` of the newest vintage that has it (else the shipped one)."""
        # A data-directory vintage older than the shipped data does not override it.
        for candidate_year in sorted(found, reverse=True):
            if shipped_year <= candidate_year <= year and (found[candidate_year] / name).is_file():
                return found[candidate_year] / name
        return update.shipped_path(name)

    communes_rows = update.read_table(
        (directory / update.SHIPPED_FILES["communes"])
        if directory is not None
        else update.shipped_path(update.SHIPPED_FILES["communes"])
    )
    communes = _communes_table(communes_rows, year)
    string = pa.string()
    every = (
        [
            _communes_table(
                update.read_table(update.shipped_path(update.SHIPPED_FILES["communes"])),
                shipped_year,
            )
        ]
        if shipped_year not in found
        else []
    )
    every += [
        _communes_table(update.read_table(path / update.SHIPPED_FILES["communes"]), y)
        for y, path in sorted(found.items())
    ]
    result = {
        "communes": communes,
        "communes_vintages": pa.concat_tables(every).sort_by(
            [("vintage", "ascending"), ("code_insee", "ascending")]
        ),
        "postal_codes": pa.table(
            {
                "postal_code": pa.array(
                    [p for r in communes_rows for p in r["postal_codes"].split()], string
                ),
                "code_insee": pa.array(
                    [r["code_insee"] for r in communes_rows for _ in r["postal_codes"].split()],
                    string,
                ),
            }
        ),
    }
    departements = update.read_table(newest(update.SHIPPED_FILES["departements"]))
    result["departements"] = pa.table(
        {name: [r[name] for r in departements] for name in update.DEPARTEMENT_COLUMNS}
    )
    regions = update.read_table(newest(update.SHIPPED_FILES["regions"]))
    result["regions"] = pa.table(
        {name: [r[name] for r in regions] for name in update.REGION_COLUMNS}
    )
    epcis = update.read_table(newest(update.SHIPPED_FILES["epci"]))
    result["epci"] = pa.table(
        {
            "siren": [e["siren"] for e in epcis],
            "name": [e["name"] for e in epcis],
            "nature": [e["nature"] for e in epcis],
            "financing": [e["financing"] for e in epcis],
            "seat_departement": [e["seat_departement"] for e in epcis],
            "member_count": pa.array([int(e["member_count"]) for e in epcis], pa.int64()),
            "population_municipale": pa.array(
                [
                    int(e["population_municipale"]) if e["population_municipale"] else None
                    for e in epcis
                ],
                pa.int64(),
            ),
        }
    )
    changes_file = newest(update.SHIPPED_FILES["commune_changes"])
    moves = read_changes(changes_file) if changes_file.is_file() else changes()
    result["commune_changes"] = pa.table(
        {
            "mod": pa.array([m.mod for m in moves], pa.int16()),
            "date_eff": pa.array([m.date for m in moves], pa.date32()),
            "typecom_av": pa.array([m.typecom_before for m in moves], string),
            "com_av": pa.array([m.code_before for m in moves], string),
            "libelle_av": pa.array([m.name_before for m in moves], string),
            "typecom_ap": pa.array([m.typecom_after for m in moves], string),
            "com_ap": pa.array([m.code_after for m in moves], string),
            "libelle_ap": pa.array([m.name_after for m in moves], string),
        }
    )
    chains = successions_of(moves) if changes_file != changes_path() else successions()
    result["commune_successions"] = pa.table(
        {
            "code": pa.array([s.code for s in chains], string),
            "until": pa.array([s.until for s in chains], pa.date32()),
            "current_code": pa.array([s.current for s in chains], string),
        }
    )
    listed = sorted({shipped_year, *found})
    result["vintages"] = pa.table(
        {
            "vintage": pa.array(listed, pa.int16()),
            "source": pa.array(["data_dir" if y in found else "shipped" for y in listed], string),
            "current": pa.array([y == year for y in listed], pa.bool_()),
        }
    )
    return result


def install(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> None:
    """Create the ``ref`` schema, its tables and the helper macros in a fresh database
    (``root``: the data directory's ``reference/``, whose newest vintage is preferred)."""
    con.execute("CREATE SCHEMA ref")
    for name, table in tables(root).items():
        con.register("__beffroi_ref", table)
        try:
            con.execute(f"CREATE TABLE ref.{name} AS SELECT * FROM __beffroi_ref")  # noqa: S608
        finally:
            con.unregister("__beffroi_ref")
    for macro in MACROS:
        con.execute(macro)
