"""The ``ref`` schema and SQL helpers, checked against the shipped files and real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from beffroi.access import Actor
from beffroi.query.engine import QueryEngine
from beffroi.query.service import run_sql
from beffroi.reference import cog
from beffroi.reference.changes import build_changes_file, changes, changes_path, successions
from tests.conftest import SHARED_DATA
from tests.unit.query.conftest import Instance

ANONYMOUS = Actor.anonymous(surface="api")


def one(instance: Instance, query: str) -> object:
    with instance.session() as session:
        rows = run_sql(session, ANONYMOUS, instance.settings, query).rows
    assert len(rows) == 1
    [value] = rows[0].values()
    return value


def test_reference_tables_match_the_shipped_files(instance: Instance) -> None:
    assert one(instance, "SELECT count(*) FROM ref.communes") == len(cog.communes())
    assert one(instance, "SELECT count(*) FROM ref.departements") == 101
    assert one(instance, "SELECT count(*) FROM ref.regions") == 18
    assert one(instance, "SELECT count(*) FROM ref.epci") == 1255
    assert one(instance, "SELECT count(*) FROM ref.commune_changes") == len(changes()) == 13734
    assert one(instance, "SELECT count(*) FROM ref.commune_successions") == len(successions())
    # Lorient: its SIREN, its EPCI (Lorient Agglomération) and its postal codes.
    assert one(
        instance,
        "SELECT struct_pack(s := siren, e := epci_siren, p := postal_codes) "
        "FROM ref.communes WHERE code_insee = '56121'",
    ) == {"s": "215601212", "e": "200042174", "p": ["56100"]}
    # Postal codes are many-to-many: 56100 serves Lorient only, 75001 one arrondissement.
    assert one(instance, "SELECT count(*) FROM ref.postal_codes WHERE postal_code = '56100'") == 1


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("insee_normalize(1053)", "01053"),
        ("insee_normalize('1053')", "01053"),
        ("insee_normalize(' 2a004 ')", "2A004"),
        ("insee_normalize('97101')", "97101"),
        ("insee_normalize(1053.0)", "01053"),
        ("insee_normalize(NULL)", None),
        # La Chapelle-Caro (56037) joined Val d'Oust (56197) on 2016-01-01.
        ("insee_current('56037', 2015)", "56197"),
        ("insee_current(56037, 2010)", "56197"),
        ("insee_current('56037', 2019)", "56197"),  # stale code in a 2019 file
        # Croixanvec (56049) joined Saint-Gérand-Croixanvec (56213) on 2022-01-01.
        ("insee_current('56049', 2021)", "56213"),
        ("insee_current('56121', 1990)", "56121"),  # Lorient never changed
        ("insee_current(7078, 2019)", "07078"),  # typed as a number
        ("insee_current(NULL, 2019)", None),
        ("siren_of_siret('21560121200017')", "215601212"),
        ("siren_of_siret('215 601 212 00017')", "215601212"),
        ("siren_of_siret('215601212')", None),
        ("postal_to_insee('56100')", "56121"),
        ("postal_to_insee(56100)", "56121"),
        ("postal_to_insee('00000')", None),
    ],
)
def test_sql_helpers(instance: Instance, expression: str, expected: object) -> None:
    assert one(instance, f"SELECT {expression}") == expected


def test_a_postal_code_of_several_communes_has_no_single_insee_code(instance: Instance) -> None:
    shared = one(
        instance,
        "SELECT min(postal_code) FROM (SELECT postal_code FROM ref.postal_codes "
        "GROUP BY postal_code HAVING count(*) > 1)",
    )
    assert isinstance(shared, str)
    assert one(instance, f"SELECT postal_to_insee('{shared}')") is None


def test_merged_commune_join_on_real_data(instance: Instance) -> None:
    """The 2019 IRVE file is keyed on codes of its time (some typed as numbers, some of
    communes merged since): a plain join loses them, insee_current finds today's commune."""
    plain = one(
        instance,
        "SELECT count(*) FROM irve i LEFT JOIN ref.communes c ON c.code_insee = i.code_insee "
        "WHERE c.code_insee IS NULL",
    )
    current = one(
        instance,
        "SELECT count(*) FROM irve i LEFT JOIN ref.communes c "
        "ON c.code_insee = insee_current(i.code_insee, 2019) WHERE c.code_insee IS NULL",
    )
    assert isinstance(plain, int)
    assert isinstance(current, int)
    assert current < plain
    # The charging point of the church square of La Chapelle-Caro is in Val d'Oust today.
    assert (
        one(
            instance,
            "SELECT DISTINCT c.name FROM irve i JOIN ref.communes c "
            "ON c.code_insee = insee_current(i.code_insee, 2019) "
            "WHERE i.ad_station LIKE '%Chapelle-Caro%'",
        )
        == "Val d'Oust"
    )
    # And Davézieux, written 7078 in the file, is found as 07078.
    assert (
        one(
            instance,
            "SELECT DISTINCT c.name FROM irve i JOIN ref.communes c "
            "ON c.code_insee = insee_current(i.code_insee, 2019) "
            "WHERE i.n_station LIKE 'DAVEZIEUX%'",
        )
        == "Davézieux"
    )


def test_reference_schema_is_in_every_database(instance: Instance) -> None:
    database = QueryEngine(instance.settings).database([])
    assert database.rows("SELECT count(*) FROM ref.regions") == [(18,)]


def test_shipped_changes_file_is_rebuilt_byte_identical(tmp_path: Path) -> None:
    source = SHARED_DATA / "reference" / "insee-cog" / "mouvements-communes.csv"
    target = tmp_path / "commune_changes.csv.gz"
    assert build_changes_file(source, target) == 13734
    assert target.read_bytes() == changes_path().read_bytes()
