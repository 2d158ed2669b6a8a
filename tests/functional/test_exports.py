# ruff: noqa: S608 - the tests send SQL built from dataset slugs, which is the feature
"""Exports read back by other libraries (pyarrow, openpyxl, json), with the access rules."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.functional.test_records import EXPECTED, PARTNER_ONLY, PUBLIC, SUBVENTIONS, VALID, load

BASE = f"/api/v1/datasets/{PUBLIC}/export"


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    load(client, PUBLIC, SUBVENTIONS)
    return client


def fetch(client: TestClient, url: str, **params: object) -> bytes:
    response = client.get(url, params=params) if params else client.get(url)
    assert response.status_code == 200, response.text
    return response.content


def test_csv_read_back_by_pyarrow(loaded: TestClient) -> None:
    response = loaded.get(f"{BASE}.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith(
        f'attachment; filename="{PUBLIC}.csv"'
    )
    table = pacsv.read_csv(io.BytesIO(response.content))
    assert table.num_rows == 95
    assert table.column_names == list(EXPECTED[0])
    assert table.column("nomBeneficiaire").to_pylist() == [r["nomBeneficiaire"] for r in EXPECTED]
    assert [float(v) for v in table.column("montant").to_pylist()] == [
        float(r["montant"]) for r in EXPECTED
    ]


def test_filtered_sorted_selected_export(loaded: TestClient) -> None:
    content = fetch(
        loaded,
        f"{BASE}.csv",
        montant__gte="5000",
        sort="-montant",
        select="nomBeneficiaire,montant",
    )
    table = pacsv.read_csv(io.BytesIO(content))
    expected = sorted(
        (r for r in EXPECTED if float(r["montant"]) >= 5000), key=lambda r: -float(r["montant"])
    )
    assert table.column_names == ["nomBeneficiaire", "montant"]
    assert [float(v) for v in table.column("montant").to_pylist()] == [
        float(r["montant"]) for r in expected
    ]


def test_excel_fr_csv(loaded: TestClient) -> None:
    response = loaded.get(f"{BASE}.csv", params={"excel_fr": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=windows-1252"
    raw = response.content
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # "é" is one byte in Windows-1252
    lines = list(csv.reader(io.StringIO(raw.decode("cp1252")), delimiter=";"))
    assert lines[0][:3] == ["nomAttribuant", "idAttribuant", "dateConvention"]
    second = lines[2]
    assert second[2] == "14/04/2018"  # dd/mm/yyyy
    assert "1308,66" in second  # decimal comma
    assert "Délibération D-2018-21" in second
    assert len(lines) == 96


def test_json_and_ndjson_read_back_by_json(loaded: TestClient) -> None:
    rows = json.loads(fetch(loaded, f"{BASE}.json"))
    assert len(rows) == 95
    assert rows[0]["nomBeneficiaire"] == EXPECTED[0]["nomBeneficiaire"]
    assert rows[0]["dateConvention"] == "2018-04-14"
    assert "__beffroi_row" not in rows[0]
    lines = fetch(loaded, f"{BASE}.ndjson").decode().splitlines()
    assert [json.loads(line) for line in lines] == rows
    assert json.loads(fetch(loaded, f"{BASE}.json", nature="nope")) == []


def test_parquet_read_back_by_pyarrow(loaded: TestClient) -> None:
    table = pq.read_table(io.BytesIO(fetch(loaded, f"{BASE}.parquet")))
    assert table.num_rows == 95
    assert table.column_names == list(EXPECTED[0])
    assert str(table.schema.field("dateConvention").type) == "date32[day]"
    assert table.column("idBeneficiaire").to_pylist() == [r["idBeneficiaire"] for r in EXPECTED]


def test_xlsx_read_back_by_openpyxl(loaded: TestClient) -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(fetch(loaded, f"{BASE}.xlsx")), read_only=True)
    sheet = workbook.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(EXPECTED[0])
    assert len(rows) == 96
    by_name = dict(zip(rows[0], rows[2], strict=True))
    assert by_name["nomBeneficiaire"] == EXPECTED[1]["nomBeneficiaire"]
    assert by_name["montant"] == pytest.approx(1308.66)
    assert by_name["dateConvention"] == "2018-04-14"
    workbook.close()


def test_past_version_export_is_named_after_it(loaded: TestClient) -> None:
    load(loaded, PUBLIC, VALID)
    response = loaded.get(f"{BASE}.csv", params={"version": 1})
    assert response.status_code == 200
    assert f'filename="{PUBLIC}-v1.csv"' in response.headers["content-disposition"]
    assert pacsv.read_csv(io.BytesIO(response.content)).num_rows == 95


def test_exports_follow_the_access_rules(client: TestClient) -> None:
    load(client, PARTNER_ONLY, VALID)
    hidden = client.get(f"/api/v1/datasets/{PARTNER_ONLY}/export.csv")
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/datasets/nope/export.csv").status_code == 404


def test_unknown_format_and_bad_parameters(loaded: TestClient) -> None:
    response = loaded.get(f"{BASE}.docx")
    assert response.status_code == 422
    assert "csv" in response.json()["hint"]
    assert loaded.get(f"{BASE}.csv", params={"nope": "1"}).status_code == 422
    assert loaded.get(f"{BASE}.csv", params={"group_by": "nature"}).status_code == 422


def test_sql_export(loaded: TestClient) -> None:
    response = loaded.post(
        "/api/v1/sql/export.parquet",
        json={"sql": f'SELECT nature, count(*) AS n FROM "{PUBLIC}" GROUP BY nature ORDER BY n'},
    )
    assert response.status_code == 200, response.text
    table = pq.read_table(io.BytesIO(response.content))
    assert sum(table.column("n").to_pylist()) == 95
    refused = loaded.post("/api/v1/sql/export.csv", json={"sql": "DROP VIEW x"})
    assert refused.status_code == 422
