"""Catalogues for the publication tests: the demo EPCI, and datasets with every field filled."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog.demo import EPCI_SLUG, DemoReport, load_demo
from beffroi.catalog.models import Dataset
from beffroi.catalog.versions import publish_version, record_version
from tests.factories import make_dataset, make_org, new_siren

BASE = "https://data.example.org"

COLUMNS = [
    {"name": "nom_beneficiaire", "type": "string"},
    {"name": "montant", "type": "double"},
    {"name": "date_convention", "type": "date32[day]"},
    {"name": "geometrie", "type": "binary"},
]
PROFILE = [
    {"name": "nom_beneficiaire", "type": "string", "rows": 3, "null_count": 0},
    {"name": "montant", "type": "number", "rows": 3, "null_count": 1},
    {"name": "date_convention", "type": "date", "rows": 3, "null_count": 0},
    {"name": "geometrie", "type": "geometry", "rows": 3, "null_count": 0},
]


@pytest.fixture
def demo(session: Session, system: Actor) -> DemoReport:
    """The demo intercommunality loaded in the test session."""
    return load_demo(session, system)


def publish_data(
    session: Session,
    actor: Actor,
    dataset: Dataset,
    *,
    columns: list[dict[str, Any]] | None = None,
    profile: list[dict[str, Any]] | None = None,
) -> None:
    """Record a version of ``dataset`` (as an ingestion does) and publish it."""
    version = record_version(
        session,
        actor,
        dataset,
        upload_id=str(uuid.uuid4()),
        store_version=0,
        mode="replace",
        row_count=3,
        columns=columns if columns is not None else COLUMNS,
        profile=profile if profile is not None else PROFILE,
        dialect={"encoding": "utf-8", "delimiter": ";"},
        source_name="subventions.csv",
        source_bytes=120,
    )
    publish_version(session, actor, dataset.slug, version.number)


def full_dataset(session: Session, actor: Actor, **overrides: Any) -> Dataset:
    """A public dataset with every optional field filled and a published version."""
    publisher = make_org(
        session,
        kind="epci",
        name="Communauté de communes d'essai",
        siren=new_siren(),
        website="https://www.cc-essai.example.org",
    )
    fields: dict[str, Any] = {
        "publisher": publisher,
        "title": "Subventions aux associations",
        "description": "Toutes les **subventions** versées, au format SCDL.",
        "keywords": ["subventions", "associations"],
        "themes": ["ECON", "GOVE"],
        "license": "ODbL-1.0",
        "contact_name": "Service des finances",
        "contact_email": "finances@cc-essai.example.org",
        "frequency": "ANNUAL",
        "spatial": ["commune:56121", "epci:200042174"],
        "spatial_granularity": "fr:commune",
        "temporal_start": dt.date(2024, 1, 1),
        "temporal_end": dt.date(2024, 12, 31),
        "schema_ref": "scdl/subventions@2.1.0",
    }
    fields.update(overrides)
    dataset = make_dataset(session, actor, **fields)
    publish_data(session, actor, dataset)
    return dataset


__all__ = ["BASE", "EPCI_SLUG", "full_dataset", "publish_data"]
