"""``/api/v1/datasets/{slug}/datapackage.json``: a valid Frictionless descriptor with the
Table Schema of the published version, after a real ingestion."""

from __future__ import annotations

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
