"""An instance with a restricted water-consumption table, its owner, grantees and outsiders.

Built once per module through the real services and the real ingestion pipeline (DuckDB
reads through the query engine). Tests that change agreements create their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Actor
from beffroi.catalog.db import make_engine, session_factory, transaction, upgrade
from beffroi.catalog.models import AccessLevel, OrgKind, Role
from beffroi.ingest.pipeline import ingest_file
from beffroi.settings import Settings
from beffroi.store import store_for
from tests.conftest import make_settings
from tests.factories import (
    actor_for,
    cheap_password_hashing,
    make_dataset,
    make_org,
    make_user,
    new_insee_code,
)


@dataclass
class World:
    settings: Settings
    factory: sessionmaker[Session]
    commune_a: str  # INSEE codes
    commune_b: str
    users: dict[str, str]  # label -> username
    orgs: dict[str, str]  # label -> slug

    def actor(self, session: Session, label: str) -> Actor:
        from beffroi.access.accounts import get_user

        return actor_for(session, get_user(session, self.users[label]), surface="api")


def _csv(path: Path, a: str, b: str) -> Path:
    rows = [
        "code_insee,commune,volume_m3,abonne_nom,abonne_email",
        f"{a},Alpha,120,Jean Dupont,jean.dupont@example.org",
        f"{a},Alpha,80,Marie Curie,marie.curie@example.org",
        f"{b},Bravo,200,Paul Martin,paul.martin@example.org",
        f"{b},Bravo,50,Anne L'Héritier,anne.lheritier@example.org",
        f"{b},Bravo,75,Luc Petit,luc.petit@example.org",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("access-instance")
    settings = make_settings(data_dir)
    engine = make_engine(settings.catalog_url)
    upgrade(engine)
    factory = session_factory(engine)
    a, b = new_insee_code(), new_insee_code()
    with cheap_password_hashing(), transaction(factory) as session:
        epci = make_org(session, kind=OrgKind.EPCI)
        owner = make_org(session, kind=OrgKind.SERVICE, parent=epci, slug="eau-" + a)
        other = make_org(session, kind=OrgKind.SERVICE, parent=epci)
        commune_a = make_org(session, kind=OrgKind.COMMUNE, insee_code=a, parent=epci)
        commune_b = make_org(session, kind=OrgKind.COMMUNE, insee_code=b, parent=epci)
        partner = make_org(session, kind=OrgKind.PARTNER)
        users = {
            "steward": make_user(session, memberships={owner: Role.STEWARD}).username,
            "editor": make_user(session, memberships={owner: Role.EDITOR}).username,
            "owner_viewer": make_user(session, memberships={owner: Role.VIEWER}).username,
            "commune_a": make_user(session, memberships={commune_a: Role.VIEWER}).username,
            "commune_b": make_user(session, memberships={commune_b: Role.VIEWER}).username,
            "partner": make_user(session, memberships={partner: Role.EDITOR}).username,
            "other_steward": make_user(session, memberships={other: Role.STEWARD}).username,
        }
        make_dataset(
            session, slug="conso-" + a, publisher=owner, access_level=AccessLevel.RESTRICTED
        )
        make_dataset(session, slug="public-" + a, publisher=owner)
        make_dataset(session, slug="foreign-" + a, publisher=other)
        orgs = {
            "owner": owner.slug,
            "other": other.slug,
            "commune_a": commune_a.slug,
            "commune_b": commune_b.slug,
            "partner": partner.slug,
        }
    store = store_for(settings)
    source = _csv(data_dir / "conso.csv", a, b)
    operator = Actor.system(name="test")
    ingest_file(factory, store, operator, "conso-" + a, source, publish=True)
    ingest_file(factory, store, operator, "public-" + a, source, publish=True)
    yield World(settings, factory, a, b, users, orgs)
    engine.dispose()
