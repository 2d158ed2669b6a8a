# ruff: noqa: S608 - the tests send SQL built from dataset slugs, which is the feature
"""Crossings over HTTP and on the command line: create, background materialisation,
automatic recomputation on a new source version, lineage, access narrowing, errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from beffroi.crossings import refresh
from tests.functional.conftest import BACKENDS, DemoInstance, bearer
from tests.functional.test_records import PARTNER_ONLY, PUBLIC, SUBVENTIONS, VALID, load

EPCI = "lorient-agglomeration"
PARTNER = "eau-du-morbihan-delegataire"
BY_COMMUNE = {
    "kind": "join",
    "left": PUBLIC,
    "right": "ref.communes",
    "on": [{"left": "idAttribuant", "right": "siren", "normalize": {"function": "siren_of_siret"}}],
    "columns": [{"side": "right", "name": "name", "as": "commune"}],
    "group_by": ["commune"],
    "aggregates": [
        {"function": "count", "as": "subventions"},
        {"function": "sum", "name": "montant", "as": "total"},
    ],
}


def wait_for_version(
    client: TestClient, slug: str, version: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The view once its version ``version`` is published by the background worker."""
    deadline = time.monotonic() + 60
    while True:
        response = client.get(f"/api/v1/views/{slug}", headers=headers or {})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["version"] == version and not body["stale"]:
            return body
        failed = body["last_job"] and body["last_job"]["status"] == "failed"
        assert not failed, body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_materialise_recompute_and_lineage(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    admin = bearer(client, "admin")
    response = client.post(
        "/api/v1/views",
        json={
            "slug": "subventions-par-commune",
            "title": "Subventions par commune",
            "owner": EPCI,
            "definition": BY_COMMUNE,
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["access_level"] == "public"
    assert created["sources"] == [PUBLIC]
    assert 'siren_of_siret(l."idAttribuant") = r."siren"' in created["sql"]
    assert created["job"]["status"] in {"queued", "running", "succeeded"}
    job = client.get(created["links"]["job"], headers=admin)
    assert job.status_code == 200
    body = wait_for_version(client, "subventions-par-commune", 1)
    assert body["definition"]["group_by"] == ["commune"]
    records = client.get("/api/v1/datasets/subventions-par-commune/records").json()
    assert records["data"] == [
        {"commune": "Castelmaurou", "subventions": 95, "total": records["data"][0]["total"]}
    ]
    # A new version of the source: the view is recomputed in the background.
    load(client, PUBLIC, VALID)
    body = wait_for_version(client, "subventions-par-commune", 2)
    lineage = client.get("/api/v1/datasets/subventions-par-commune/lineage").json()
    assert lineage["version"] == 2
    assert lineage["upstream"] == [
        {"dataset": PUBLIC, "version": 2, "published": True, "is_view": False}
    ]
    first = client.get("/api/v1/datasets/subventions-par-commune/lineage?version=1").json()
    assert first["upstream"][0]["version"] == 1
    source = client.get(f"/api/v1/datasets/{PUBLIC}/lineage").json()
    assert source["is_view"] is False
    assert source["downstream"] == [
        {"dataset": "subventions-par-commune", "version": 2, "from_version": 2, "stale": False}
    ]
    refreshed = client.post("/api/v1/views/subventions-par-commune/refresh", headers=admin)
    assert refreshed.status_code == 202, refreshed.text
    wait_for_version(client, "subventions-par-commune", 3)
    anonymous = client.post("/api/v1/views/subventions-par-commune/refresh")
    assert anonymous.status_code == 401


def test_a_view_over_an_organisation_source_is_not_public(client: TestClient) -> None:
    load(client, PARTNER_ONLY, VALID)
    load(client, PUBLIC, SUBVENTIONS)
    partner = bearer(client, "partenaire-eau")
    definition = {
        "kind": "sql",
        "sql": f'SELECT count(*) AS n FROM "{PARTNER_ONLY}" '
        f'UNION ALL SELECT count(*) FROM "{PUBLIC}"',
    }
    refused = client.post(
        "/api/v1/views",
        json={
            "slug": "eau-ouverte",
            "owner": PARTNER,
            "access_level": "public",
            "definition": definition,
        },
        headers=partner,
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "plus ouvert" in refused.json()["detail"]
    english = client.post(
        "/api/v1/views",
        json={
            "slug": "eau-ouverte",
            "owner": PARTNER,
            "access_level": "public",
            "definition": definition,
        },
        headers={**partner, "Accept-Language": "en"},
    )
    assert "more open" in english.json()["detail"]
    response = client.post(
        "/api/v1/views",
        json={"slug": "eau-comptage", "owner": PARTNER, "definition": definition},
        headers=partner,
    )
    assert response.status_code == 201, response.text
    assert response.json()["access_level"] == "organization"
    body = wait_for_version(client, "eau-comptage", 1, headers=partner)
    assert body["rows"] == 2
    # Anonymous readers: the view, its records and its lineage are not found at all, and
    # the public source's lineage does not mention it.
    for url in (
        "/api/v1/views/eau-comptage",
        "/api/v1/datasets/eau-comptage/records",
        "/api/v1/datasets/eau-comptage/lineage",
        f"/api/v1/datasets/{PARTNER_ONLY}/lineage",
    ):
        assert client.get(url).status_code == 404, url
    public_lineage = client.get(f"/api/v1/datasets/{PUBLIC}/lineage").json()
    assert public_lineage["downstream"] == []
    seen = client.get(f"/api/v1/datasets/{PUBLIC}/lineage", headers=partner).json()
    assert [d["dataset"] for d in seen["downstream"]] == ["eau-comptage"]
    assert "eau-comptage" not in [v["dataset"] for v in client.get("/api/v1/views").json()["data"]]


def test_invalid_definitions_answer_one_problem(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    admin = bearer(client, "admin")
    bad = {**BY_COMMUNE, "columns": [{"name": "inexistante"}], "group_by": [], "aggregates": []}
    response = client.post(
        "/api/v1/views",
        json={"slug": "mauvaise-vue", "owner": EPCI, "definition": bad},
        headers=admin,
    )
    assert response.status_code == 422
    problem = response.json()
    assert "inexistante" in problem["detail"]
    assert "montant" in problem["hint"]  # the available columns
    guard = client.post(
        "/api/v1/views",
        json={
            "slug": "mauvaise-vue",
            "owner": EPCI,
            "definition": {"kind": "sql", "sql": "SELECT * FROM read_text('/etc/passwd')"},
        },
        headers=admin,
    )
    assert guard.status_code == 422
    assert "read_text" in guard.json()["detail"]
    assert client.get("/api/v1/views/mauvaise-vue").status_code == 404
    plain = client.get(f"/api/v1/views/{PUBLIC}")
    assert plain.status_code == 404
    assert "n'est pas une vue" in plain.json()["detail"]


def test_cli_create_list_refresh_lineage(
    client: TestClient, demo_instance: DemoInstance, tmp_path: Path
) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        refresh.unregister(refresh.catalogue_key(session))  # the CLI runs its own jobs
    definition = tmp_path / "vue.json"
    definition.write_text(
        json.dumps({"slug": "vue-cli", "owner": EPCI, "definition": BY_COMMUNE}),
        encoding="utf-8",
    )
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir), "view"]
    created = runner.invoke(cli, [*base, "create", "--file", str(definition)])
    assert created.exit_code == 0, created.output
    assert "Vue créée : vue-cli" in created.output
    assert f"✓ vue-cli v1 : 1 ligne(s) — {PUBLIC} v1" in created.output
    listed = runner.invoke(cli, [*base, "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert row["dataset"] == "vue-cli"
    assert row["version"] == 1
    refreshed = runner.invoke(cli, [*base, "refresh", "vue-cli"])
    assert refreshed.exit_code == 0, refreshed.output
    assert "✓ vue-cli v2" in refreshed.output
    lineage = runner.invoke(cli, [*base, "lineage", "vue-cli"])
    assert lineage.exit_code == 0, lineage.output
    assert f"← {PUBLIC} v1" in lineage.output
    nothing = runner.invoke(cli, [*base, "refresh", "--pending"])
    assert nothing.exit_code == 0
    assert "Aucun recalcul en attente" in nothing.output
    again = runner.invoke(cli, [*base, "create", "--file", str(definition)])
    assert again.exit_code == 1
    assert "déjà" in again.output


def test_recomputations_queued_without_a_worker_run_at_the_next_start(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    from beffroi.web.app import create_app

    load(client, PUBLIC, SUBVENTIONS)
    admin = bearer(client, "admin")
    response = client.post(
        "/api/v1/views",
        json={"slug": "vue-redemarrage", "owner": EPCI, "definition": BY_COMMUNE},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    wait_for_version(client, "vue-redemarrage", 1)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        refresh.unregister(refresh.catalogue_key(session))  # as in a command-line process
    load(client, PUBLIC, VALID)  # queues the recomputation; nobody runs it
    time.sleep(0.5)
    assert client.get("/api/v1/views/vue-redemarrage").json()["stale"] is True
    restarted = create_app(demo_instance.settings)  # start-up recovery, then the worker
    try:
        with TestClient(restarted) as again:
            body = wait_for_version(again, "vue-redemarrage", 2)
            assert body["last_job"]["status"] == "succeeded"
    finally:
        restarted.state.engine.dispose()


def test_recomputations_queued_by_another_process_run_at_the_next_scheduler_tick(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    from beffroi.web.app import create_app

    load(client, PUBLIC, SUBVENTIONS)
    settings = demo_instance.settings.model_copy(update={"indicators_refresh_s": 0.2})
    served = create_app(settings)
    try:
        with TestClient(served) as server:  # the lifespan starts the scheduler
            admin = bearer(server, "admin")
            response = server.post(
                "/api/v1/views",
                json={"slug": "vue-planifiee", "owner": EPCI, "definition": BY_COMMUNE},
                headers=admin,
            )
            assert response.status_code == 201, response.text
            wait_for_version(server, "vue-planifiee", 1)
            with served.state.session_factory() as session:
                # From now on a publication wakes nobody, as one made by `beffroi ingest`.
                refresh.unregister(refresh.catalogue_key(session))
            load(server, PUBLIC, VALID)
            body = wait_for_version(server, "vue-planifiee", 2)  # picked up by the tick
            assert body["last_job"]["status"] == "succeeded"
    finally:
        served.state.engine.dispose()
