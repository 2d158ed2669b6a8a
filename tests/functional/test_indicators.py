"""Indicators over HTTP and the command line, on the demo instance with its indicators."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.catalog.db import make_engine, session_factory, transaction
from beffroi.cli import cli
from beffroi.indicators.demo import load_demo_indicators
from beffroi.web.app import create_app
from tests.functional.conftest import DemoInstance, bearer
from tests.unit.indicators.conftest import with_secrecy

PUBLIC = {
    "subventions-associations-par-habitant",
    "points-recharge-pour-1000-habitants",
    "places-stationnement-velo",
}


@pytest.fixture
def instance(demo_instance: DemoInstance) -> DemoInstance:
    """The demo instance with the demo data published and the indicators computed."""
    engine = make_engine(demo_instance.settings.catalog_url)
    try:
        with transaction(session_factory(engine)) as session:
            created = load_demo_indicators(
                session, Actor.system(name="test"), demo_instance.settings
            )
            with_secrecy(session, demo_instance.settings)
    finally:
        engine.dispose()
    assert len(created) == 5
    return demo_instance


@pytest.fixture
def api(instance: DemoInstance) -> Iterator[TestClient]:
    app = create_app(instance.settings)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.state.engine.dispose()


def test_list_shows_what_the_caller_may_see(api: TestClient) -> None:
    anonymous = api.get("/api/v1/indicators")
    assert anonymous.status_code == 200
    assert {i["code"] for i in anonymous.json()["data"]} == PUBLIC
    member = api.get("/api/v1/indicators", headers=bearer(api, "lecteur-eau"))
    assert {i["code"] for i in member.json()["data"]} == PUBLIC | {
        "consommation-eau-par-habitant",
        "depenses-equipement-par-habitant",
    }
    assert api.get("/api/v1/indicators/consommation-eau-par-habitant").status_code == 404


def test_show_carries_the_lineage(api: TestClient) -> None:
    shown = api.get("/api/v1/indicators/places-stationnement-velo").json()
    assert shown["owner"] == "direction-mobilites"
    assert shown["lineage"]["sources"][0]["dataset"] == "stationnement-cyclable"
    assert shown["lineage"]["sources"][0]["version"] == 1
    assert len(shown["lineage"]["sql_hash"]) == 64


def test_values_filtered_by_commune_and_period(api: TestClient) -> None:
    code = "points-recharge-pour-1000-habitants"
    answer = api.get(f"/api/v1/indicators/{code}/values", params={"commune": "56121"})
    assert answer.status_code == 200
    body = answer.json()
    assert {r["commune"] for r in body["data"]} == {"56121"}
    assert body["data"][0]["commune_name"] == "Lorient"
    values = [r["value"] for r in body["data"]]
    assert values == sorted(values), "a cumulated count never decreases"
    one = api.get(f"/api/v1/indicators/{code}/values", params={"period": "2025", "commune": "epci"})
    [total] = one.json()["data"]
    assert total["commune"] is None
    assert total["population"] > 200_000


def test_secret_cells_are_suppressed_for_the_public(api: TestClient) -> None:
    code = "subventions-associations-par-habitant"
    public = api.get(f"/api/v1/indicators/{code}/values").json()
    hidden = [r for r in public["data"] if r["suppressed"]]
    assert hidden
    assert all(r["value"] is None and r["cell_count"] is None for r in hidden)
    admin = api.get(f"/api/v1/indicators/{code}/values", headers=bearer(api, "admin")).json()
    assert not any(r["suppressed"] for r in admin["data"])
    assert public["lineage"]["min_cell_size"] == 5


def test_csv_export_with_lineage_headers(api: TestClient) -> None:
    code = "places-stationnement-velo"
    answer = api.get(f"/api/v1/indicators/{code}/values.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["x-indicator-sources"] == "stationnement-cyclable@1"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 26
    as_json = api.get(f"/api/v1/indicators/{code}/values").json()["data"]
    assert [float(r["value"]) for r in rows] == [r["value"] for r in as_json]
    assert api.get(f"/api/v1/indicators/{code}/values.json").json()["data"] == as_json
    assert api.get(f"/api/v1/indicators/{code}/values.xml").status_code == 404


def test_alerts_for_stewards_only(api: TestClient) -> None:
    assert api.get("/api/v1/indicator-alerts").status_code == 401
    assert api.get("/api/v1/indicator-alerts", headers=bearer(api, "lecteur-eau")).json() == {
        "data": [],
        "late_sources": [],
    }
    admin = api.get("/api/v1/indicator-alerts", headers=bearer(api, "admin")).json()["data"]
    assert [(a["indicator"], a["commune"], a["period"]) for a in admin] == [
        ("consommation-eau-par-habitant", "56069", "2025-12")
    ]


def test_create_checks_rights_and_definition(api: TestClient) -> None:
    body = {
        "code": "arceaux-velo",
        "title": "Arceaux vélo",
        "unit": "emplacements",
        "definition": {
            "kind": "declarative",
            "dataset": "stationnement-cyclable",
            "filters": [{"column": "mobilier", "op": "eq", "value": "arceau"}],
            "commune": "code_com",
        },
        "period": "none",
        "owner": "direction-mobilites",
        "theme": "TRAN",
    }
    assert api.post("/api/v1/indicators", json=body).status_code == 401
    refused = api.post("/api/v1/indicators", json=body, headers=bearer(api, "lecteur-eau"))
    assert refused.status_code == 403
    wrong = {**body, "definition": {**body["definition"], "commune": "insee"}}
    bad = api.post("/api/v1/indicators", json=wrong, headers=bearer(api, "editeur-mobilites"))
    assert bad.status_code == 422
    assert "code_com" in bad.json()["hint"]
    made = api.post("/api/v1/indicators", json=body, headers=bearer(api, "editeur-mobilites"))
    assert made.status_code == 201, made.text
    values = api.get("/api/v1/indicators/arceaux-velo/values", params={"commune": "epci"})
    assert values.json()["data"][0]["value"] > 0
    history = api.get("/api/v1/indicators/arceaux-velo/computations").json()["data"]
    assert [h["trigger"] for h in history] == ["création"]


def test_cli_list_compute_show(instance: DemoInstance, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(instance.settings.data_dir)]
    listed = runner.invoke(cli, [*base, "indicator", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert len(listed.output.strip().splitlines()) == 5
    computed = runner.invoke(cli, [*base, "indicator", "compute", "places-stationnement-velo"])
    assert computed.exit_code == 0, computed.output
    assert (
        "✓ places-stationnement-velo : 26 valeur(s) — stationnement-cyclable v1" in computed.output
    )
    shown = runner.invoke(
        cli, [*base, "indicator", "show", "places-stationnement-velo", "--commune", "56121"]
    )
    assert shown.exit_code == 0, shown.output
    assert "Lorient" in shown.output
    assert "stationnement-cyclable v1" in shown.output
    missing = runner.invoke(cli, [*base, "indicator", "show", "nope"])
    assert missing.exit_code == 1
    assert "Indicateur introuvable : nope" in missing.output


def test_a_late_source_is_listed_for_the_stewards(api: TestClient) -> None:
    import datetime as dt

    from sqlalchemy import select

    from beffroi.catalog.models import Dataset, utcnow
    from beffroi.indicators.schedule import tick

    factory = api.app.state.session_factory  # type: ignore[attr-defined]
    with transaction(factory) as session:
        dataset = session.scalar(select(Dataset).where(Dataset.slug == "stationnement-cyclable"))
        assert dataset is not None
        assert dataset.published_version is not None
        dataset.published_version.published_at = utcnow() - dt.timedelta(days=200)
    settings = api.app.state.settings  # type: ignore[attr-defined]
    tick(factory, settings, set())
    tick(factory, settings, set())  # a restarted scheduler: no second alert
    admin = api.get("/api/v1/indicator-alerts", headers=bearer(api, "admin")).json()
    assert [(a["indicator"], a["dataset"], a["frequency"]) for a in admin["late_sources"]] == [
        ("places-stationnement-velo", "stationnement-cyclable", "QUARTERLY")
    ]
    reader = api.get("/api/v1/indicator-alerts", headers=bearer(api, "lecteur-eau")).json()
    assert reader["late_sources"] == []
    page = api.get("/indicateurs/alertes", headers={**bearer(api, "admin"), "Accept": "text/html"})
    assert page.status_code == 200
    assert "Sources en retard" in page.text
    assert "/jeux-de-donnees/stationnement-cyclable" in page.text


def test_mark_an_alert_read(api: TestClient) -> None:
    admin = bearer(api, "admin")
    [alert] = api.get("/api/v1/indicator-alerts", headers=admin).json()["data"]
    assert alert["read"] is False
    viewer = bearer(api, "lecteur-eau")
    assert (
        api.post(f"/api/v1/indicator-alerts/{alert['id']}/read", headers=viewer).status_code == 404
    )
    marked = api.post(f"/api/v1/indicator-alerts/{alert['id']}/read", headers=admin)
    assert marked.json()["read"] is True
    unread = api.get("/api/v1/indicator-alerts", params={"unread": True}, headers=admin).json()
    assert unread["data"] == []


@pytest.mark.parametrize(
    ("code", "commune", "period", "measure"),
    [
        ("consommation-eau-par-habitant", "56121", "2025-12", "volume_m3"),
        ("points-recharge-pour-1000-habitants", "56098", "2023", None),
        ("places-stationnement-velo", "56083", "", "capacite"),
    ],
)
def test_each_value_links_to_its_source_rows(
    api: TestClient, code: str, commune: str, period: str, measure: str | None
) -> None:
    """From a number to the exact rows and version it was computed from."""
    admin = bearer(api, "admin")
    params = {"commune": commune, "period": period}
    [value] = api.get(f"/api/v1/indicators/{code}/values", params=params, headers=admin).json()[
        "data"
    ]
    link = value["rows"]
    assert "version=1" in link
    answer = api.get(f"{link}&limit=500", headers=admin)
    assert answer.status_code == 200, answer.text
    records = answer.json()
    rows = records["data"]
    assert rows
    assert records["version"] == 1
    raw = sum(r[measure] for r in rows) if measure else len(rows)
    assert raw == value["raw"]
