"""``beffroi validate`` (exit codes, text and JSON reports) and ``POST /api/v1/validate``."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from beffroi.validate.registry import Registry
from tests.conftest import SHARED_DATA
from tests.functional.conftest import DemoInstance, bearer

SUBVENTIONS = SHARED_DATA / "schemas" / "scdl-subventions"
SCHEMA = SUBVENTIONS / "schema.json"
VALID = SUBVENTIONS / "examples" / "exemple_valide.csv"
INVALID = SUBVENTIONS / "examples" / "exemple_invalide_erreurs_cellules.csv"
SMALL_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "nom", "type": "string"},
        {"name": "montant", "type": "number"},
        {"name": "date", "type": "date"},
    ]
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_cli_valid_file(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(VALID), "--schema", str(SCHEMA)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("✔ Fichier conforme au schéma « Subventions »")


def test_cli_invalid_file_text(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(INVALID), "--schema", str(SCHEMA)])
    assert result.exit_code == 1
    assert "✘ Fichier non conforme" in result.output
    assert (
        "Ligne 5, colonne « dateConvention » : « 05/12/2016 » n'est pas une date" in result.output
    )
    assert "→ Écrivez la date au format AAAA-MM-JJ" in result.output


def test_cli_invalid_file_json(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["validate", str(INVALID), "--schema", str(SCHEMA), "--format", "json"]
    )
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    assert report["stats"]["rows"] == 29
    assert report["counts"]["type-error"] == 5
    first = next(e for e in report["errors"] if e["type"] == "type-error")
    assert {"rowNumber", "fieldName", "cell", "message", "messageEn", "hint"} <= set(first)


def test_cli_could_not_validate(runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "vide.csv"
    empty.write_bytes(b"")
    result = runner.invoke(cli, ["validate", str(empty), "--schema", str(SCHEMA)])
    assert result.exit_code == 2
    assert "Validation impossible" in result.output
    result = runner.invoke(
        cli, ["validate", str(VALID), "--schema", "inconnu/nulle-part", "--format", "json"]
    )
    assert result.exit_code == 2
    assert json.loads(result.output)["error"]["hint"]


def test_cli_registry_name(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEFFROI_DATA_DIR", str(tmp_path))
    registry = Registry(tmp_path / "schemas")
    registry.sync(SHARED_DATA / "schemas" / "_catalog" / "schemas.json")
    registry.add("scdl/subventions", "2.1.1", json.loads(SCHEMA.read_text("utf-8")))
    result = runner.invoke(
        cli, ["validate", str(VALID), "--schema", "scdl/subventions@2.1.1", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["schema"]["source"] == "scdl/subventions@2.1.1"


def test_api_validate_with_schema_json(client: TestClient) -> None:
    with INVALID.open("rb") as handle:
        response = client.post(
            "/api/v1/validate",
            files={"file": ("subventions.csv", handle, "text/csv")},
            data={"schema_json": SCHEMA.read_text("utf-8")},
        )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["valid"] is False
    assert report["path"] == "subventions.csv"
    assert report["counts"]["type-error"] == 5


def test_api_validate_valid_file_and_errors(client: TestClient) -> None:
    with VALID.open("rb") as handle:
        response = client.post(
            "/api/v1/validate",
            files={"file": ("ok.csv", handle, "text/csv")},
            data={"schema_json": SCHEMA.read_text("utf-8")},
        )
    assert response.status_code == 200
    assert response.json()["valid"] is True
    response = client.post("/api/v1/validate", files={"file": ("ok.csv", b"a\n1\n", "text/csv")})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["hint"]
    response = client.post(
        "/api/v1/validate",
        files={"file": ("ok.csv", b"a\n1\n", "text/csv")},
        data={"schema": "/etc/passwd"},
    )
    assert response.status_code == 422
    response = client.post(
        "/api/v1/validate",
        files={"file": ("x.bin", b"\x00\x01\x02" * 10, "application/octet-stream")},
        data={"schema_json": '{"fields": [{"name": "a"}]}'},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid-file"


DATASET = "stationnement-cyclable"  # published by direction-mobilites in the demo
EDITOR = "editeur-mobilites"


def _upload(client: TestClient, path: Path, headers: dict[str, str]) -> dict[str, object]:
    with path.open("rb") as handle:
        response = client.post(
            f"/api/v1/datasets/{DATASET}/uploads",
            files={"file": (path.name, handle, "text/csv")},
            headers=headers,
        )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(response.headers["location"], headers=headers).json()
        if job["status"] in {"succeeded", "failed"}:
            return dict(job)
        time.sleep(0.05)
    pytest.fail("the ingestion job did not finish")


def _bind(client: TestClient, headers: dict[str, str], on_invalid: str, root: Path) -> None:
    registry = Registry(root / "schemas")
    registry.add("scdl/subventions", "2.1.1", json.loads(SCHEMA.read_text("utf-8")))
    response = client.put(
        f"/api/v1/datasets/{DATASET}/conformance",
        json={"schema": "scdl/subventions@2.1.1", "on_invalid": on_invalid},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["on_invalid"] == on_invalid


def test_policy_flag_keeps_invalid_versions_flagged(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    headers = bearer(client, EDITOR)
    assert (
        client.put(
            f"/api/v1/datasets/{DATASET}/conformance", json={"schema": "scdl/subventions"}
        ).status_code
        == 401
    )
    _bind(client, headers, "flag", demo_instance.settings.data_dir)
    shown = client.get(f"/api/v1/datasets/{DATASET}/conformance", headers=headers).json()
    assert shown["schema"] == "scdl/subventions@2.1.1"

    job = _upload(client, INVALID, headers)
    assert job["status"] == "succeeded", job
    assert job["result"]["conformance"]["valid"] is False  # type: ignore[index]
    report = client.get(f"/api/v1/datasets/{DATASET}/versions/1/conformance", headers=headers)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["label"] == "non conforme"
    assert body["counts"]["type-error"] == 5
    assert body["report"]["errors"]
    detail = client.get(f"/api/v1/datasets/{DATASET}/versions/1", headers=headers).json()
    assert detail["conformance"]["label"] == "non conforme"
    assert detail["conformance"]["counts"]["type-error"] == 5
    # Staged versions (and their reports) stay hidden from visitors.
    assert client.get(f"/api/v1/datasets/{DATASET}/versions/1/conformance").status_code == 404

    job = _upload(client, VALID, headers)
    body = client.get(f"/api/v1/datasets/{DATASET}/versions/2/conformance", headers=headers)
    assert body.json()["valid"] is True


def test_policy_block_refuses_invalid_uploads(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    headers = bearer(client, EDITOR)
    _bind(client, headers, "block", demo_instance.settings.data_dir)
    job = _upload(client, INVALID, headers)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "non-conforming-file"  # type: ignore[index]
    versions = client.get(f"/api/v1/datasets/{DATASET}/versions", headers=headers).json()
    assert versions == []
    assert _upload(client, VALID, headers)["status"] == "succeeded"


def test_cli_ingest_with_schema_records_conformance(demo_instance: DemoInstance) -> None:
    runner = CliRunner()
    env = {"BEFFROI_DATA_DIR": str(demo_instance.settings.data_dir)}
    ingest = ["ingest", "--dataset", DATASET]
    # --schema types the columns too: an invalid file is refused with its validation.
    result = runner.invoke(cli, [*ingest, str(INVALID), "--schema", str(SCHEMA)], env=env)
    assert result.exit_code == 1
    assert "Fichier refusé" in result.output
    result = runner.invoke(cli, [*ingest, str(VALID), "--schema", str(SCHEMA)], env=env)
    assert result.exit_code == 0, result.output
    assert "— conforme" in result.output
    shown = runner.invoke(cli, ["conformance", "show", DATASET, "1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("✔ conforme")

    bind = ["conformance", "set", DATASET, "--schema", str(SCHEMA), "--on-invalid", "flag"]
    assert runner.invoke(cli, bind, env=env).exit_code == 0
    result = runner.invoke(cli, [*ingest, str(INVALID)], env=env)
    assert result.exit_code == 0, result.output
    assert "NON CONFORME" in result.output
    shown = runner.invoke(cli, ["conformance", "show", DATASET, "2", "--json"], env=env)
    assert shown.exit_code == 1
    assert json.loads(shown.output)["counts"]["type-error"] == 5


def test_cli_schema_registry(runner: CliRunner, tmp_path: Path) -> None:
    env = {"BEFFROI_DATA_DIR": str(tmp_path)}
    assert "Registre vide" in runner.invoke(cli, ["schema", "list"], env=env).output
    catalogue = SHARED_DATA / "schemas" / "_catalog" / "schemas.json"
    result = runner.invoke(cli, ["schema", "sync", "--from", str(catalogue)], env=env)
    assert result.exit_code == 0, result.output
    assert "schémas Table Schema connus" in result.output
    listed = runner.invoke(cli, ["schema", "list"], env=env).output
    assert "scdl/subventions — Subventions" in listed
    result = runner.invoke(cli, ["schema", "sync", "--from", str(tmp_path / "absent")], env=env)
    assert result.exit_code == 1
    assert "Catalogue illisible" in result.output


def test_validate_command_imports_only_what_it_uses(tmp_path: Path) -> None:
    """`beffroi validate` (the real script, in a fresh interpreter) pays neither for the
    catalogue (SQLAlchemy), the access layer, the settings nor the web stack."""
    import subprocess
    import sys

    code = (  # the script's command group (main() itself ends the process at once)
        "import sys\n"
        "from beffroi.cli import cli\n"
        "try:\n"
        "    cli(['validate', *sys.argv[1:]], prog_name='beffroi')\n"
        "except SystemExit as done:\n"
        "    heavy = ('sqlalchemy', 'beffroi.access', 'beffroi.settings', 'fastapi', 'rdflib')\n"
        "    print(done.code, sorted(m for m in heavy if m in sys.modules))\n"
    )
    args = [str(INVALID), "--schema", str(SCHEMA), "--format", "json"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert done.stdout.strip().splitlines()[-1] == "1 []"


def test_the_script_ends_at_once_with_its_output_and_files_whole(tmp_path: Path) -> None:
    """The real ``python -m beffroi validate`` ends its process without the interpreter's
    clean-up, once finished: the exit status, the whole JSON on a pipe (larger than a
    pipe's buffer) and the invalid-rows CSV are all there."""
    import subprocess
    import sys

    bad = tmp_path / "mauvais.csv"
    rows = ["id,nom,montant,date"] + [f"{i},n{i},abc,2024-13-01" for i in range(3000)]
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SMALL_SCHEMA), encoding="utf-8")
    listed = tmp_path / "erreurs.csv"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "beffroi", "validate", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )

    done = run(
        str(bad),
        "--schema",
        str(schema),
        "--format",
        "json",
        "--max-errors",
        "10000",
        "--invalid-rows",
        str(listed),
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)  # whole: more than 64 KB through the pipe
    assert len(done.stdout) > 65_536
    assert report["stats"]["errors"] == 6000
    with listed.open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.reader(handle))) == 3001  # header and every failing row
    good = tmp_path / "bon.csv"
    good.write_text("id,nom,montant,date\n1,a,1.5,2024-01-31\n", encoding="utf-8")
    assert run(str(good), "--schema", str(schema)).returncode == 0
    missing = run(str(good), "--schema", str(tmp_path / "absent.json"))
    assert missing.returncode == 2
    assert "Schéma" in missing.stderr or "schéma" in missing.stderr
