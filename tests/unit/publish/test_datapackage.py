"""The Data Package descriptor: Table Schema of the published version, as its reader sees it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.access.narrowing import personal_columns
from beffroi.catalog.models import ColumnFlag
from beffroi.publish import public
from beffroi.publish.datapackage import datapackage, datapackage_for
from tests.unit.publish.conftest import BASE, full_dataset


def test_schema_of_the_published_version(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    [resource] = datapackage(dataset, BASE)["resources"]
    assert resource["schema"]["fields"] == [
        {"name": "nom_beneficiaire", "type": "string"},
        {"name": "montant", "type": "number"},
        {"name": "date_convention", "type": "date"},
        {"name": "geometrie", "type": "string", "description": "géométrie (WKT)"},
    ]


def test_personal_columns_never_reach_the_public_schema(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    if "montant" not in personal_columns(session, dataset.id):
        session.add(
            ColumnFlag(
                dataset_id=dataset.id,
                column_name="montant",
                category="other",
                confidence=1.0,
                status="confirmed",
            )
        )
        session.flush()
    hidden = personal_columns(session, dataset.id)
    assert "montant" in hidden
    outside = datapackage_for(session, public.anonymous(), dataset, BASE)
    names = [f["name"] for f in outside["resources"][0]["schema"]["fields"]]
    everything = ["nom_beneficiaire", "montant", "date_convention", "geometrie"]
    assert names == [n for n in everything if n not in hidden]
    owner = datapackage_for(session, system, dataset, BASE)
    assert [f["name"] for f in owner["resources"][0]["schema"]["fields"]] == everything
