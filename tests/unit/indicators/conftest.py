"""A demo instance with the indicators' source data published, built once per module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Actor
from beffroi.catalog.db import make_engine, session_factory, transaction, upgrade
from beffroi.catalog.demo import DemoReport, load_demo
from beffroi.catalog.models import Dataset, DatasetPrivacy
from beffroi.indicators import services
from beffroi.settings import Settings
from tests.conftest import make_settings

MIN_CELL = 5
SUBSIDIES = "subventions-associations"


def with_secrecy(session: Session, settings: Settings) -> None:
    """Statistical secrecy on the subsidies (5 grants at least), then recompute them."""
    dataset = session.scalar(select(Dataset).where(Dataset.slug == SUBSIDIES))
    assert dataset is not None
    session.add(DatasetPrivacy(dataset_id=dataset.id, min_cell_size=MIN_CELL))
    session.flush()
    services.compute_indicators(
        session, Actor.system(name="test"), settings, "subventions-associations-par-habitant"
    )


@dataclass
class Instance:
    settings: Settings
    factory: sessionmaker[Session]
    report: DemoReport


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """``beffroi init && beffroi demo`` (with the demo data and indicators)."""
    data_dir = tmp_path_factory.mktemp("indicators")
    settings = make_settings(data_dir)
    engine = make_engine(settings.catalog_url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        report = load_demo(session, Actor.system(name="test"), settings)
        with_secrecy(session, settings)
    yield Instance(settings=settings, factory=factory, report=report)
    engine.dispose()


@pytest.fixture
def db(instance: Instance) -> Iterator[Session]:
    """A session on the module's instance, rolled back at the end of the test."""
    session = instance.factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
