# ruff: noqa: S608 - the tests send SQL built from dataset slugs, which is the feature
"""SQL over HTTP and on the command line: authorised tables only, clear refusals, limits."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from tests.functional.conftest import DemoInstance, bearer
from tests.functional.test_records import PARTNER_ONLY, PUBLIC, SUBVENTIONS, VALID, load

COUNT = f'SELECT count(*) AS n FROM "{PUBLIC}"'


def post(client: TestClient, sql: str, **extra: object) -> tuple[int, dict[str, Any]]:
    response = client.post("/api/v1/sql", json={"sql": sql, **extra})
    return response.status_code, response.json()


def test_select_over_a_published_dataset_and_ref(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    status, body = post(client, COUNT)
    assert status == 200, body
    assert body["data"] == [{"n": 95}]
    assert body["fields"] == [{"name": "n", "type": "integer", "duckdb_type": "BIGINT"}]
    assert body["meta"] == {"rows": 1, "truncated": False, "limit": 1000}
    assert PUBLIC in body["tables"]
    status, body = post(
        client,
        f'SELECT c.name, sum(s.montant) AS total FROM "{PUBLIC}" s '
        "JOIN ref.communes c ON c.siren = siren_of_siret(s.idAttribuant) GROUP BY c.name",
    )
    assert status == 200, body
    assert body["data"][0]["name"] == "Castelmaurou"


def test_json_answers_stop_at_the_limit(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    status, body = post(client, f'SELECT * FROM "{PUBLIC}"', limit=10)
    assert status == 200
    assert len(body["data"]) == 10  # type: ignore[arg-type]
    assert body["meta"] == {"rows": 10, "truncated": True, "limit": 10}


def test_refused_statements_say_which_why_and_what_is_allowed(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    response = client.post("/api/v1/sql", json={"sql": f"COPY \"{PUBLIC}\" TO '/tmp/x.csv'"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid-input"
    assert "COPY" in problem["detail"]
    assert "SELECT" in problem["hint"]
    [error] = problem["errors"]
    assert error["field"] == "sql"
    assert error["statement"].startswith("COPY")
    response = client.post("/api/v1/sql", json={"sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert response.status_code == 422
    assert "read_csv" in response.json()["detail"]


def test_only_readable_tables(client: TestClient) -> None:
    load(client, PARTNER_ONLY, VALID)
    sql = f'SELECT count(*) AS n FROM "{PARTNER_ONLY}"'
    anonymous = client.post("/api/v1/sql", json={"sql": sql})
    assert anonymous.status_code == 422
    assert "non autorisée" in anonymous.json()["detail"]
    partner = client.post(
        "/api/v1/sql", json={"sql": sql}, headers=bearer(client, "partenaire-eau")
    )
    assert partner.status_code == 200
    assert partner.json()["data"] == [{"n": 29}]


def test_cli_sql_formats(client: TestClient, demo_instance: DemoInstance) -> None:
    load(client, PUBLIC, SUBVENTIONS)
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir), "sql"]
    table = runner.invoke(cli, [*base, COUNT])
    assert table.exit_code == 0, table.output
    assert "95" in table.output
    as_json = runner.invoke(cli, [*base, COUNT, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == {"n": 95}
    as_csv = runner.invoke(
        cli, [*base, f'SELECT nomBeneficiaire, montant FROM "{PUBLIC}"', "--format", "csv"]
    )
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert len(rows) == 95
    assert rows[0]["nomBeneficiaire"] == "COMITE FETES DE CASTELMAUROU"
    refused = runner.invoke(cli, [*base, "DROP VIEW x"])
    assert refused.exit_code == 1
    assert "Requête refusée" in refused.output
    assert "Pour corriger" in refused.output
