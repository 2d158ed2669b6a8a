"""``beffroi validate`` (exit codes, text and JSON reports) and ``POST /api/v1/validate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from beffroi.validate.registry import Registry
from tests.conftest import SHARED_DATA

SUBVENTIONS = SHARED_DATA / "schemas" / "scdl-subventions"
SCHEMA = SUBVENTIONS / "schema.json"
VALID = SUBVENTIONS / "examples" / "exemple_valide.csv"
INVALID = SUBVENTIONS / "examples" / "exemple_invalide_erreurs_cellules.csv"


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
