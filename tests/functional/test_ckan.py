"""The CKAN-compatible Action API: envelope and shapes over HTTP, then the real ``ckanapi``
client and CLI against a live ``beffroi serve`` holding the demo plus one published upload."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import ckanapi
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from tests.conftest import SHARED_DATA
from tests.functional.conftest import BACKENDS, DemoInstance, ServedInstance, bearer
from tests.functional.test_dcat import public_datasets

DEMO_PUBLIC = {  # at least these: the demo's public records
    "arbres-alignement",
    "bornes-recharge-vehicules-electriques",
    "stationnement-cyclable",
    "subventions-associations",
}


def public_names(client: TestClient) -> set[str]:
    return {d["slug"] for d in public_datasets(client)}


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
    assert set(answer["result"]) == public_names(client) >= DEMO_PUBLIC


def test_credentials_do_not_widen_the_catalogue(client: TestClient) -> None:
    headers = bearer(client, "admin")
    response = client.get("/api/3/action/package_list", headers=headers)
    assert set(response.json()["result"]) == public_names(client)
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
    names = sorted(public_names(client))
    assert by_name["count"] == len(names)
    assert [p["name"] for p in by_name["results"]] == names[1:3]
    licence = action(client, "package_search", fq="license_id:etalab-2.0 groups:tran")["result"]
    assert licence["count"] == 2
    tagged = action(client, "package_search", fq='tags:"mobilité électrique"')["result"]
    assert [p["name"] for p in tagged["results"]] == ["bornes-recharge-vehicules-electriques"]
    facets = action(client, "package_search", **{"facet.field": '["organization","groups"]'})[
        "result"
    ]
    publishers = Counter(d["publisher"] for d in public_datasets(client))
    assert facets["facets"]["organization"] == dict(publishers)
    assert publishers["direction-mobilites"] == 2
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
    transport = sum("TRAN" in d["themes"] for d in public_datasets(client))
    assert {g["name"]: g["package_count"] for g in groups}["tran"] == transport >= 2
    tags = action(client, "tag_list")["result"]
    assert "IRVE" in tags
    assert "eau potable" not in tags  # keyword of a non-public dataset
    assert action(client, "tag_list", query="vél")["result"] == ["vélo"]
    status = action(client, "status_show")["result"]
    assert status["ckan_version"].startswith("2.")


# ---------------------------------------------------------------- live server, ckanapi


@pytest.fixture(scope="module")
def live(served_demo: ServedInstance) -> str:
    """The base URL of a served demo holding one published upload (the SCDL subsidies)."""
    return served_demo.base_url


@pytest.mark.slow
def test_ckanapi_client_search_show_and_resources(live: str) -> None:
    with ckanapi.RemoteCKAN(live) as site:
        assert site.action.status_show()["site_url"] == live
        result = site.action.package_search(
            q="", fq="res_format:CSV", rows=10, **{"facet.field": ["tags"]}
        )
        found = [p["name"] for p in result["results"]]
        assert "subventions-associations" in found  # data published above
        assert "arbres-alignement" not in found  # no data: no resource
        scdl = sum("SCDL" in {t["name"] for t in p["tags"]} for p in result["results"])
        assert result["facets"]["tags"]["SCDL"] == scdl >= 1
        names = sorted(site.action.package_list())
        page = site.action.package_search(rows=2, start=2, sort="name asc")
        assert page["count"] == len(names)
        assert [p["name"] for p in page["results"]] == names[2:4]
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
        rows = site.action.datastore_search(
            resource_id=csv["id"], filters={"notificationUE": False}, limit=5, sort="montant asc"
        )
        assert rows["total"] == 11
        assert len(rows["records"]) == 5
        amounts = [r["montant"] for r in rows["records"]]
        assert amounts == sorted(amounts)
        counted = site.action.datastore_search_sql(
            sql=f'SELECT "notificationUE" AS n, count(*) AS c FROM "{csv["id"]}" '  # noqa: S608
            "GROUP BY 1 ORDER BY 1"
        )
        assert counted["records"] == [{"n": False, "c": 11}, {"n": True, "c": 18}]


@pytest.mark.slow
def test_ckanapi_get_only_client(live: str) -> None:
    with ckanapi.RemoteCKAN(live, get_only=True) as site:
        result = site.action.package_search(q="IRVE")
        assert "bornes-recharge-vehicules-electriques" in [p["name"] for p in result["results"]]
        assert "arbres-alignement" not in [p["name"] for p in result["results"]]


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


# ---------------------------------------------------------------- DataStore


def _published_csv(client: TestClient, demo_instance: DemoInstance) -> str:
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(demo_instance.settings.data_dir), "ingest", str(UPLOAD),
         "--dataset", "subventions-associations", "--publish"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    package = action(client, "package_show", id="subventions-associations")["result"]
    csv = next(r for r in package["resources"] if r["format"] == "CSV")
    assert csv["datastore_active"] is True
    return str(csv["id"])


def search(client: TestClient, **params: object) -> dict:
    response = client.post("/api/3/action/datastore_search", json=params)
    return {"status": response.status_code, **response.json()}


def test_datastore_search(client: TestClient, demo_instance: DemoInstance) -> None:
    resource = _published_csv(client, demo_instance)
    everything = search(client, resource_id=resource)["result"]
    assert everything["total"] == 29
    assert everything["total_was_estimated"] is False
    assert len(everything["records"]) == 29
    assert everything["records"][0]["_id"] == 1
    assert everything["fields"][0] == {"id": "_id", "type": "int"}
    types = {f["id"]: f["type"] for f in everything["fields"]}
    assert types["montant"] == "numeric"
    assert types["dateConvention"] == "date"
    assert types["notificationUE"] == "bool"  # « oui » / « non » read as booleans
    oui = search(client, resource_id=resource, filters={"notificationUE": True})["result"]
    assert oui["total"] == 18
    cash = search(client, resource_id=resource, filters={"nature": "aide en numéraire"})
    assert cash["result"]["total"] == 27
    both = search(client, resource_id=resource, filters={"montant": [120000, "33000"]})
    assert both["result"]["total"] == 3
    nature = search(client, resource_id=resource, q={"nature": "en nature"})["result"]
    assert nature["total"] == 2
    top = search(
        client, resource_id=resource, fields=["montant", "notificationUE"],
        sort="montant desc", limit=1,
    )["result"]  # fmt: skip
    assert [r["montant"] for r in top["records"]] == [460000.0]
    assert set(top["records"][0]) == {"montant", "notificationUE"}  # no _id unless asked
    distinct = search(client, resource_id=resource, fields="notificationUE", distinct=True)
    assert sorted(r["notificationUE"] for r in distinct["result"]["records"]) == [False, True]
    assert distinct["result"]["total"] == 2
    page = search(client, resource_id=resource, limit=10, offset=20, include_total=False)
    assert len(page["result"]["records"]) == 9
    assert "total" not in page["result"]
    assert "offset=30" in page["result"]["_links"]["next"]
    by_get = action(client, "datastore_search", resource_id=resource, filters='{"nature": "x"}')
    assert by_get["result"]["total"] == 0


def test_datastore_errors(client: TestClient, demo_instance: DemoInstance) -> None:
    resource = _published_csv(client, demo_instance)
    unknown = search(client, resource_id=resource, filters={"couleur": "bleu"})
    assert unknown["status"] == 409
    assert unknown["error"]["__type"] == "Validation Error"
    assert "montant" in unknown["error"]["hint"]
    missing = search(client, resource_id="ds-999999-csv")
    assert missing["status"] == 404
    no_data = action(client, "package_show", id="arbres-alignement")["result"]["id"]
    assert search(client, resource_id=f"{no_data}-csv")["status"] == 404


def test_datastore_search_sql(client: TestClient, demo_instance: DemoInstance) -> None:
    resource = _published_csv(client, demo_instance)
    sql = f'SELECT count(*) AS n FROM "{resource}" WHERE "notificationUE"'  # noqa: S608
    answer = action(client, "datastore_search_sql", sql=sql)
    assert answer["success"] is True, answer
    assert answer["result"]["records"] == [{"n": 18}]
    assert answer["result"]["fields"] == [{"id": "n", "type": "int"}]
    by_slug = action(
        client,
        "datastore_search_sql",
        sql='SELECT max(montant) AS m FROM "subventions-associations"',
    )
    assert by_slug["result"]["records"] == [{"m": 460000.0}]
    hostile = action(client, "datastore_search_sql", sql="SELECT * FROM read_csv('/etc/passwd')")
    assert hostile["success"] is False
    assert hostile["status"] in {400, 409}


@pytest.mark.shares_instance
@pytest.mark.parametrize("backend", BACKENDS)
def test_search_on_each_catalogue_backend(client: TestClient, backend: str) -> None:
    result = action(client, "package_search", fq="groups:tran", sort="name desc")["result"]
    assert [p["name"] for p in result["results"]] == [
        "stationnement-cyclable",
        "bornes-recharge-vehicules-electriques",
    ]
    assert set(action(client, "package_list")["result"]) == public_names(client)
