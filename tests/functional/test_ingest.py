"""Ingestion end to end: CLI and upload API → versions → publication, over the real store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from beffroi.catalog.models import Job
from beffroi.cli import cli
from beffroi.web.app import create_app
from tests.conftest import SHARED_DATA
from tests.functional.conftest import DemoInstance, bearer

SUBVENTIONS = (
    SHARED_DATA
    / "schemas"
    / "scdl-subventions"
    / "examples"
    / "real-subventions-commune-de-castelmaurou.csv"
)
SUBVENTIONS_ROWS = 95  # 96 lines, one header (PROVENANCE.md)
VALID = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
DATASET = "stationnement-cyclable"  # published by direction-mobilites in the demo
EDITOR = "editeur-mobilites"


def wait_job(client: TestClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(location, headers=headers).json()
        if job["status"] in {"succeeded", "failed"}:
            return job
        time.sleep(0.05)
    pytest.fail(f"job {location} did not finish")


def upload(client: TestClient, path: Path, headers: dict[str, str], **form: str) -> Any:
    with path.open("rb") as handle:
        return client.post(
            f"/api/v1/datasets/{DATASET}/uploads",
            files={"file": (path.name, handle, "text/csv")},
            data=form,
            headers=headers,
        )


def test_upload_ingests_in_background_then_publish(client: TestClient) -> None:
    headers = bearer(client, EDITOR)
    response = upload(client, SUBVENTIONS, headers)
    assert response.status_code == 202, response.text
    assert response.headers["location"].endswith(f"/api/v1/jobs/{response.json()['id']}")
    job = wait_job(client, response.headers["location"], headers)
    assert job["status"] == "succeeded", job
    assert job["result"]["rows"] == SUBVENTIONS_ROWS
    assert job["result"]["version"] == 1
    assert job["result"]["published"] is False

    # Staged: the editor sees it, anonymous visitors do not.
    mine = client.get(f"/api/v1/datasets/{DATASET}/versions", headers=headers).json()
    assert [(v["number"], v["published"], v["rows"]) for v in mine] == [
        (1, False, SUBVENTIONS_ROWS)
    ]
    assert client.get(f"/api/v1/datasets/{DATASET}/versions").json() == []
    assert client.get(f"/api/v1/datasets/{DATASET}/versions/1").status_code == 404

    detail = client.get(f"/api/v1/datasets/{DATASET}/versions/1", headers=headers).json()
    by_name = {c["name"]: c for c in detail["columns"]}
    assert by_name["idBeneficiaire"]["type"] == "string"  # SIRET keeps its digits as text
    assert by_name["montant"]["type"] in {"double", "decimal128(38, 2)", "int64"}
    assert detail["dialect"]["delimiter"] == ","
    assert len(detail["profile"]) == len(detail["columns"])

    published = client.post(f"/api/v1/datasets/{DATASET}/versions/1/publish", headers=headers)
    assert published.status_code == 200, published.text
    public = client.get(f"/api/v1/datasets/{DATASET}/versions").json()
    assert [(v["number"], v["published"]) for v in public] == [(1, True)]


def test_bad_file_fails_the_job_and_stores_nothing(client: TestClient, tmp_path: Path) -> None:
    headers = bearer(client, EDITOR)
    first = upload(client, SUBVENTIONS, headers, publish="true")
    assert wait_job(client, first.headers["location"], headers)["status"] == "succeeded"

    junk = tmp_path / "export.csv"
    junk.write_bytes(b"\x00\x01\x02\xff\xfe binary \x00 junk" * 200)
    failed = wait_job(client, upload(client, junk, headers).headers["location"], headers)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "invalid-file"
    assert failed["error"]["hint"]

    versions = client.get(f"/api/v1/datasets/{DATASET}/versions", headers=headers).json()
    assert [(v["number"], v["published"]) for v in versions] == [(1, True)]


def test_upload_needs_an_editor_of_the_publisher(client: TestClient) -> None:
    assert upload(client, VALID, {}).status_code == 401
    assert upload(client, VALID, bearer(client, "lecteur-eau")).status_code == 403


def test_upload_size_limit(demo_instance: DemoInstance, tmp_path: Path) -> None:
    settings = demo_instance.settings.model_copy(update={"upload_max_mb": 1})
    big = tmp_path / "big.csv"
    big.write_bytes(b"a;b\n" + b"1;2\n" * 400_000)  # 1.6 MB
    app = create_app(settings)
    with TestClient(app) as client:
        response = upload(client, big, bearer(client, EDITOR))
        assert response.status_code == 413
        assert response.json()["code"] == "payload-too-large"
        assert not any((settings.data_dir / "uploads").iterdir())
    app.state.engine.dispose()


def test_interrupted_jobs_are_failed_at_start(demo_instance: DemoInstance) -> None:
    app = create_app(demo_instance.settings)
    with transaction(app.state.session_factory) as session:
        session.add(
            Job(
                id="00000000-0000-0000-0000-000000000001",
                kind="ingest",
                status="running",
                created_by="test",
                params={},
            )
        )
        session.add(
            Job(
                id="00000000-0000-0000-0000-000000000002",
                kind="harvest",
                status="queued",
                created_by="test",
                params={},
            )
        )
    app.state.engine.dispose()
    app = create_app(demo_instance.settings)
    with transaction(app.state.session_factory) as session:
        job = session.get(Job, "00000000-0000-0000-0000-000000000001")
        assert job is not None
        assert job.status == "failed"
        assert job.error["code"] == "interrupted"
        assert job.error["hint"] == "renvoyez le fichier"
        harvest = session.get(Job, "00000000-0000-0000-0000-000000000002")
        assert harvest is not None
        assert harvest.status == "failed"
        assert harvest.error["hint_en"].startswith("run the harvest again")
    app.state.engine.dispose()


def test_jobs_of_live_workers_survive_another_worker_start(demo_instance: DemoInstance) -> None:
    """``serve --workers 2``: the second worker's start must not fail the first one's jobs."""
    import subprocess
    import sys

    from beffroi.jobs import runner_id

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead_runner = runner_id(child.pid)
    child.kill()
    child.wait()
    jobs = {
        "00000000-0000-0000-0000-00000000000a": runner_id(),  # this process: alive
        "00000000-0000-0000-0000-00000000000b": dead_runner,  # its process is gone
        "00000000-0000-0000-0000-00000000000c": "elsewhere.example:1:1",  # another machine
    }
    app = create_app(demo_instance.settings)
    with transaction(app.state.session_factory) as session:
        for job_id, runner in jobs.items():
            session.add(
                Job(
                    id=job_id,
                    kind="ingest",
                    status="running",
                    created_by="test",
                    params={"runner": runner},
                )
            )
    app.state.engine.dispose()
    app = create_app(demo_instance.settings)  # what another worker does at start
    with transaction(app.state.session_factory) as session:
        states = {job_id: session.get(Job, job_id).status for job_id in jobs}  # type: ignore[union-attr]
    app.state.engine.dispose()
    assert states == {
        "00000000-0000-0000-0000-00000000000a": "running",
        "00000000-0000-0000-0000-00000000000b": "failed",
        "00000000-0000-0000-0000-00000000000c": "running",
    }


def test_cli_ingest_versions_publish_rollback_and_diff(demo_instance: DemoInstance) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir)]
    env = {"BEFFROI_SECRET_KEY": demo_instance.settings.signing_key().decode()}

    first = runner.invoke(
        cli, [*base, "ingest", str(SUBVENTIONS), "--dataset", DATASET, "--publish"], env=env
    )
    assert first.exit_code == 0, first.output
    assert "version 1" in first.output
    second = runner.invoke(cli, [*base, "ingest", str(VALID), "--dataset", DATASET], env=env)
    assert second.exit_code == 0, second.output
    assert "beffroi version publish stationnement-cyclable 2" in second.output

    listed = runner.invoke(cli, [*base, "version", "list", DATASET, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert '"version": 2' in listed.output
    assert '"published": true' in listed.output

    for number in (2, 1):  # publish the new one, then roll back
        result = runner.invoke(cli, [*base, "version", "publish", DATASET, str(number)], env=env)
        assert result.exit_code == 0, result.output

    app = create_app(demo_instance.settings)
    with TestClient(app) as client:
        versions = client.get(f"/api/v1/datasets/{DATASET}/versions").json()
        assert [(v["number"], v["published"]) for v in versions] == [(2, False), (1, True)]
        diff = client.get(
            f"/api/v1/datasets/{DATASET}/diff?from=1&to=2", headers=bearer(client, EDITOR)
        )
        assert diff.status_code == 200, diff.text
        body = diff.json()
        assert body["added"] > 0
        assert body["removed"] > 0
    app.state.engine.dispose()


def test_cli_ingest_bad_file_is_one_line_error(demo_instance: DemoInstance, tmp_path: Path) -> None:
    empty = tmp_path / "vide.csv"
    empty.write_bytes(b"")
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(demo_instance.settings.data_dir),
            "ingest",
            str(empty),
            "--dataset",
            DATASET,
        ],
        env={"BEFFROI_SECRET_KEY": demo_instance.settings.signing_key().decode()},
    )
    assert result.exit_code == 1
    assert "Erreur :" in result.output
    assert "Pour corriger" in result.output
    assert "Traceback" not in result.output


def test_ingest_is_refused_to_a_viewer(demo_instance: DemoInstance) -> None:
    from beffroi.access.accounts import get_user
    from beffroi.ingest.pipeline import ingest_file
    from beffroi.store import store_for

    app = create_app(demo_instance.settings)
    factory = app.state.session_factory
    with transaction(factory) as session:
        viewer = Actor.for_user(get_user(session, "lecteur-eau"), surface="cli")
    from beffroi.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        ingest_file(factory, store_for(demo_instance.settings), viewer, DATASET, VALID)
    app.state.engine.dispose()


def test_never_published_versions_stay_hidden_from_readers(client: TestClient) -> None:
    headers = bearer(client, EDITOR)
    staged = upload(client, SUBVENTIONS, headers)  # v1: never published
    assert wait_job(client, staged.headers["location"], headers)["status"] == "succeeded"
    published = upload(client, VALID, headers, publish="true")  # v2: published
    assert wait_job(client, published.headers["location"], headers)["status"] == "succeeded"

    public = client.get(f"/api/v1/datasets/{DATASET}/versions").json()
    assert [(v["number"], v["published"]) for v in public] == [(2, True)]
    assert client.get(f"/api/v1/datasets/{DATASET}/versions/1").status_code == 404
    assert client.get(f"/api/v1/datasets/{DATASET}/diff?from=1&to=2").status_code == 401
    mine = client.get(f"/api/v1/datasets/{DATASET}/versions", headers=headers).json()
    assert [v["number"] for v in mine] == [2, 1]


def test_odd_file_names_are_only_labels(client: TestClient, tmp_path: Path) -> None:
    headers = bearer(client, EDITOR)
    long_name = "é" * 150 + ".csv"
    with SUBVENTIONS.open("rb") as handle:
        response = client.post(
            f"/api/v1/datasets/{DATASET}/uploads",
            files={"file": ("../../" + long_name, handle, "text/csv")},
            headers=headers,
        )
    assert response.status_code == 202, response.text
    job = wait_job(client, response.headers["location"], headers)
    assert job["status"] == "succeeded", job
    version = client.get(f"/api/v1/datasets/{DATASET}/versions/1", headers=headers).json()
    assert version["source_name"] == long_name[:200]
    uploads = client.app.state.jobs.uploads_dir
    assert not any(uploads.iterdir())  # the uploaded copy is removed after ingestion


def test_a_failed_ingest_leaves_the_store_unchanged(
    client: TestClient, demo_instance: DemoInstance, tmp_path: Path
) -> None:
    from beffroi.store import store_for

    headers = bearer(client, EDITOR)
    first = upload(client, SUBVENTIONS, headers, publish="true")
    assert wait_job(client, first.headers["location"], headers)["status"] == "succeeded"
    store = store_for(demo_instance.settings)
    key = f"ds-{_dataset_id(client)}"
    before = store.versions(key)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a;b\n" + "1;2\n" * 50 + "1;2;3;4;5\n" * 30, encoding="utf-8")
    failed = wait_job(client, upload(client, ragged, headers).headers["location"], headers)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "invalid-file"
    assert store.versions(key) == before


def _dataset_id(client: TestClient) -> int:
    from beffroi.catalog.models import Dataset

    with transaction(client.app.state.session_factory) as session:
        return session.query(Dataset).filter_by(slug=DATASET).one().id


def test_append_refused_after_an_orphan_store_commit(demo_instance: DemoInstance) -> None:
    """A store commit that never reached the catalogue must not leak into an append."""
    import uuid

    from beffroi.errors import ConflictError
    from beffroi.ingest.pipeline import ingest_file
    from beffroi.store import store_for

    app = create_app(demo_instance.settings)
    factory = app.state.session_factory
    store = store_for(demo_instance.settings)
    operator = Actor.system(name="test")
    ingest_file(factory, store, operator, DATASET, VALID, publish=True)
    with transaction(factory) as session:
        from beffroi.catalog.services import get_dataset

        key = get_dataset(session, operator, DATASET).store_key
    orphan = store.read(key, 0).slice(0, 1)  # as if a process died after its commit
    store.write(
        key, iter(orphan.to_batches()), orphan.schema, upload_id=str(uuid.uuid4()), mode="append"
    )
    with pytest.raises(ConflictError):
        ingest_file(factory, store, operator, DATASET, VALID, mode="append")
    summary = ingest_file(factory, store, operator, DATASET, VALID, mode="replace")
    assert summary.rows == store.read(key, 0).num_rows  # a full version starts afresh
    app.state.engine.dispose()
