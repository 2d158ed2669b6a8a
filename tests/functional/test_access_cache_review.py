"""Security review of the access-decision cache (migration 0012, access/cache.py), over the
real services and HTTP, on SQLite and the real PostgreSQL.

Each test would fail on a hole: a decision served from the cache after what decided it
changed (another app instance, another OS process, time), two actors sharing an entry, a
read through an agreement not audited on a cache hit. Tests marked ``xfail(strict=True)``
show holes still open (see their reason); the fix flips them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, select, text

from beffroi.access import clock
from beffroi.access.accounts import create_token, get_user
from beffroi.access.reading import clear_cache, readable_table
from beffroi.catalog.db import transaction
from beffroi.catalog.models import AuditEvent, Dataset
from beffroi.web.app import create_app
from tests.factories import actor_for
from tests.functional.conftest import BACKENDS, DemoInstance, bearer
from tests.functional.test_agreements import DAY, LORIENT, NOW, World, build_world

pytestmark = pytest.mark.parametrize("backend", BACKENDS)

PARTNER = "partenaire-eau"


@pytest.fixture
def world(client: TestClient, demo_instance: DemoInstance, tmp_path: Path) -> World:
    clear_cache()
    return build_world(client, demo_instance, tmp_path)


def raw_sql(demo: DemoInstance, sql: str, **params: Any) -> None:
    """A write from another engine and connection (another worker would do the same)."""
    other = create_engine(demo.settings.catalog_url)
    try:
        with other.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        other.dispose()


def other_process_sql(demo: DemoInstance, sql: str) -> None:
    """A write from another OS process (no shared memory at all with the application)."""
    script = (
        "import sys\n"
        "from sqlalchemy import create_engine, text\n"
        "engine = create_engine(sys.argv[1])\n"
        "with engine.begin() as connection:\n"
        "    connection.execute(text(sys.argv[2]))\n"
        "engine.dispose()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, demo.settings.catalog_url, sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def second_client(demo_instance: DemoInstance, client: TestClient) -> Iterator[TestClient]:
    """A second application instance on the same catalogue (another worker)."""
    app = create_app(demo_instance.settings)
    try:
        with TestClient(app) as other:
            yield other
    finally:
        app.state.engine.dispose()


def records(client: TestClient, slug: str, headers: dict[str, str] | None = None) -> Any:
    return client.get(f"/api/v1/datasets/{slug}/records", headers=headers or {})


def test_review_a_revoke_in_one_instance_or_process_reaches_the_other(
    client: TestClient,
    second_client: TestClient,
    world: World,
    demo_instance: DemoInstance,
) -> None:
    restricted = world.datasets["restricted"]
    partner = bearer(client, PARTNER)
    assert records(client, restricted, partner).status_code == 200
    assert records(client, restricted, partner).status_code == 200  # cached in instance 1
    steward = bearer(second_client, "referent-eau")
    suspended = second_client.post(
        f"/api/v1/agreements/{world.active_agreement}/suspend", headers=steward
    )
    assert suspended.status_code == 200, suspended.text
    assert records(client, restricted, partner).status_code == 404
    # Approved again by another OS process, then the partner's membership removed by one.
    other_process_sql(
        demo_instance,
        f"UPDATE sharing_agreement SET status = 'active' WHERE id = {world.active_agreement}",  # noqa: S608
    )
    assert records(client, restricted, partner).status_code == 200
    assert records(second_client, restricted, partner).status_code == 200
    other_process_sql(
        demo_instance,
        "DELETE FROM membership WHERE user_id = "
        "(SELECT id FROM user_account WHERE username = 'partenaire-eau')",
    )
    assert records(client, restricted, partner).status_code == 404
    assert records(second_client, restricted, partner).status_code == 404


def test_review_disabled_user_and_revoked_token_refused_on_the_next_request(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    restricted = world.datasets["restricted"]
    partner = bearer(client, PARTNER)
    assert records(client, restricted, partner).status_code == 200
    assert records(client, restricted, partner).status_code == 200
    raw_sql(demo_instance, "UPDATE user_account SET is_active = :f WHERE username = :u",
            f=False, u=PARTNER)  # fmt: skip
    assert records(client, restricted, partner).status_code in {401, 403, 404}
    raw_sql(demo_instance, "UPDATE user_account SET is_active = :t WHERE username = :u",
            t=True, u=PARTNER)  # fmt: skip
    assert records(client, restricted, partner).status_code == 200
    raw_sql(demo_instance, "UPDATE api_token SET revoked_at = CURRENT_TIMESTAMP")
    assert records(client, restricted, partner).status_code in {401, 403}


def _token(client: TestClient, username: str, **options: Any) -> dict[str, str]:
    with transaction(client.app.state.session_factory) as session:
        from beffroi.access import Actor

        _, secret = create_token(session, Actor.system(name="test"), username, "revue", **options)
    return {"Authorization": f"Bearer {secret}"}


def test_review_a_token_narrower_than_its_user_never_shares_its_entry(
    client: TestClient, world: World
) -> None:
    restricted, public = world.datasets["restricted"], world.datasets["public"]
    whole = _token(client, "referent-eau")
    limited = _token(client, "referent-eau", scope="read", datasets=[public])
    # The user's own decision first, then the limited token: still refused.
    assert records(client, restricted, whole).status_code == 200
    assert records(client, restricted, limited).status_code == 404
    # The other way round, on SQL (the cached readable_tables).
    clear_cache()
    counted = {"sql": f'SELECT count(*) AS n FROM "{restricted}"'}  # noqa: S608 - our slug
    assert client.post("/api/v1/sql", json=counted, headers=limited).status_code >= 400
    wide = client.post("/api/v1/sql", json=counted, headers=whole)
    assert wide.status_code == 200, wide.text
    assert client.post("/api/v1/sql", json=counted, headers=limited).status_code >= 400
    mine = {"sql": f'SELECT count(*) AS n FROM "{public}"'}  # noqa: S608 - our slug
    assert client.post("/api/v1/sql", json=mine, headers=limited).status_code == 200


def test_review_anonymous_never_gets_a_signed_in_entry(client: TestClient, world: World) -> None:
    internal, registered = world.datasets["internal"], world.datasets["registered"]
    viewer = bearer(client, "lecteur-lanester")  # territory member
    assert records(client, internal, viewer).status_code == 200
    assert records(client, internal).status_code == 404
    accepted = client.post(f"/api/v1/datasets/{registered}/licence-acceptance", headers=viewer)
    assert accepted.status_code == 201, accepted.text
    assert records(client, registered, viewer).status_code == 200
    assert records(client, registered).status_code == 404
    # Another signed-in user who did not accept the licence does not inherit the entry.
    other = bearer(client, "ancien-partenaire")
    assert records(client, registered, other).status_code == 403


def test_review_agreement_end_closes_cached_sql_tables(client: TestClient, world: World) -> None:
    restricted = world.datasets["restricted"]
    partner = bearer(client, PARTNER)
    counted = {"sql": f'SELECT count(*) AS n FROM "{restricted}"'}  # noqa: S608 - our slug
    first = client.post("/api/v1/sql", json=counted, headers=partner)
    assert first.status_code == 200, first.text
    assert first.json()["data"] == [{"n": 2}]  # the agreement's rows only (Lorient)
    assert client.post("/api/v1/sql", json=counted, headers=partner).status_code == 200
    with clock.frozen_at(NOW + 400 * DAY):  # past the end date, no write: closed
        assert client.post("/api/v1/sql", json=counted, headers=partner).status_code >= 400
    with clock.frozen_at(NOW - 2 * DAY):  # before the start date
        assert client.post("/api/v1/sql", json=counted, headers=partner).status_code >= 400
    assert client.post("/api/v1/sql", json=counted, headers=partner).status_code == 200


def test_review_agreement_reads_audited_on_hits_under_the_live_actor(
    client: TestClient, world: World
) -> None:
    restricted = world.datasets["restricted"]
    with transaction(client.app.state.session_factory) as session:
        from beffroi.access import Actor

        system = Actor.system(name="test")
        first, secret_1 = create_token(session, system, PARTNER, "un")
        second, secret_2 = create_token(session, system, PARTNER, "deux")
        ids = (first.id, second.id)
    rows_1 = records(client, restricted, {"Authorization": f"Bearer {secret_1}"})
    rows_2 = records(client, restricted, {"Authorization": f"Bearer {secret_2}"})  # a hit
    assert rows_1.status_code == rows_2.status_code == 200
    assert {str(r["code_insee"]) for r in rows_2.json()["data"]} == {LORIENT}
    counted = {"sql": f'SELECT count(*) AS n FROM "{restricted}"'}  # noqa: S608 - our slug
    for _ in range(2):
        sql = client.post(
            "/api/v1/sql", json=counted, headers={"Authorization": f"Bearer {secret_2}"}
        )
        assert sql.status_code == 200, sql.text
    with transaction(client.app.state.session_factory) as session:
        reads = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "agreement.read").order_by(AuditEvent.id)
        ).all()
        labels = [(e.actor, e.surface, e.object_id) for e in reads]
    assert labels == [
        (f"user:{PARTNER} (token {ids[0]})", "api", restricted),
        (f"user:{PARTNER} (token {ids[1]})", "api", restricted),
        (f"user:{PARTNER} (token {ids[1]})", "api", restricted),
        (f"user:{PARTNER} (token {ids[1]})", "api", restricted),
    ]


def test_review_a_slug_taken_over_by_another_dataset_is_decided_afresh(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    public, restricted = world.datasets["public"], world.datasets["restricted"]
    assert records(client, public).status_code == 200
    assert records(client, public).status_code == 200  # cached for anonymous under this slug
    raw_sql(demo_instance, "UPDATE dataset SET slug = :n WHERE slug = :o", n="ancien", o=public)
    raw_sql(demo_instance, "UPDATE dataset SET slug = :n WHERE slug = :o", n=public, o=restricted)
    assert records(client, public).status_code == 404  # now the restricted dataset's slug
    raw_sql(demo_instance, "UPDATE dataset SET deleted_at = CURRENT_TIMESTAMP WHERE slug = :s",
            s="ancien")  # fmt: skip
    assert records(client, "ancien").status_code == 404


def _stale_publisher_decision(client: TestClient, world: World, demo: DemoInstance) -> Any:
    """An insider's request that loaded the dataset before another worker moved it to an
    organisation the reader is not a member of; then the reader's next request."""
    public = world.datasets["public"]
    factory = client.app.state.session_factory
    with factory() as session:
        actor = actor_for(session, get_user(session, "editeur-eau"), surface="api")
        # The request loads the dataset first (metadata, as_of, page…), as routes do.
        # (the identity map holds objects weakly: the route keeps a reference, so do we)
        loaded = session.scalar(select(Dataset).where(Dataset.slug == public))
        assert loaded is not None
        raw_sql(
            demo,
            "UPDATE dataset SET publisher_id = "
            "(SELECT id FROM organization WHERE slug = 'ancien-delegataire') WHERE slug = :s",
            s=public,
        )
        readable_table(session, actor, public)
        del loaded
    with factory() as session:  # the next request, another session
        actor = actor_for(session, get_user(session, "editeur-eau"), surface="api")
        return readable_table(session, actor, public)


def test_review_control_an_unloaded_dataset_moved_away_hides_personal_columns(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    public = world.datasets["public"]
    editor = bearer(client, "editeur-eau")
    assert "abonne_email" in records(client, public, editor).json()["data"][0]  # insider
    raw_sql(
        demo_instance,
        "UPDATE dataset SET publisher_id = "
        "(SELECT id FROM organization WHERE slug = 'ancien-delegataire') WHERE slug = :s",
        s=public,
    )
    assert "abonne_email" not in records(client, public, editor).json()["data"][0]


def test_review_a_decision_is_never_older_than_its_epoch(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    table = _stale_publisher_decision(client, world, demo_instance)
    assert table.columns is not None
    assert "abonne_email" not in table.columns


def test_review_a_concurrent_transfer_during_a_datapackage_request_is_not_cached(
    client: TestClient, world: World, demo_instance: DemoInstance
) -> None:
    public = world.datasets["public"]
    editor = bearer(client, "editeur-eau")
    engine = client.app.state.engine
    pending = ["move"]

    def commit_in_the_window(*args: Any) -> None:
        # Another worker commits right between the route's dataset load and the epoch read.
        if pending and "access_epoch" in str(args[2]):
            pending.clear()
            raw_sql(
                demo_instance,
                "UPDATE dataset SET publisher_id = "
                "(SELECT id FROM organization WHERE slug = 'ancien-delegataire') WHERE slug = :s",
                s=public,
            )

    event.listen(engine, "before_cursor_execute", commit_in_the_window)
    try:
        assert client.get(f"/api/v1/datasets/{public}/datapackage.json", headers=editor).is_success
    finally:
        event.remove(engine, "before_cursor_execute", commit_in_the_window)
    assert pending == []  # the concurrent commit did happen
    # The next request: the dataset is another organisation's, personal columns hidden.
    assert "abonne_email" not in records(client, public, editor).json()["data"][0]


def test_review_a_read_only_token_never_gets_its_users_staged_version(
    client: TestClient, world: World, demo_instance: DemoInstance, tmp_path: Path
) -> None:
    from beffroi.access import Actor
    from beffroi.ingest.pipeline import ingest_file
    from beffroi.store import store_for

    slug = world.datasets["public"]
    source = tmp_path / "staged.csv"
    source.write_text("code_insee,commune,volume_m3\n56121,Lorient,1\n", encoding="utf-8")
    factory = client.app.state.session_factory
    store = store_for(demo_instance.settings)
    ingest_file(factory, store, Actor.system(name="test"), slug, source, publish=False)
    staged = f"/api/v1/datasets/{slug}/records?version=2"
    write = _token(client, "editeur-eau")
    read = _token(client, "editeur-eau", scope="read")
    assert client.get(staged, headers=write).status_code == 200  # the editor's staged version
    assert client.get(staged, headers=read).status_code == 404  # a read token may not
    assert client.get(staged).status_code == 404
    assert client.get(staged, headers=write).status_code == 200
