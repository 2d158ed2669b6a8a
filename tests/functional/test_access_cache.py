"""The access-decision cache over HTTP, on SQLite and the real PostgreSQL.

A cached decision costs one query (the access epoch); any write to what decides access —
through the API, the services, or straight SQL from another connection, as another worker
or process would — moves the epoch, and the very next request decides afresh.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, select, text

from beffroi.access import Actor, clock
from beffroi.access import agreements as ag
from beffroi.access.reading import clear_cache
from beffroi.catalog.db import transaction
from beffroi.catalog.models import AuditEvent
from tests.functional.conftest import BACKENDS, DemoInstance, bearer
from tests.functional.test_agreements import DAY, LANESTER, LORIENT, NOW, World, build_world

pytestmark = pytest.mark.parametrize("backend", BACKENDS)

# Tables an access decision reads: a cache hit must not touch any of them.
DECISION_TABLES = re.compile(
    r"\b(FROM|JOIN)\s+\"?(dataset|dataset_version|sharing_agreement|agreement_grantee|"
    r"agreement_dataset|licence_acceptance|column_flag|dataset_privacy)\"?\b",
    re.IGNORECASE,
)


@pytest.fixture
def world(client: TestClient, demo_instance: DemoInstance, tmp_path: Path) -> World:
    clear_cache()
    return build_world(client, demo_instance, tmp_path)


@contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the application's catalogue engine runs inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engine = client.app.state.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def decision_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if DECISION_TABLES.search(s)]


def raw_sql(demo: DemoInstance, sql: str, **params: Any) -> None:
    """A write from outside the application (its own engine and connection)."""
    other = create_engine(demo.settings.catalog_url)
    try:
        with other.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        other.dispose()


def test_a_cache_hit_reads_only_the_epoch(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    public = f"/api/v1/datasets/{world.datasets['public']}/records"
    first = client.get(public)
    assert first.status_code == 200, first.text
    with statements(client) as seen:
        again = client.get(public)
    assert again.json()["data"] == first.json()["data"]
    assert decision_reads(seen) == []
    epoch_reads = [s for s in seen if "access_epoch" in s]
    assert len(epoch_reads) == 1
    assert epoch_reads[0].startswith("SELECT value, salt")
    assert epoch_reads[0].endswith("FROM access_epoch WHERE id = 1")
    # SQL's list of readable tables is remembered the same way.
    counted = {"sql": f'SELECT count(*) AS n FROM "{world.datasets["public"]}"'}  # noqa: S608
    assert client.post("/api/v1/sql", json=counted).status_code == 200
    with statements(client) as seen:
        assert client.post("/api/v1/sql", json=counted).json()["data"] == [{"n": 3}]
    assert decision_reads(seen) == []
    # A miss, for comparison: the decision reads its tables.
    raw_sql(
        demo_instance,
        "UPDATE dataset SET title = title WHERE slug = :s",
        s=world.datasets["public"],
    )
    with statements(client) as seen:
        assert client.get(public).status_code == 200
    assert decision_reads(seen)


def test_agreement_changes_reach_the_next_request(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    restricted = f"/api/v1/datasets/{world.datasets['restricted']}/records"
    partner = bearer(client, "partenaire-eau")
    rows = client.get(restricted, headers=partner).json()["data"]
    assert {str(r["code_insee"]) for r in rows} == {LORIENT}
    with statements(client) as seen:
        assert client.get(restricted, headers=partner).status_code == 200
    assert decision_reads(seen) == []  # cached, for a token holder too
    # Every read through an agreement is audited, cached decision or not.
    with transaction(client.app.state.session_factory) as session:
        reads = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "agreement.read")
        ).all()
    assert len(reads) == 2
    # Suspended (service, another transaction): 404 at once; approved again: back.
    operator = Actor.system(name="test")
    with transaction(client.app.state.session_factory) as session:
        ag.suspend_agreement(session, operator, world.active_agreement)
    assert client.get(restricted, headers=partner).status_code == 404
    with transaction(client.app.state.session_factory) as session:
        ag.approve_agreement(session, operator, world.active_agreement)
    assert client.get(restricted, headers=partner).status_code == 200
    # The row filter changed by plain SQL from another connection (another process).
    raw_sql(
        demo_instance,
        "UPDATE sharing_agreement SET row_filter = :f WHERE id = :i",
        f='{"column": "code_insee", "in": ["' + LANESTER + '"]}',
        i=world.active_agreement,
    )
    rows = client.get(restricted, headers=partner).json()["data"]
    assert {str(r["code_insee"]) for r in rows} == {LANESTER}
    # The grantee removed from the agreement (a row of the association table).
    raw_sql(
        demo_instance,
        "DELETE FROM agreement_grantee WHERE agreement_id = :i",
        i=world.active_agreement,
    )
    assert client.get(restricted, headers=partner).status_code == 404


def test_agreement_dates_bound_a_cached_decision(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    restricted = f"/api/v1/datasets/{world.datasets['restricted']}/records"
    partner = bearer(client, "partenaire-eau")
    assert client.get(restricted, headers=partner).status_code == 200
    with clock.frozen_at(NOW + 400 * DAY):  # past the end date: no write, still closed
        assert client.get(restricted, headers=partner).status_code == 404
    with clock.frozen_at(NOW - 2 * DAY):  # before the start date
        assert client.get(restricted, headers=partner).status_code == 404
    assert client.get(restricted, headers=partner).status_code == 200


def test_unpublish_and_access_level_reach_the_next_request(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    slug = world.datasets["public"]
    public = f"/api/v1/datasets/{slug}/records"
    assert client.get(public).status_code == 200
    assert client.get(public).status_code == 200  # cached
    demo = demo_instance
    raw_sql(demo, "UPDATE dataset SET access_level = 'organization' WHERE slug = :s", s=slug)
    assert client.get(public).status_code == 404
    raw_sql(demo, "UPDATE dataset SET access_level = 'public' WHERE slug = :s", s=slug)
    assert client.get(public).status_code == 200
    counted = {"sql": f'SELECT count(*) AS n FROM "{slug}"'}  # noqa: S608 - our own slug
    assert client.post("/api/v1/sql", json=counted).json()["data"] == [{"n": 3}]
    assert client.post("/api/v1/sql", json=counted).status_code == 200  # cached tables
    raw_sql(demo, "UPDATE dataset SET published_version_id = NULL WHERE slug = :s", s=slug)
    assert client.get(public).status_code == 404
    assert client.post("/api/v1/sql", json=counted).status_code >= 400


def test_licence_acceptance_reaches_the_next_request(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    registered = world.datasets["registered"]
    records = f"/api/v1/datasets/{registered}/records"
    viewer = bearer(client, "lecteur-lanester")
    assert client.get(records, headers=viewer).status_code == 403
    assert client.get(records, headers=viewer).status_code == 403
    accepted = client.post(f"/api/v1/datasets/{registered}/licence-acceptance", headers=viewer)
    assert accepted.status_code == 201, accepted.text
    assert client.get(records, headers=viewer).status_code == 200
    # A new licence asks for a new acceptance, on the very next request.
    raw_sql(
        demo_instance,
        "UPDATE dataset SET license = 'ODbL-1.0' WHERE slug = :s",
        s=registered,
    )
    assert client.get(records, headers=viewer).status_code == 403


def test_personal_columns_reach_the_next_request(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    internal = world.datasets["internal"]
    records = f"/api/v1/datasets/{internal}/records"
    viewer = bearer(client, "lecteur-lanester")
    first = client.get(records, headers=viewer).json()["data"][0]
    assert "volume_m3" in first
    assert "abonne_email" not in first  # detected on upload: hidden outside the owner
    steward = bearer(client, "referent-eau")
    flagged = client.post(
        f"/api/v1/datasets/{internal}/privacy/columns/volume_m3",
        json={"status": "confirmed", "category": "other"},
        headers=steward,
    )
    assert flagged.status_code == 200, flagged.text
    assert "volume_m3" not in client.get(records, headers=viewer).json()["data"][0]
