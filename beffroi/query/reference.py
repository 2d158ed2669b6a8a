"""The ``ref`` schema of every query database: COG tables, commune changes, SQL helpers.

Tables (codes are strings; see ``beffroi/reference/data/SOURCES.md`` for vintages):

* ``ref.communes`` — communes and municipal arrondissements (COG 2026), with SIREN, EPCI,
  population and postal codes (a list);
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

from functools import cache
from typing import TYPE_CHECKING, Final

import pyarrow as pa

from beffroi.reference import cog
from beffroi.reference.changes import changes, successions

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


@cache
def tables() -> dict[str, pa.Table]:
    """The reference tables as Arrow tables, built once per process."""
    communes = list(cog.communes().values())
    string = pa.string()
    result = {
        "communes": pa.table(
            {
                "code_insee": pa.array([c.code_insee for c in communes], string),
                "name": pa.array([c.name for c in communes], string),
                "typecom": pa.array([c.typecom for c in communes], string),
                "departement": pa.array([c.departement for c in communes], string),
                "region": pa.array([c.region for c in communes], string),
                "arrondissement": pa.array([c.arrondissement for c in communes], string),
                "siren": pa.array([c.siren for c in communes], string),
                "epci_siren": pa.array([c.epci_siren for c in communes], string),
                "population_municipale": pa.array(
                    [c.population_municipale for c in communes], pa.int64()
                ),
                "postal_codes": pa.array(
                    [list(c.postal_codes) for c in communes], pa.list_(string)
                ),
            }
        ),
        "postal_codes": pa.table(
            {
                "postal_code": pa.array([p for c in communes for p in c.postal_codes], string),
                "code_insee": pa.array(
                    [c.code_insee for c in communes for _ in c.postal_codes], string
                ),
            }
        ),
    }
    departements = list(cog.departements().values())
    result["departements"] = pa.table(
        {
            "code": [d.code for d in departements],
            "region": [d.region for d in departements],
            "name": [d.name for d in departements],
            "chef_lieu": [d.chef_lieu for d in departements],
        }
    )
    regions = list(cog.regions().values())
    result["regions"] = pa.table(
        {
            "code": [r.code for r in regions],
            "name": [r.name for r in regions],
            "chef_lieu": [r.chef_lieu for r in regions],
        }
    )
    epcis = list(cog.epcis().values())
    result["epci"] = pa.table(
        {
            "siren": [e.siren for e in epcis],
            "name": [e.name for e in epcis],
            "nature": [e.nature for e in epcis],
            "financing": [e.financing for e in epcis],
            "seat_departement": [e.seat_departement for e in epcis],
            "member_count": pa.array([e.member_count for e in epcis], pa.int64()),
            "population_municipale": pa.array([e.population_municipale for e in epcis], pa.int64()),
        }
    )
    moves = changes()
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
    chains = successions()
    result["commune_successions"] = pa.table(
        {
            "code": pa.array([s.code for s in chains], string),
            "until": pa.array([s.until for s in chains], pa.date32()),
            "current_code": pa.array([s.current for s in chains], string),
        }
    )
    return result


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``ref`` schema, its tables and the helper macros in a fresh database."""
    con.execute("CREATE SCHEMA ref")
    for name, table in tables().items():
        con.register("__beffroi_ref", table)
        try:
            con.execute(f"CREATE TABLE ref.{name} AS SELECT * FROM __beffroi_ref")  # noqa: S608
        finally:
            con.unregister("__beffroi_ref")
    for macro in MACROS:
        con.execute(macro)
