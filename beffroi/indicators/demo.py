"""Demo data and indicators: five indicators on data shaped like real SCDL and national files.

The rows are generated deterministically (a seeded random generator over the real member
communes and populations of the demo EPCI), with the columns of the real schemas:

* ``subventions-associations`` — SCDL *Subventions* (``nomAttribuant``, ``idAttribuant``
  SIRET, ``dateConvention``, ``montant``…): the member communes' files, consolidated;
* ``bornes-recharge-vehicules-electriques`` — IRVE statique (``id_pdc_itinerance``,
  ``code_insee_commune``, ``puissance_nominale``, ``date_mise_en_service``…);
* ``stationnement-cyclable`` — schéma stationnement cyclable (``code_com``, ``capacite``…);
* ``consommation-eau-potable-par-commune`` — monthly volumes billed by the partner;
* ``budget-primitif-agglomeration`` — SCDL *Budget* (``BGT_SECTION``, ``BGT_CODRD``,
  ``BGT_MTPREV``…).

Each source gets one published version (once: a second run changes nothing), then the
indicators are created and computed. No file of ``../shared`` is read.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi import reference
from beffroi.access import Actor
from beffroi.catalog.models import Dataset, DatasetVersion, Indicator
from beffroi.catalog.schemas import parse
from beffroi.catalog.versions import publish_version, record_version
from beffroi.indicators.definitions import IndicatorCreate
from beffroi.indicators.services import create_indicator
from beffroi.settings import Settings
from beffroi.store import store_for

EPCI_SIREN = "200042174"
EPCI_SLUG = "lorient-agglomeration"
PARTNER_SLUG = "eau-du-morbihan-delegataire"
SUBSIDIES_SLUG = "subventions-associations"
YEARS = (2022, 2023, 2024, 2025)
LEAK = ("56069", (2025, 12))  # Groix, December 2025

NATURES = ["aide en numéraire", "aide en nature"]
OBJECTS = [
    "Fonctionnement de l'association",
    "Organisation du festival d'été",
    "École de musique",
    "Club de football — saison sportive",
    "Aide aux devoirs",
    "Fête de la Bretagne",
    "Banque alimentaire",
]


def _typed(rows: dict[str, list[Any]], types: dict[str, pa.DataType]) -> pa.Table:
    """Columns as Arrow, text unless typed in ``types``."""
    schema = pa.schema([pa.field(n, types.get(n, pa.string())) for n in rows])
    return pa.table(rows).cast(schema)


def _members() -> list[reference.Commune]:
    return reference.epci_members(EPCI_SIREN)


def _subsidies(rng: random.Random) -> pa.Table:
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "nomAttribuant",
            "idAttribuant",
            "dateConvention",
            "referenceDecision",
            "nomBeneficiaire",
            "idBeneficiaire",
            "objet",
            "montant",
            "nature",
        )
    }
    for commune in _members():
        population = commune.population_municipale or 1000
        for year in YEARS:
            grants = max(2, round(population / 500 * rng.uniform(0.7, 1.3)))
            for index in range(grants):
                amount = round(rng.uniform(400, 14000) * (1 + (year - 2022) * 0.04), -1)
                rows["nomAttribuant"].append(f"Commune de {commune.name}")
                rows["idAttribuant"].append(f"{commune.siren}00019")
                rows["dateConvention"].append(dt.date(year, rng.randint(1, 12), rng.randint(1, 28)))
                rows["referenceDecision"].append(f"DCM-{year}-{index + 1:03d}")
                rows["nomBeneficiaire"].append(
                    f"Association {rng.choice(OBJECTS).split()[0]} {commune.name}"
                )
                rows["idBeneficiaire"].append(f"{rng.randint(100_000_000, 999_999_999)}00012")
                rows["objet"].append(rng.choice(OBJECTS))
                rows["montant"].append(float(amount))
                rows["nature"].append(rng.choice(NATURES))
    return _typed(rows, {"dateConvention": pa.date32(), "montant": pa.float64()})


def _irve(rng: random.Random) -> pa.Table:
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "nom_amenageur",
            "id_station_itinerance",
            "nom_station",
            "implantation_station",
            "code_insee_commune",
            "nbre_pdc",
            "id_pdc_itinerance",
            "puissance_nominale",
            "date_mise_en_service",
        )
    }
    for commune in _members():
        population = commune.population_municipale or 1000
        stations = max(1, round(population / 4000 * rng.uniform(0.5, 1.6)))
        for station in range(stations):
            points = rng.choice([2, 2, 2, 4, 6])
            opened = dt.date(rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28))
            station_id = f"FRLOR{commune.code_insee}{station + 1:03d}"
            for point in range(points):
                rows["nom_amenageur"].append("Lorient Agglomération (démonstration)")
                rows["id_station_itinerance"].append(f"FRLORP{commune.code_insee}{station:03d}")
                rows["nom_station"].append(f"{commune.name} — station {station + 1}")
                rows["implantation_station"].append(
                    rng.choice(["Voirie", "Parking public", "Parking privé à usage public"])
                )
                rows["code_insee_commune"].append(commune.code_insee)
                rows["nbre_pdc"].append(points)
                rows["id_pdc_itinerance"].append(f"{station_id}E{point + 1}")
                rows["puissance_nominale"].append(float(rng.choice([7.4, 22.0, 22.0, 50.0])))
                rows["date_mise_en_service"].append(opened)
    return _typed(
        rows,
        {
            "nbre_pdc": pa.int64(),
            "puissance_nominale": pa.float64(),
            "date_mise_en_service": pa.date32(),
        },
    )


def _bicycle_parking(rng: random.Random) -> pa.Table:
    rows: dict[str, list[Any]] = {
        k: [] for k in ("id_local", "code_com", "capacite", "type_accroche", "mobilier", "date_maj")
    }
    for commune in _members():
        population = commune.population_municipale or 1000
        for index in range(max(1, round(population / 900 * rng.uniform(0.4, 1.5)))):
            rows["id_local"].append(f"SC-{commune.code_insee}-{index + 1:04d}")
            rows["code_com"].append(commune.code_insee)
            rows["capacite"].append(rng.choice([2, 4, 6, 8, 10, 12, 20]))
            rows["type_accroche"].append(rng.choice(["cadre", "roue", "cadre et roue"]))
            rows["mobilier"].append(rng.choice(["arceau", "ratelier", "abri", "casier"]))
            rows["date_maj"].append(dt.date(2025, rng.randint(1, 12), rng.randint(1, 28)))
    return _typed(rows, {"capacite": pa.int64(), "date_maj": pa.date32()})


def _water(rng: random.Random) -> pa.Table:
    rows: dict[str, list[Any]] = {"code_insee": [], "mois": [], "volume_m3": []}
    for commune in _members():
        population = commune.population_municipale or 1000
        habit = rng.uniform(3.3, 4.4)  # m³ per inhabitant and month
        for year in (2024, 2025):
            for month in range(1, 13):
                summer = 1.25 if month in {7, 8} else 1.0
                if commune.code_insee == LEAK[0] and (year, month) == LEAK[1]:
                    summer = 1.4  # a leak on the network: the demo's threshold alert
                rows["code_insee"].append(commune.code_insee)
                rows["mois"].append(dt.date(year, month, 1))
                rows["volume_m3"].append(
                    round(population * habit * summer * rng.uniform(0.95, 1.05))
                )
    return _typed(rows, {"mois": pa.date32(), "volume_m3": pa.float64()})


def _budget(rng: random.Random) -> pa.Table:
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "BGT_NATDEC",
            "BGT_ANNEE",
            "BGT_SIRET",
            "BGT_NOM",
            "BGT_NATURE",
            "BGT_FONCTION",
            "BGT_SECTION",
            "BGT_CODRD",
            "BGT_MTPREV",
        )
    }
    lines = [
        ("I", "D", "2031", "Frais d'études", 0.9),
        ("I", "D", "2313", "Constructions", 11.0),
        ("I", "D", "2315", "Installations, matériel et outillage techniques", 14.0),
        ("I", "D", "2182", "Matériel de transport", 3.5),
        ("F", "D", "6042", "Achats de prestations de services", 21.0),
        ("F", "D", "6411", "Personnel titulaire", 38.0),
        ("F", "R", "73111", "Taxes foncières et d'habitation", 52.0),
        ("I", "R", "1641", "Emprunts en euros", 12.0),
    ]
    for year in (2023, 2024, 2025):
        for section, codrd, nature, _label, millions in lines:
            rows["BGT_NATDEC"].append("BP")
            rows["BGT_ANNEE"].append(year)
            rows["BGT_SIRET"].append(f"{EPCI_SIREN}00017")
            rows["BGT_NOM"].append("Lorient Agglomération")
            rows["BGT_NATURE"].append(nature)
            rows["BGT_FONCTION"].append(rng.choice(["020", "811", "815", "830"]))
            rows["BGT_SECTION"].append(section)
            rows["BGT_CODRD"].append(codrd)
            growth = 1 + (year - 2023) * rng.uniform(0.02, 0.09)
            rows["BGT_MTPREV"].append(round(millions * 1_000_000 * growth, 2))
    return _typed(rows, {"BGT_ANNEE": pa.int64(), "BGT_MTPREV": pa.float64()})


#: (dataset slug, table generator, seed)
SOURCES: list[tuple[str, Callable[[random.Random], pa.Table], int]] = [
    (SUBSIDIES_SLUG, _subsidies, 9),
    ("bornes-recharge-vehicules-electriques", _irve, 11),
    ("stationnement-cyclable", _bicycle_parking, 13),
    ("consommation-eau-potable-par-commune", _water, 17),
    ("budget-primitif-agglomeration", _budget, 19),
]

SUBSIDIES_SQL = """SELECT c.code_insee AS commune, s."dateConvention" AS period,
       sum(s.montant) AS value, count(*) AS n
  FROM "subventions-associations" s
  JOIN ref.communes c ON c.siren = siren_of_siret(s."idAttribuant")
 GROUP BY ALL"""

BUDGET_SQL = """SELECT make_date(CAST("BGT_ANNEE" AS INTEGER), 1, 1) AS period,
       sum("BGT_MTPREV") AS value
  FROM "budget-primitif-agglomeration"
 WHERE "BGT_SECTION" = 'I' AND "BGT_CODRD" = 'D' AND "BGT_NATURE" LIKE '2%'
 GROUP BY ALL"""

INDICATORS: list[dict[str, Any]] = [
    {
        "code": "subventions-associations-par-habitant",
        "title": "Subventions aux associations par habitant",
        "title_en": "Grants to associations per inhabitant",
        "description": "Montant des subventions attribuées par chaque commune aux "
        "associations dans l'année (date de convention), rapporté à sa population "
        "municipale. Source : SCDL Subventions ; la commune attributaire est retrouvée par "
        "le SIREN de son SIRET (`siren_of_siret`) dans `ref.communes`.",
        "unit": "€ / habitant",
        "definition": {"kind": "sql", "sql": SUBSIDIES_SQL},
        "period": "year",
        "normalisation": "per_inhabitant",
        "target": 15.0,
        "alert_threshold": 8.0,
        "direction": "higher",
        "owner": EPCI_SLUG,
        "theme": "GOVE",
    },
    {
        "code": "points-recharge-pour-1000-habitants",
        "title": "Points de recharge pour véhicules électriques pour 1 000 habitants",
        "title_en": "EV charging points per 1,000 inhabitants",
        "description": "Points de charge ouverts au public en service au 31 décembre "
        "(cumul des mises en service, schéma IRVE statique) pour 1 000 habitants.",
        "unit": "points / 1 000 hab.",
        "definition": {
            "kind": "declarative",
            "dataset": "bornes-recharge-vehicules-electriques",
            "aggregate": "count",
            "commune": "code_insee_commune",
            "date": "date_mise_en_service",
        },
        "period": "year",
        "normalisation": "per_1000",
        "cumulative": True,
        "target": 1.5,
        "alert_threshold": 0.3,
        "direction": "higher",
        "owner": "direction-mobilites",
        "theme": "TRAN",
    },
    {
        "code": "places-stationnement-velo",
        "title": "Places de stationnement vélo",
        "title_en": "Bicycle parking spaces",
        "description": "Capacité totale des emplacements de stationnement cyclable recensés "
        "(somme de `capacite`, schéma stationnement cyclable).",
        "unit": "places",
        "definition": {
            "kind": "declarative",
            "dataset": "stationnement-cyclable",
            "aggregate": "sum",
            "measure": "capacite",
            "commune": "code_com",
        },
        "period": "none",
        "owner": "direction-mobilites",
        "theme": "TRAN",
    },
    {
        "code": "consommation-eau-par-habitant",
        "title": "Consommation d'eau potable par habitant",
        "title_en": "Drinking water consumption per inhabitant",
        "description": "Volume facturé dans le mois rapporté à la population municipale "
        "(données du délégataire).",
        "unit": "m³ / habitant / mois",
        "definition": {
            "kind": "declarative",
            "dataset": "consommation-eau-potable-par-commune",
            "aggregate": "sum",
            "measure": "volume_m3",
            "commune": "code_insee",
            "date": "mois",
        },
        "period": "month",
        "normalisation": "per_inhabitant",
        "target": 4.0,
        "alert_threshold": 4.8,
        "direction": "lower",
        "owner": PARTNER_SLUG,
        "theme": "ENVI",
        "access_level": "internal",
    },
    {
        "code": "depenses-equipement-par-habitant",
        "title": "Dépenses d'équipement brut par habitant",
        "title_en": "Gross capital expenditure per inhabitant",
        "description": "Ratio financier n° 4 (art. R. 2313-1 du CGCT) : dépenses réelles "
        "d'investissement des comptes 20, 21 et 23 prévues au budget primitif, rapportées à "
        "la population de l'agglomération (SCDL Budget).",
        "unit": "€ / habitant",
        "definition": {"kind": "sql", "sql": BUDGET_SQL},
        "period": "year",
        "breakdown": "epci",
        "normalisation": "per_inhabitant",
        "target": 150.0,
        "direction": "higher",
        "owner": EPCI_SLUG,
        "theme": "ECON",
        "access_level": "internal",
    },
]


def _publish_data(
    session: Session, actor: Actor, settings: Settings, slug: str, table: pa.Table
) -> bool:
    dataset = session.scalar(select(Dataset).where(Dataset.slug == slug))
    if dataset is None:
        return False
    has_version = session.scalar(
        select(DatasetVersion.id).where(DatasetVersion.dataset_id == dataset.id).limit(1)
    )
    if has_version is not None:
        return False  # loaded before (or data of its own): left as it is
    upload_id = str(uuid.uuid4())
    stored = store_for(settings).write(
        dataset.store_key, table.to_batches(), table.schema, upload_id=upload_id
    )
    version = record_version(
        session,
        actor,
        dataset,
        upload_id=upload_id,
        store_version=stored.version,
        mode="replace",
        row_count=stored.rows,
        columns=[{"name": f.name, "type": str(f.type)} for f in table.schema],
        profile=[],
        dialect={},
        source_name=f"{slug}-demo.parquet",
        source_bytes=table.nbytes,
    )
    publish_version(session, actor, slug, version.number)
    return True


def load_demo_indicators(session: Session, actor: Actor, settings: Settings) -> list[str]:
    """Publish the demo sources (once) and create the demo indicators (once).

    Returns the codes of the indicators created by this call.
    """
    for slug, generate, seed in SOURCES:
        _publish_data(session, actor, settings, slug, generate(random.Random(seed)))  # noqa: S311
    created = []
    for fields in INDICATORS:
        if session.scalar(select(Indicator.id).where(Indicator.code == fields["code"])) is None:
            create_indicator(session, actor, settings, parse(IndicatorCreate, fields))
            created.append(fields["code"])
    return created
