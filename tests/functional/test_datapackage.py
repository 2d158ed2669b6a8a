"""``/api/v1/datasets/{slug}/datapackage.json``: a valid Frictionless descriptor with the
Table Schema of the published version, after a real ingestion."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import frictionless
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from tests.conftest import SHARED_DATA
from tests.functional.conftest import DemoInstance, bearer

UPLOAD = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
BASE = "http://127.0.0.1:8000"


def ingest(instance: DemoInstance, slug: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(instance.settings.data_dir), "ingest", str(UPLOAD), "--dataset", slug,
         "--publish"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_datapackage_of_a_published_version(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    ingest(demo_instance, "subventions-associations")
    response = client.get("/api/v1/datasets/subventions-associations/datapackage.json")
    assert response.status_code == 200, response.text
    package = response.json()
    report = frictionless.Package.validate_descriptor(package)
    assert report.valid, report.flatten(["type", "note"])
    assert package["name"] == "subventions-associations"
    assert package["licenses"] == [
        {
            "name": "etalab-2.0",
            "title": "Licence Ouverte / Open Licence 2.0",
            "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
        }
    ]
    assert package["version"] == "1"
    [resource] = package["resources"]
    assert resource["path"] == f"{BASE}/api/v1/datasets/subventions-associations/export.csv"
    fields = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
    versions = client.get("/api/v1/datasets/subventions-associations/versions/1").json()
    assert list(fields) == [c["name"] for c in versions["columns"]]
    assert fields["montant"] in {"number", "integer"}
    assert fields["dateConvention"] == "date"
    assert any(s["title"].startswith("Fichier déposé") for s in package["sources"])
    assert resource["sources"][0]["path"] == "https://schema.data.gouv.fr/scdl/subventions/"


def test_datapackage_without_data_has_no_resource(client: TestClient) -> None:
    package = client.get("/api/v1/datasets/arbres-alignement/datapackage.json").json()
    assert package["resources"] == []
    assert frictionless.Package.validate_descriptor(package).valid


@pytest.mark.parametrize("who", [None, "partenaire-eau"])
def test_datapackage_follows_the_access_rules(client: TestClient, who: str | None) -> None:
    headers = bearer(client, who) if who else {}
    response = client.get(
        "/api/v1/datasets/budget-primitif-agglomeration/datapackage.json", headers=headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not-found"
    reader = client.get(
        "/api/v1/datasets/budget-primitif-agglomeration/datapackage.json",
        headers=bearer(client, "referente-sig"),  # a member of the EPCI's service
    )
    assert reader.status_code == 200


def test_former_slug_redirects(client: TestClient) -> None:
    headers = bearer(client, "admin")
    renamed = client.patch(
        "/api/v1/datasets/arbres-alignement", json={"slug": "arbres"}, headers=headers
    )
    assert renamed.status_code == 200
    response = client.get(
        "/api/v1/datasets/arbres-alignement/datapackage.json", follow_redirects=False
    )
    assert response.status_code == 308
    assert response.headers["location"].endswith("/api/v1/datasets/arbres/datapackage.json")


def test_zipped_datapackage_holds_the_descriptor_and_the_data(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    ingest(demo_instance, "subventions-associations")
    response = client.get("/api/v1/datasets/subventions-associations/datapackage.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "subventions-associations-datapackage.zip" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == [
        "data/subventions-associations.csv",
        "datapackage.json",
    ]
    descriptor = json.loads(archive.read("datapackage.json"))
    [resource] = descriptor["resources"]
    assert resource["path"] == "data/subventions-associations.csv"
    rows = list(csv.DictReader(io.StringIO(archive.read(resource["path"]).decode("utf-8"))))
    assert len(rows) == 29
    assert list(rows[0]) == [f["name"] for f in resource["schema"]["fields"]]
    # the package is a valid Frictionless package, read from the extracted files
    extracted = demo_instance.settings.data_dir.parent / "package"
    archive.extractall(extracted)
    report = frictionless.Package(str(extracted / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_zipped_datapackage_needs_published_data(client: TestClient) -> None:
    response = client.get("/api/v1/datasets/arbres-alignement/datapackage.zip")
    assert response.status_code == 404
    assert response.json()["code"] == "not-found"
