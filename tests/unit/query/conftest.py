"""An instance with real files ingested through the real pipeline, for the query tests.

Built once per module (ingestion is the slow part): ``public`` (the Castelmaurou
subsidies, published), ``irve`` (EV charging points of 2019, keyed on the INSEE codes of
that year, published), ``secret`` (organisation-only, published), ``staged`` (public but
never published) and ``twice`` (two published versions: 95 rows, then the 29 rows of the
valid SCDL example).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Actor
from beffroi.catalog.db import make_engine, session_factory, transaction, upgrade
from beffroi.catalog.models import AccessLevel
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.pipeline import ingest_file
from beffroi.settings import Settings
from beffroi.store import store_for
from tests.conftest import SHARED_DATA, make_settings
from tests.factories import make_dataset, make_org

SUBVENTIONS = (
    SHARED_DATA
    / "schemas"
    / "scdl-subventions"
    / "examples"
    / "real-subventions-commune-de-castelmaurou.csv"
)
SUBVENTIONS_VALID = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
IRVE = SHARED_DATA / "messy" / "bornes-irve-20190805.csv"


@dataclass
class Instance:
    settings: Settings
    factory: sessionmaker[Session]
    paths: dict[str, Path]

    def session(self) -> Session:
        return self.factory()


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    data_dir = tmp_path_factory.mktemp("query-instance")
    settings = make_settings(data_dir, query_timeout_seconds=5)
    engine = make_engine(settings.catalog_url)
    upgrade(engine)
    factory = session_factory(engine)
    operator = Actor.system(name="test")
    with transaction(factory) as session:
        publisher = make_org(session, slug="service-finances")
        make_dataset(session, slug="public", publisher=publisher)
        make_dataset(session, slug="irve", publisher=publisher)
        make_dataset(
            session, slug="secret", publisher=publisher, access_level=AccessLevel.ORGANIZATION
        )
        make_dataset(session, slug="staged", publisher=publisher)
        make_dataset(session, slug="twice", publisher=publisher)
    store = store_for(settings)
    ingest_file(factory, store, operator, "public", SUBVENTIONS, publish=True)
    ingest_file(
        factory, store, operator, "irve", IRVE, publish=True, options=ReadOptions(delimiter=";")
    )
    ingest_file(factory, store, operator, "secret", SUBVENTIONS_VALID, publish=True)
    ingest_file(factory, store, operator, "staged", SUBVENTIONS_VALID, publish=False)
    ingest_file(factory, store, operator, "twice", SUBVENTIONS, publish=True)
    ingest_file(factory, store, operator, "twice", SUBVENTIONS_VALID, publish=True)
    paths = {
        "tables": settings.data_dir / "tables",
        "catalog": settings.data_dir / "catalog.sqlite3",
    }
    yield Instance(settings=settings, factory=factory, paths=paths)
    engine.dispose()
