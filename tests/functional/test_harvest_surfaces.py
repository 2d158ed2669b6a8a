"""Harvest surfaces: ``beffroi harvest``/``beffroi feed`` (CliRunner), the
``/api/v1/harvest-sources`` routes (stewards and administrators only), and scheduled runs
in the web server's scheduler."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from beffroi.harvest import service
from beffroi.jobs import JobRunner
from beffroi.settings import Settings
from beffroi.web.app import create_app
from tests.functional.conftest import DemoInstance, bearer
from tests.functional.harvest_helpers import catalogue, static_server
from tests.functional.test_harvest import FIXTURES

CATALOG = (FIXTURES / "catalog.xml").read_text(encoding="utf-8")


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "remote"
    root.mkdir()
    with static_server(root) as base:
        (root / "catalog.xml").write_text(CATALOG, encoding="utf-8")  # data on data.test.org
        (root / "feed.csv").write_text("a;b\n1;2\n", encoding="utf-8")
        yield root, base


@pytest.fixture
def allowed(demo_instance: DemoInstance) -> Settings:
    return demo_instance.settings.model_copy(update={"fetch_allow_private_networks": True})


def invoke(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("BEFFROI_FETCH_ALLOW_PRIVATE_NETWORKS", "1")
    result = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_add_list_run_runs_and_feed(
    demo_instance: DemoInstance, remote: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _root, base = remote
    settings = demo_instance.settings
    out = invoke(
        settings, monkeypatch, "harvest", "add", "udata", f"{base}/catalog.xml",
        "--kind", "dcat", "--org", "lorient-agglomeration", "--every", "6h",
    )  # fmt: skip
    assert "udata" in out
    listed = [
        json.loads(line)
        for line in invoke(settings, monkeypatch, "harvest", "list", "--json").splitlines()
    ]
    assert [(s["name"], s["kind"], s["every_s"]) for s in listed] == [("udata", "dcat", 21600)]
    out = invoke(settings, monkeypatch, "harvest", "run", "udata")
    assert "créés 4" in out
    out = invoke(settings, monkeypatch, "harvest", "run", "udata", "--json")
    assert json.loads(out)["unchanged"] == 4
    runs = [
        json.loads(line)
        for line in invoke(settings, monkeypatch, "harvest", "runs", "udata", "--json").splitlines()
    ]
    assert [(r["created"], r["unchanged"]) for r in runs] == [(0, 4), (4, 0)]
    invoke(
        settings,
        monkeypatch,
        "feed",
        "add",
        "arbres-alignement",
        f"{base}/feed.csv",
        "--every",
        "1h",
    )
    out = invoke(settings, monkeypatch, "harvest", "run", "flux-arbres-alignement")
    assert "mis à jour 1" in out


def test_cli_errors_say_how_to_fix(demo_instance: DemoInstance) -> None:
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(demo_instance.settings.data_dir), "harvest", "add", "x",
         "http://127.0.0.1/", "--kind", "ckan", "--org", "lorient-agglomeration",
         "--every", "often"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "30min, 1h" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def api(allowed: Settings) -> Iterator[TestClient]:
    app = create_app(allowed)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.state.engine.dispose()


def wait_for_job(
    api: TestClient, location: str, headers: dict[str, str], timeout: float = 60
) -> dict[str, Any]:
    """Poll a job's status until it ends."""
    deadline = time.monotonic() + timeout
    while True:
        answer = api.get(location, headers=headers)
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if job["status"] in {"succeeded", "failed"}:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_api_add_run_and_runs_for_stewards_only(api: TestClient, remote: tuple[Path, str]) -> None:
    _root, base = remote
    body = {
        "name": "sig",
        "kind": "dcat",
        "url": f"{base}/catalog.xml",
        "organization": "service-sig",
    }
    assert api.post("/api/v1/harvest-sources", json=body).status_code == 401
    editor = bearer(api, "editeur-mobilites")
    assert api.post("/api/v1/harvest-sources", json=body, headers=editor).status_code == 403
    steward = bearer(api, "referente-sig")
    created = api.post("/api/v1/harvest-sources", json=body, headers=steward)
    assert created.status_code == 201, created.text
    assert created.json()["organization"] == "service-sig"
    assert [s["name"] for s in api.get("/api/v1/harvest-sources", headers=steward).json()] == [
        "sig"
    ]
    assert api.get("/api/v1/harvest-sources", headers=editor).json() == []
    assert api.post("/api/v1/harvest-sources/sig/run", headers=editor).status_code == 404
    # Run now: a background job to follow (202, Location of its status).
    ran = api.post("/api/v1/harvest-sources/sig/run", headers=steward)
    assert ran.status_code == 202, ran.text
    started = ran.json()
    assert started["kind"] == "harvest"
    assert ran.headers["location"] == f"/api/v1/jobs/{started['id']}" == started["links"]["job"]
    assert started["links"]["runs"].endswith("/api/v1/harvest-sources/sig/runs")
    job = wait_for_job(api, ran.headers["location"], steward)
    assert job["status"] == "succeeded", job
    assert (job["result"]["created"], job["result"]["status"]) == (4, "succeeded")
    assert job["result"]["id"] == started["run"]
    assert job["error"] is None
    assert api.get(ran.headers["location"], headers=editor).status_code == 404  # not theirs
    runs = api.get("/api/v1/harvest-sources/sig/runs", headers=steward).json()
    assert [r["created"] for r in runs] == [4]
    # ?wait=true: within the request, the run's counts (for scripts).
    waited = api.post("/api/v1/harvest-sources/sig/run?wait=true", headers=steward)
    assert waited.status_code == 200, waited.text
    assert (waited.json()["unchanged"], waited.json()["status"]) == (4, "succeeded")
    runs = api.get("/api/v1/harvest-sources/sig/runs", headers=steward).json()
    assert [(r["created"], r["unchanged"]) for r in runs] == [(0, 4), (4, 0)]
    admin = bearer(api, "admin")
    assert (
        api.get(f"/api/v1/harvest-sources/{created.json()['id']}", headers=admin).status_code == 200
    )
    bad = api.post(
        "/api/v1/harvest-sources", json={**body, "name": "x", "kind": "ftp"}, headers=steward
    )
    assert bad.status_code == 422


def test_scheduled_runs_in_the_jobs_scheduler(allowed: Settings, remote: tuple[Path, str]) -> None:
    _root, base = remote
    settings = allowed.model_copy(update={"harvest_tick_s": 0.2, "indicators_refresh_s": 0})
    with catalogue(settings) as factory:
        from beffroi.access import Actor
        from beffroi.catalog.db import transaction

        with transaction(factory) as session:
            data = service.SourceCreate(
                name="auto", kind="dcat", url=f"{base}/catalog.xml",
                organization="lorient-agglomeration", every="1h",
            )  # fmt: skip
            service.add_source(session, Actor.system(name="test"), data)
        runner = JobRunner(settings, factory)
        runner.start_scheduler()
        try:
            deadline = time.monotonic() + 60
            runs: list[object] = []
            while time.monotonic() < deadline and not runs:
                time.sleep(0.2)
                with transaction(factory) as session:
                    runs = [
                        r
                        for r in service.list_runs(session, Actor.system(name="t"), "auto")
                        if r.finished_at is not None
                    ]
        finally:
            runner.shutdown()
        assert len(runs) == 1
        with transaction(factory) as session:
            source = service.get_source(session, Actor.system(name="t"), "auto")
            assert source.next_run_at is not None
            assert source.status == "ok"


def test_api_sets_the_hvd_category(api: TestClient) -> None:
    steward = bearer(api, "admin")
    answer = api.patch(
        "/api/v1/datasets/arbres-alignement",
        json={"hvd_category": "c_ac64a52d"},
        headers=steward,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["hvd_category"] == "c_ac64a52d"
    assert body["applicable_legislation"] == ["http://data.europa.eu/eli/reg_impl/2023/138/oj"]
    refused = api.patch(
        "/api/v1/datasets/arbres-alignement", json={"hvd_category": "maps"}, headers=steward
    )
    assert refused.status_code == 422
    turtle = api.get("/catalog.ttl").text
    assert "dcatap:hvdCategory" in turtle
    assert "locn:geometry" in turtle


def test_cli_dataset_hvd_and_legislation(
    demo_instance: DemoInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = demo_instance.settings
    invoke(
        settings, monkeypatch, "dataset", "create", "Adresses du territoire",
        "--publisher", "lorient-agglomeration", "--hvd", "c_ac64a52d",
    )  # fmt: skip
    shown = json.loads(invoke(settings, monkeypatch, "dataset", "show", "adresses-du-territoire"))
    assert shown["hvd_category"] == "c_ac64a52d"
    assert shown["applicable_legislation"] == ["http://data.europa.eu/eli/reg_impl/2023/138/oj"]
    inspire = "http://data.europa.eu/eli/dir/2007/2/oj"
    invoke(
        settings, monkeypatch, "dataset", "update", "adresses-du-territoire",
        "--hvd", "none", "--legislation", inspire,
    )  # fmt: skip
    shown = json.loads(invoke(settings, monkeypatch, "dataset", "show", "adresses-du-territoire"))
    assert (shown["hvd_category"], shown["applicable_legislation"]) == (None, [inspire])
    bad = CliRunner().invoke(
        cli,
        ["--data-dir", str(settings.data_dir), "dataset", "update", "adresses-du-territoire",
         "--hvd", "maps"],
    )  # fmt: skip
    assert bad.exit_code != 0
    assert "c_ac64a52d" in bad.output


def test_api_refuses_a_taken_source_name(api: TestClient, remote: tuple[Path, str]) -> None:
    _root, base = remote
    admin = bearer(api, "admin")
    body = {"name": "twice", "kind": "ckan", "url": base, "organization": "lorient-agglomeration"}
    assert api.post("/api/v1/harvest-sources", json=body, headers=admin).status_code == 201
    again = api.post("/api/v1/harvest-sources", json=body, headers=admin)
    assert again.status_code == 409
    assert "twice" in again.text


def test_api_run_job_failure_and_run_under_way(api: TestClient, remote: tuple[Path, str]) -> None:
    """A run that fails as a whole fails its job, with the reason; a second run while one
    is under way is refused at once (409), before any job is made."""
    from beffroi.catalog.db import transaction
    from beffroi.catalog.models import HarvestRun, HarvestSource

    _root, base = remote
    steward = bearer(api, "referente-sig")
    body = {
        "name": "absente",
        "kind": "dcat",
        "url": f"{base}/absent.xml",
        "organization": "service-sig",
    }
    assert api.post("/api/v1/harvest-sources", json=body, headers=steward).status_code == 201
    ran = api.post("/api/v1/harvest-sources/absente/run", headers=steward)
    assert ran.status_code == 202, ran.text
    job = wait_for_job(api, ran.headers["location"], steward)
    assert job["status"] == "failed", job
    assert job["result"]["status"] == "failed"
    assert job["error"]["detail"].startswith("Le moissonnage de « absente » a échoué")
    assert job["error"]["message_en"].startswith("The harvest of “absente” failed")
    assert job["error"]["hint"]
    runs = api.get("/api/v1/harvest-sources/absente/runs", headers=steward).json()
    assert [r["status"] for r in runs] == ["failed"]

    # A run under way (as a running job leaves it): the next one is a 409, no job.
    with transaction(api.app.state.session_factory) as session:  # type: ignore[attr-defined]
        source = session.query(HarvestSource).filter_by(name="absente").one()
        source.status = "running"
        session.add(HarvestRun(source_id=source.id, trigger="test", status="running"))
    again = api.post("/api/v1/harvest-sources/absente/run", headers=steward)
    assert again.status_code == 409, again.text
    assert "déjà en cours" in again.json()["detail"]
    assert "Location" not in again.headers
    waited = api.post("/api/v1/harvest-sources/absente/run?wait=true", headers=steward)
    assert waited.status_code == 409
