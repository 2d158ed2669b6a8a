"""Each demo indicator, computed by Beffroi, against values computed by hand in Python
from the very rows the demo published (read back from the store)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi import reference
from beffroi.access import Actor
from beffroi.catalog.models import Dataset, IndicatorAlert, Organization, Role
from beffroi.errors import NotFoundError
from beffroi.indicators import services
from beffroi.indicators.demo import EPCI_SIREN, INDICATORS, LEAK
from beffroi.store import store_for
from tests.unit.indicators.conftest import MIN_CELL, Instance

MEMBERS = {c.code_insee: c for c in reference.epci_members(EPCI_SIREN)}
EPCI_POPULATION = reference.epci(EPCI_SIREN).population_municipale
ADMIN = Actor.system(name="test")


def rows_of(instance: Instance, session: Session, slug: str) -> list[dict[str, Any]]:
    dataset = session.scalar(select(Dataset).where(Dataset.slug == slug))
    assert dataset is not None
    assert dataset.published_version is not None
    table = store_for(instance.settings).read(
        dataset.store_key, dataset.published_version.store_version
    )
    return table.to_pylist()


def served(
    session: Session, code: str, actor: Actor = ADMIN
) -> dict[tuple[str | None, str], float]:
    values = services.indicator_values(session, actor, code)
    return {(r.commune, r.period): r.value for r in values.rows if r.value is not None}


def assert_same(got: dict[Any, float], expected: dict[Any, float]) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=1e-9), key


def test_the_demo_creates_five_indicators(instance: Instance) -> None:
    assert sorted(instance.report.created_indicators) == sorted(i["code"] for i in INDICATORS)


def test_water_per_inhabitant_per_month(instance: Instance, db: Session) -> None:
    sums: dict[tuple[str | None, str], float] = defaultdict(float)
    for row in rows_of(instance, db, "consommation-eau-potable-par-commune"):
        period = row["mois"].strftime("%Y-%m")
        sums[(row["code_insee"], period)] += row["volume_m3"]
        sums[(None, period)] += row["volume_m3"]
    expected = {
        (c, p): v / (MEMBERS[c].population_municipale if c else EPCI_POPULATION)
        for (c, p), v in sums.items()
    }
    assert len(expected) == 25 * 24 + 24
    assert_same(served(db, "consommation-eau-par-habitant"), expected)


def test_charging_points_cumulated_per_1000(instance: Instance, db: Session) -> None:
    opened: dict[str | None, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows_of(instance, db, "bornes-recharge-vehicules-electriques"):
        year = row["date_mise_en_service"].year
        opened[row["code_insee_commune"]][year] += 1
        opened[None][year] += 1
    expected = {}
    for commune, by_year in opened.items():
        total = 0
        for year in range(min(by_year), 2026):
            total += by_year.get(year, 0)
            population = MEMBERS[commune].population_municipale if commune else EPCI_POPULATION
            expected[(commune, str(year))] = total * 1000 / population
    assert_same(served(db, "points-recharge-pour-1000-habitants"), expected)


def test_bicycle_parking_capacity(instance: Instance, db: Session) -> None:
    expected: dict[tuple[str | None, str], float] = defaultdict(float)
    for row in rows_of(instance, db, "stationnement-cyclable"):
        expected[(row["code_com"], "")] += row["capacite"]
        expected[(None, "")] += row["capacite"]
    assert_same(served(db, "places-stationnement-velo"), dict(expected))


def test_subsidies_per_inhabitant_through_the_siret(instance: Instance, db: Session) -> None:
    by_siren = {c.siren: c.code_insee for c in MEMBERS.values()}
    sums: dict[tuple[str | None, str], float] = defaultdict(float)
    for row in rows_of(instance, db, "subventions-associations"):
        commune = by_siren[row["idAttribuant"][:9]]
        year = str(row["dateConvention"].year)
        sums[(commune, year)] += row["montant"]
        sums[(None, year)] += row["montant"]
    expected = {
        (c, p): v / (MEMBERS[c].population_municipale if c else EPCI_POPULATION)
        for (c, p), v in sums.items()
    }
    assert_same(served(db, "subventions-associations-par-habitant"), expected)


def test_capital_expenditure_ratio_for_the_epci(instance: Instance, db: Session) -> None:
    sums: dict[tuple[str | None, str], float] = defaultdict(float)
    for row in rows_of(instance, db, "budget-primitif-agglomeration"):
        if row["BGT_SECTION"] == "I" and row["BGT_CODRD"] == "D" and row["BGT_NATURE"][0] == "2":
            sums[(None, str(row["BGT_ANNEE"]))] += row["BGT_MTPREV"]
    expected = {k: v / EPCI_POPULATION for k, v in sums.items()}
    assert len(expected) == 3
    assert_same(served(db, "depenses-equipement-par-habitant"), expected)


def test_lineage_names_the_source_versions_and_the_sql(instance: Instance, db: Session) -> None:
    values = services.indicator_values(db, ADMIN, "places-stationnement-velo")
    lineage = values.lineage()
    assert lineage is not None
    [source] = lineage["sources"]
    dataset = db.scalar(select(Dataset).where(Dataset.slug == "stationnement-cyclable"))
    assert dataset is not None
    assert dataset.published_version is not None
    assert source == {
        "dataset": "stationnement-cyclable",
        "dataset_id": dataset.id,
        "version": dataset.published_version.number,
        "store_version": dataset.published_version.store_version,
    }
    assert '"stationnement-cyclable"' in lineage["sql"]
    assert 'sum("capacite")' in lineage["sql"]
    text = "\n".join([lineage["sql"], "none", "commune", "none", "False"])
    assert lineage["sql_hash"] == hashlib.sha256(text.encode()).hexdigest()


def test_statistical_secrecy_hides_small_cells_from_the_public(
    instance: Instance, db: Session
) -> None:
    code = "subventions-associations-par-habitant"
    public = services.indicator_values(db, Actor.anonymous(), code)
    owner = services.indicator_values(db, ADMIN, code)
    small = [r for r in owner.rows if r.cell_count is not None and r.cell_count < MIN_CELL]
    assert small, "the demo has communes with fewer grants than the minimum cell size"
    hidden = {(r.commune, r.period) for r in public.rows if r.suppressed}
    assert hidden == {(r.commune, r.period) for r in small}
    assert all(r.value is None and r.raw is None for r in public.rows if r.suppressed)
    assert all(r.value is not None for r in public.rows if not r.suppressed)


def test_internal_indicators_are_invisible_to_the_public(db: Session) -> None:
    codes = {i.code for i in services.list_indicators(db, Actor.anonymous())}
    assert codes == {
        "subventions-associations-par-habitant",
        "points-recharge-pour-1000-habitants",
        "places-stationnement-velo",
    }
    with pytest.raises(NotFoundError):
        services.get_indicator(db, Actor.anonymous(), "consommation-eau-par-habitant")


def test_the_demo_leak_raises_an_alert_for_the_partner_stewards(db: Session) -> None:
    [alert] = db.scalars(select(IndicatorAlert)).all()
    assert (alert.commune, alert.period) == (LEAK[0], f"{LEAK[1][0]}-{LEAK[1][1]:02d}")
    assert alert.value > alert.threshold == 4.8
    assert alert.previous is not None
    assert alert.previous <= 4.8
    partner = db.scalar(
        select(Organization).where(Organization.slug == "eau-du-morbihan-delegataire")
    )
    assert partner is not None
    steward = Actor(
        Actor.anonymous().kind.USER, user_id=1, username="s", roles={partner.id: Role.STEWARD}
    )
    viewer = Actor(
        Actor.anonymous().kind.USER, user_id=2, username="v", roles={partner.id: Role.VIEWER}
    )
    assert [a.id for a in services.list_alerts(db, steward)] == [alert.id]
    assert services.list_alerts(db, viewer) == []


def test_sources_late_against_their_update_frequency(db: Session) -> None:
    indicator = services.get_indicator(db, ADMIN, "consommation-eau-par-habitant")
    [now] = services.source_freshness(db, indicator)
    assert now["frequency"] == "MONTHLY"
    assert now["late"] is False
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)
    [then] = services.source_freshness(db, indicator, now=later)
    assert then["late"] is True
