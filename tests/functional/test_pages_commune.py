"""The commune page: coverage, the commune's organisation, and rows naming its INSEE code."""

from __future__ import annotations

import csv
import html
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import SHARED_DATA
from tests.functional.conftest import login
from tests.functional.test_records import load

HTML = {"Accept": "text/html"}
IRVE = SHARED_DATA / "messy" / "bornes-irve-20190805.csv"
POSTAL = SHARED_DATA / "messy" / "laposte-codes-postaux-2014-10.csv"
LORIENT = "56121"


def count_rows(path: Any, column: str, value: str, encoding: str = "utf-8") -> int:
    with path.open(encoding=encoding, newline="") as handle:
        return sum(1 for row in csv.DictReader(handle, delimiter=";") if row[column] == value)


def commune(client: TestClient, insee: str = LORIENT) -> str:
    response = client.get(f"/communes/{insee}", headers=HTML)
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


def test_commune_page_gathers_coverage_org_and_rows(client: TestClient) -> None:
    load(client, "bornes-recharge-vehicules-electriques", IRVE)
    text = commune(client)
    assert "<h1>Lorient</h1>" in text
    assert 'href="/organisations/lorient"' in text
    coverage = text.split('id="titre-couverture"', 1)[1].split("</section>", 1)[0]
    assert "Bornes de recharge pour véhicules électriques (IRVE)" in coverage
    assert "Subventions versées aux associations" not in coverage  # EPCI-wide, not named
    rows = text.split('id="titre-lignes"', 1)[1]
    expected = count_rows(IRVE, "code_insee", LORIENT)
    assert expected > 5
    assert f"{expected} ligne(s) où code_insee = {LORIENT}" in html.unescape(
        rows.replace("<code>", "").replace("</code>", "")
    )
    assert rows.count("<tr>") == 1 + 5  # header and a sample of five rows
    assert f"colonne=code_insee&valeur={LORIENT}" in rows.replace("&amp;", "&")


def test_rows_of_datasets_the_visitor_may_not_read_are_not_shown(
    client: TestClient, demo_instance: Any
) -> None:
    load(client, "budget-primitif-agglomeration", POSTAL)  # internal dataset
    assert "code commune INSEE" not in commune(client)
    login(client, "admin", demo_instance.password("admin"))
    text = commune(client)
    expected = count_rows(POSTAL, "code commune INSEE", LORIENT, encoding="cp1252")
    assert f"{expected} ligne(s) où" in text
    assert "Budget primitif de l'agglomération" in text.split('id="titre-lignes"', 1)[1]


def test_unknown_commune_is_404_and_english_works(client: TestClient) -> None:
    response = client.get("/communes/99999", headers=HTML)
    assert response.status_code == 404
    assert "99999" in html.unescape(response.text)
    text = commune(client, "56121?lang=en")
    assert "Rows about the commune" in text
    assert "inhabitants" in text
