"""The CKAN-compatible Action API: envelope and shapes over HTTP, then the real ``ckanapi``
client and CLI against a live ``beffroi serve`` holding the demo plus one published upload."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import ckanapi
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from tests.conftest import SHARED_DATA
from tests.functional.conftest import bearer
from tests.functional.test_serve import free_port, wait_for_health

PUBLIC = {
    "arbres-alignement",
    "bornes-recharge-vehicules-electriques",
    "stationnement-cyclable",
    "subventions-associations",
}
UPLOAD = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"


def action(client: TestClient, name: str, **params: str) -> dict:
    response = client.get(f"/api/3/action/{name}", params=params)
    body = response.json()
    assert set(body) >= {"help", "success"}, body
    assert body["help"].endswith(f"/api/3/action/help_show?name={name}")
    return {"status": response.status_code, **body}


# ---------------------------------------------------------------- in-process, envelope


def test_package_list_is_the_public_datasets(client: TestClient) -> None:
    answer = action(client, "package_list")
    assert answer["status"] == 200
    assert answer["success"] is True
    assert set(answer["result"]) == PUBLIC


def test_credentials_do_not_widen_the_catalogue(client: TestClient) -> None:
    headers = bearer(client, "admin")
    response = client.get("/api/3/action/package_list", headers=headers)
    assert set(response.json()["result"]) == PUBLIC
    hidden = client.get(
        "/api/3/action/package_show", params={"id": "budget-primitif-agglomeration"}
    )
    assert hidden.status_code == 404


def test_package_show_shape(client: TestClient) -> None:
    answer = action(client, "package_show", id="subventions-associations")
    package = answer["result"]
    assert package["name"] == "subventions-associations"
    assert package["id"].startswith("ds-")
    assert package["organization"]["name"] == "lorient-agglomeration"
    assert package["owner_org"] == package["organization"]["id"]
    assert package["license_id"] == "etalab-2.0"
    assert package["isopen"] is True
    assert {t["name"] for t in package["tags"]} == {"subventions", "associations", "SCDL"}
    assert {g["name"] for g in package["groups"]} == {"econ", "gove"}
    assert package["resources"] == []  # no data published yet
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras["frequency"] == "ANNUAL"
    assert extras["spatial_granularity"] == "fr:epci"
    assert extras["temporal_start"] == "2025-01-01"
    same = action(client, "package_show", id=package["id"])["result"]
    assert same == package


def test_errors_use_ckan_types(client: TestClient) -> None:
    missing = action(client, "package_show", id="atlantide")
    assert missing["status"] == 404
    assert missing["success"] is False
    assert missing["error"]["__type"] == "Not Found Error"
    no_id = action(client, "package_show")
    assert no_id["status"] == 409
    assert no_id["error"]["__type"] == "Validation Error"
    assert no_id["error"]["id"] == ["Missing value"]
    unknown = client.get("/api/3/action/package_create")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["__type"] == "Bad Request"
    bad_fq = action(client, "package_search", fq="colour:blue")
    assert bad_fq["status"] == 409
    assert bad_fq["error"]["__type"] == "Search Query Error"
    bad_rows = action(client, "package_search", rows="many")
    assert bad_rows["error"]["__type"] == "Validation Error"


def test_post_json_and_the_unversioned_path(client: TestClient) -> None:
    response = client.post(
        "/api/action/package_search",
        json={"fq": "organization:direction-mobilites", "facet.field": ["tags"]},
    )
    body = response.json()
    assert response.status_code == 200
    assert body["result"]["count"] == 2
    assert body["result"]["facets"]["tags"]["IRVE"] == 1


def test_package_search_q_fq_sort_paging(client: TestClient) -> None:
    found = action(client, "package_search", q="velo")["result"]  # accents folded: « vélo »
    assert [p["name"] for p in found["results"]] == ["stationnement-cyclable"]
    by_name = action(client, "package_search", sort="name asc", rows="2", start="1")["result"]
    assert by_name["count"] == 4
    assert [p["name"] for p in by_name["results"]] == [
        "bornes-recharge-vehicules-electriques",
        "stationnement-cyclable",
    ]
    licence = action(client, "package_search", fq="license_id:etalab-2.0 groups:tran")["result"]
    assert licence["count"] == 2
    tagged = action(client, "package_search", fq='tags:"mobilité électrique"')["result"]
    assert [p["name"] for p in tagged["results"]] == ["bornes-recharge-vehicules-electriques"]
    facets = action(client, "package_search", **{"facet.field": '["organization","groups"]'})[
        "result"
    ]
    assert facets["facets"]["organization"] == {
        "direction-mobilites": 2,
        "lorient-agglomeration": 1,
        "service-sig": 1,
    }
    items = facets["search_facets"]["organization"]["items"]
    assert {"name": "service-sig", "display_name": "Service information géographique (SIG)",
            "count": 1} in items  # fmt: skip


def test_organizations_groups_tags(client: TestClient) -> None:
    names = action(client, "organization_list")["result"]
    assert "lorient-agglomeration" in names
    assert len(names) == 25 + 1 + 3 + 1  # communes, the EPCI, services, the partner
    full = action(client, "organization_list", all_fields="true")["result"]
    counts = {o["name"]: o["package_count"] for o in full}
    assert counts["direction-mobilites"] == 2
    assert counts["eau-du-morbihan-delegataire"] == 0  # its dataset is not public
    show = action(client, "organization_show", id="service-sig", include_datasets="true")
    assert [p["name"] for p in show["result"]["packages"]] == ["arbres-alignement"]
    assert show["result"]["users"] == []
    groups = action(client, "group_list", all_fields="true")["result"]
    assert {g["name"]: g["package_count"] for g in groups}["tran"] == 2
    tags = action(client, "tag_list")["result"]
    assert "IRVE" in tags
    assert "eau potable" not in tags  # keyword of a non-public dataset
    assert action(client, "tag_list", query="vél")["result"] == ["vélo"]
    status = action(client, "status_show")["result"]
    assert status["ckan_version"].startswith("2.")


# ---------------------------------------------------------------- live server, ckanapi


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``beffroi init``, ``demo``, ``ingest --publish`` of a real file, then ``serve``."""
    tmp = tmp_path_factory.mktemp("ckan-live")
    data_dir = tmp / "instance"
    runner = CliRunner()
    port = free_port()
    env_backup = os.environ.get("BEFFROI_DATA_DIR")
    for args in (
        ["init"],
        ["demo"],
        ["ingest", str(UPLOAD), "--dataset", "subventions-associations", "--publish"],
    ):
        result = runner.invoke(cli, ["--data-dir", str(data_dir), *args])
        assert result.exit_code == 0, result.output
    if env_backup is None:
        os.environ.pop("BEFFROI_DATA_DIR", None)  # `init` exports it for child processes
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    env["BEFFROI_BASE_URL"] = f"http://127.0.0.1:{port}"
    log = tmp / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "beffroi", "--data-dir", str(data_dir), "serve",
             "--port", str(port)],
            cwd=tmp, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(f"{base}/health", process, log)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_ckanapi_client_search_show_and_resources(live: str) -> None:
    with ckanapi.RemoteCKAN(live) as site:
        assert site.action.status_show()["site_url"] == live
        result = site.action.package_search(
            q="", fq="res_format:CSV", rows=10, **{"facet.field": ["tags"]}
        )
        assert [p["name"] for p in result["results"]] == ["subventions-associations"]
        assert result["facets"]["tags"]["SCDL"] == 1
        page = site.action.package_search(rows=2, start=2, sort="name asc")
        assert page["count"] == 4
        assert [p["name"] for p in page["results"]] == [
            "stationnement-cyclable",
            "subventions-associations",
        ]
        package = site.action.package_show(id="subventions-associations")
        formats = {r["format"] for r in package["resources"]}
        assert formats >= {"CSV", "JSON", "Parquet"}
        csv = next(r for r in package["resources"] if r["format"] == "CSV")
        assert csv["url"] == f"{live}/api/v1/datasets/subventions-associations/export.csv"
        assert site.action.resource_show(id=csv["id"]) == csv
        with pytest.raises(ckanapi.NotFound):
            site.action.package_show(id="budget-primitif-agglomeration")
        with pytest.raises(ckanapi.ValidationError):
            site.action.package_show()
        with pytest.raises(ckanapi.SearchQueryError):
            site.action.package_search(fq="colour:blue")
        assert "lorient-agglomeration" in site.action.organization_list()


@pytest.mark.slow
def test_ckanapi_get_only_client(live: str) -> None:
    with ckanapi.RemoteCKAN(live, get_only=True) as site:
        result = site.action.package_search(q="IRVE")
        assert [p["name"] for p in result["results"]] == ["bornes-recharge-vehicules-electriques"]


@pytest.mark.slow
def test_ckanapi_cli_package_search(live: str) -> None:
    ckanapi_cli = Path(sys.executable).with_name("ckanapi")
    completed = subprocess.run(
        [str(ckanapi_cli), "action", "package_search", "-r", live,
         "fq=organization:direction-mobilites", "rows:1", "sort=name asc"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["count"] == 2
    assert [p["name"] for p in result["results"]] == ["bornes-recharge-vehicules-electriques"]
