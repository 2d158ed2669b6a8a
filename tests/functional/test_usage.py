"""Usage counters: page views, downloads and records API calls counted in memory, written
in one batch (tick, shutdown), and the home page's most used datasets — among those the
visitor may read, over the last 30 days, no personal data stored."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.catalog import usage
from beffroi.catalog.db import make_engine, transaction
from beffroi.catalog.models import Dataset, DatasetUsage
from beffroi.catalog.schemas import DatasetCreate
from beffroi.catalog.services import create_dataset
from beffroi.web.app import create_app
from tests.functional.conftest import BACKENDS, DemoInstance, bearer
from tests.functional.test_records import PARTNER_ONLY, PUBLIC, SUBVENTIONS, VALID, load
from tests.functional.test_views import EPCI

HTML = {"Accept": "text/html"}


def stored(client: TestClient) -> dict[tuple[str, dt.date], tuple[int, int, int]]:
    """The rows of dataset_usage, by dataset slug and day."""
    query = sa.select(
        Dataset.slug,
        DatasetUsage.day,
        DatasetUsage.views,
        DatasetUsage.downloads,
        DatasetUsage.api_calls,
    ).join(Dataset, Dataset.id == DatasetUsage.dataset_id)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return {(s, d): (v, dl, a) for s, d, v, dl, a in session.execute(query).all()}


def dataset_id(client: TestClient, slug: str) -> int:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        found = session.scalar(sa.select(Dataset.id).where(Dataset.slug == slug))
    assert found is not None
    return int(found)


@pytest.mark.parametrize("backend", BACKENDS)
def test_uses_are_counted_in_memory_then_written_in_one_batch(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    usage.flush(engine)  # whatever the loading counted
    before = stored(client)
    for _ in range(3):
        assert client.get(f"/jeux-de-donnees/{PUBLIC}", headers=HTML).status_code == 200
    assert client.get(f"/api/v1/datasets/{PUBLIC}/export.csv").status_code == 200
    for _ in range(2):
        assert client.get(f"/api/v1/datasets/{PUBLIC}/records?limit=1").status_code == 200
    # A refused request counts nothing.
    assert client.get(f"/api/v1/datasets/{PUBLIC}/records?inconnue=1").status_code == 422
    assert client.get(f"/api/v1/datasets/{PUBLIC}/export.docx").status_code in {400, 404, 422}
    assert stored(client) == before  # nothing written on the request path
    pending = usage.buffer_for(engine).pending()
    today = usage.today()
    key = (dataset_id(client, PUBLIC), today)
    assert pending[key][0] == 3  # page views, by id
    assert pending[(PUBLIC, today)] == (0, 1, 2)  # downloads and API calls, by slug
    assert usage.flush(engine) == 1  # one row: the two keys are the same dataset
    assert usage.buffer_for(engine).pending() == {}
    assert stored(client)[(PUBLIC, today)] == (3, 1, 2)
    # The next batch adds to the stored row.
    client.get(f"/jeux-de-donnees/{PUBLIC}", headers=HTML)
    usage.flush(engine)
    assert stored(client)[(PUBLIC, today)] == (4, 1, 2)
    assert usage.flush(engine) == 0


def test_the_table_holds_counts_only() -> None:
    columns = {c.name for c in DatasetUsage.__table__.columns}
    assert columns == {"dataset_id", "day", "views", "downloads", "api_calls"}


def test_counts_are_written_at_shutdown(client: TestClient, demo_instance: DemoInstance) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    served = create_app(demo_instance.settings)
    try:
        with TestClient(served) as server:
            for _ in range(2):
                assert server.get(f"/jeux-de-donnees/{PUBLIC}", headers=HTML).status_code == 200
            assert (PUBLIC, usage.today()) not in stored(server)
        assert stored(client)[(PUBLIC, usage.today())][0] >= 2  # the lifespan's end flushed
    finally:
        served.state.engine.dispose()


def test_counts_are_written_at_the_scheduler_tick(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    settings = demo_instance.settings.model_copy(update={"indicators_refresh_s": 0.2})
    served = create_app(settings)
    try:
        with TestClient(served) as server:
            assert server.get(f"/api/v1/datasets/{PUBLIC}/records").status_code == 200
            deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
            while (PUBLIC, usage.today()) not in stored(server):
                assert dt.datetime.now(dt.UTC) < deadline, "no tick wrote the counts"
                time.sleep(0.1)
            assert stored(server)[(PUBLIC, usage.today())][2] >= 1
    finally:
        served.state.engine.dispose()


def test_a_failed_flush_keeps_its_counts(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no dataset_usage table
    try:
        buffer = usage.UsageBuffer(engine)
        buffer.add(7, "view")
        buffer.add("bornes", "download")
        with pytest.raises(sa.exc.OperationalError):
            buffer.flush()
        assert buffer.pending() == {
            (7, usage.today()): (1, 0, 0),
            ("bornes", usage.today()): (0, 1, 0),
        }
        with pytest.raises(ValueError, match="unknown usage kind"):
            buffer.add(7, "share")  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _seed(client: TestClient, rows: list[tuple[str, int, int]]) -> None:
    """Stored counts: (slug, days ago, views)."""
    with client.app.state.session_factory() as session, session.begin():  # type: ignore[attr-defined]
        for slug, ago, views in rows:
            session.add(
                DatasetUsage(
                    dataset_id=session.scalar(sa.select(Dataset.id).where(Dataset.slug == slug)),
                    day=usage.today() - dt.timedelta(days=ago),
                    views=views,
                    downloads=1,
                    api_calls=0,
                )
            )


def _home_titles(client: TestClient, headers: dict[str, str] | None = None) -> list[str]:
    text = client.get("/", headers={**HTML, **(headers or {})}).text
    if 'id="titre-plus-utilises"' not in text:
        return []
    part = text.split('id="titre-plus-utilises"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<h3 class="card-title"><a href="/jeux-de-donnees/([^"]+)">', part)


@pytest.mark.parametrize("backend", BACKENDS)
def test_home_shows_the_six_most_used_readable_datasets(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    load(client, PARTNER_ONLY, VALID)
    assert _home_titles(client) == []  # nothing counted yet: no section
    with transaction(client.app.state.session_factory) as session:  # type: ignore[attr-defined]
        for n in range(1, 5):
            create_dataset(
                session,
                Actor.system(name="test"),
                DatasetCreate(title=f"Jeu ouvert {n}", publisher=EPCI, slug=f"jeu-ouvert-{n}"),
            )
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        public = list(
            session.scalars(
                sa.select(Dataset.slug)
                .where(Dataset.access_level == "public", Dataset.slug != PUBLIC)
                .order_by(Dataset.slug)
                .limit(6)
            )
        )
    assert len(public) == 6
    _seed(
        client,
        [
            (PARTNER_ONLY, 0, 1000),  # the most used, but organisation-only
            (PUBLIC, 0, 40),
            (PUBLIC, 29, 40),  # still in the window: 80 views + 2 downloads
            (public[0], 30, 5000),  # out of the window
            *[(slug, 1, 10 + i) for i, slug in enumerate(public)],
        ],
    )
    anonymous = _home_titles(client)
    assert anonymous == [PUBLIC, public[5], public[4], public[3], public[2], public[1]]
    partner = _home_titles(client, bearer(client, "partenaire-eau"))
    assert partner[:2] == [PARTNER_ONLY, PUBLIC]
    assert len(partner) == 6
    text = client.get("/", headers=HTML).text
    assert "82 utilisations" in text
    assert "Consultations des pages, téléchargements et appels à l&#39;API des 30 derniers" in text
    english = client.get("/?lang=en", headers=HTML).text
    assert "Most used" in english
    assert "82 uses" in english


def _ckan(client: TestClient, action: str, **params: str) -> int:
    return client.get(f"/api/3/action/{action}", params=params).status_code


@pytest.mark.parametrize("backend", BACKENDS)
def test_ckan_data_package_and_version_downloads_are_counted(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    load(client, PUBLIC, VALID)  # a second version: version 1 is now a past one
    engine = client.app.state.engine  # type: ignore[attr-defined]
    usage.flush(engine)
    before = stored(client).get((PUBLIC, usage.today()), (0, 0, 0))
    key = f"ds-{dataset_id(client, PUBLIC)}"
    # CKAN API: metadata (package_show by id and by name, resource_show) and records.
    assert _ckan(client, "package_show", id=key) == 200
    assert _ckan(client, "package_show", id=PUBLIC) == 200
    assert _ckan(client, "resource_show", id=f"{key}-csv") == 200
    assert _ckan(client, "datastore_search", resource_id=f"{key}-csv", limit="1") == 200
    assert _ckan(client, "datastore_search", resource_id=PUBLIC, limit="1") == 200
    # Refused or unknown: nothing counted; listings count no dataset.
    assert _ckan(client, "package_show", id=PARTNER_ONLY) == 404
    assert _ckan(client, "datastore_search", resource_id=f"{key}-docx") == 404
    assert _ckan(client, "package_show", id="ds-999999") == 404
    assert _ckan(client, "package_list") == 200
    assert _ckan(client, "package_search", q="subventions") == 200
    # Data Package: the descriptor is an API call, the zip a download.
    assert client.get(f"/api/v1/datasets/{PUBLIC}/datapackage.json").status_code == 200
    zipped = client.get(f"/api/v1/datasets/{PUBLIC}/datapackage.zip")
    assert zipped.status_code == 200
    assert zipped.content[:2] == b"PK"
    assert client.get(f"/api/v1/datasets/{PARTNER_ONLY}/datapackage.zip").status_code == 404
    assert client.get(f"/api/v1/datasets/{PARTNER_ONLY}/datapackage.json").status_code == 404
    # A past version's file is a download (the export's ``version``); a missing one is not.
    past = client.get(f"/api/v1/datasets/{PUBLIC}/export.csv", params={"version": "1"})
    assert past.status_code == 200
    assert "-v1.csv" in past.headers["content-disposition"]
    missing = client.get(f"/api/v1/datasets/{PUBLIC}/export.csv", params={"version": "99"})
    assert missing.status_code == 404
    assert usage.flush(engine) >= 1
    views, downloads, calls = stored(client)[(PUBLIC, usage.today())]
    assert views == before[0]
    assert downloads - before[1] == 2  # the zip and the past version's CSV
    assert calls - before[2] == 6  # 2 package_show, resource_show, 2 datastore_search, json
    assert (PARTNER_ONLY, usage.today()) not in stored(client)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sql_queries_count_the_datasets_they_read(client: TestClient) -> None:
    """A SQL query counts one API call for each dataset it reads (not for every readable
    table, nor for a CTE or ref.*); a SQL export counts a download; a refused query nothing."""
    load(client, PUBLIC, SUBVENTIONS)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    usage.flush(engine)
    before = stored(client)
    sql = (
        'WITH t AS (SELECT * FROM "subventions-associations") '
        "SELECT count(*) AS n FROM t, ref.communes LIMIT 1"
    )
    assert client.post("/api/v1/sql", json={"sql": sql}).status_code == 200
    exported = client.post("/api/v1/sql/export.csv", json={"sql": sql})
    assert exported.status_code == 200
    refused = client.post("/api/v1/sql", json={"sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert refused.status_code == 422
    usage.flush(engine)
    after = stored(client)
    assert after != before
    changed = {
        key: [a - b for a, b in zip(after[key], before.get(key, (0, 0, 0)), strict=True)]
        for key in after
        if after[key] != before.get(key)
    }
    assert list(changed.values()) == [[0, 1, 1]], changed
