"""Dashboard pages, server-rendered: figures, SVG charts with text alternatives, languages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.catalog.db import make_engine, session_factory, transaction
from beffroi.indicators.demo import load_demo_indicators
from beffroi.web.app import create_app
from tests.functional.conftest import DemoInstance, login
from tests.unit.indicators.conftest import with_secrecy

HTML = {"Accept": "text/html"}


@pytest.fixture
def site(demo_instance: DemoInstance) -> Iterator[TestClient]:
    engine = make_engine(demo_instance.settings.catalog_url)
    try:
        with transaction(session_factory(engine)) as session:
            load_demo_indicators(session, Actor.system(name="test"), demo_instance.settings)
            with_secrecy(session, demo_instance.settings)
    finally:
        engine.dispose()
    app = create_app(demo_instance.settings)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        app.state.engine.dispose()


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg [^>]*role=\"img\".*?</svg>", html, flags=re.S)


def test_territory_dashboard(site: TestClient) -> None:
    page = site.get("/indicateurs", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert "Tableau de bord du territoire" in html
    assert "Places de stationnement vélo" in html
    assert "Consommation d'eau" not in html  # internal: not for anonymous visitors
    charts = svgs(html)
    assert len(charts) >= 4
    for chart in charts:
        title = re.search(r'<title id="([^"]+)">([^<]+)</title>', chart)
        desc = re.search(r'<desc id="([^"]+)">([^<]+)</desc>', chart)
        assert title
        assert desc
        assert f'aria-labelledby="{title.group(1)} {desc.group(1)}"' in chart
    assert "Lorient : " in html  # the bars' text alternative names each commune's value
    assert "secret statistique" in html


def test_commune_dashboard_highlights_the_commune(site: TestClient) -> None:
    page = site.get("/indicateurs/communes/56121", headers=HTML)
    assert page.status_code == 200
    assert "Tableau de bord de la commune : Lorient" in page.text
    assert "▶ Lorient" in page.text
    assert '<strong aria-current="page">Lorient</strong>' in page.text
    assert site.get("/indicateurs/communes/75056", headers=HTML).status_code == 404


def test_theme_filter(site: TestClient) -> None:
    page = site.get("/indicateurs", params={"theme": "TRAN"}, headers=HTML)
    assert "Points de recharge" in page.text
    assert "Subventions aux associations" not in page.text


def test_indicator_page_shows_provenance(site: TestClient) -> None:
    page = site.get("/indicateurs/places-stationnement-velo", headers=HTML)
    assert page.status_code == 200
    assert "Provenance" in page.text
    assert (
        '<a href="/jeux-de-donnees/stationnement-cyclable">stationnement-cyclable</a>' in page.text
    )
    assert "/api/v1/indicators/places-stationnement-velo/values.csv" in page.text
    assert site.get("/indicateurs/consommation-eau-par-habitant", headers=HTML).status_code == 404


def test_english(site: TestClient) -> None:
    page = site.get("/indicateurs", params={"lang": "en"}, headers=HTML)
    assert page.headers["content-language"] == "en"
    assert "Dashboard of the territory" in page.text
    assert "EV charging points per 1,000 inhabitants" in page.text
    assert "statistical secrecy" in page.text


def test_members_see_internal_indicators_and_alert_status(
    site: TestClient, demo_instance: DemoInstance
) -> None:
    signed = login(site, "lecteur-eau", demo_instance.password("lecteur-eau"))
    assert signed.status_code == 303
    page = site.get("/indicateurs/communes/56069", headers=HTML)
    assert "Consommation d&#39;eau potable par habitant" in page.text
    assert "seuil d&#39;alerte franchi" in page.text


def test_choropleth_map_of_the_communes(site: TestClient) -> None:
    page = site.get("/indicateurs/places-stationnement-velo", headers=HTML).text
    [carte] = [c for c in svgs(page) if 'id="g-places-stationnement-velo-carte-titre"' in c]
    shapes = re.findall(r"<path d=\"M[^\"]+\" fill=\"([^\"]+)\"[^>]*><title>([^<]+)</title>", carte)
    assert len(shapes) == 25
    assert ("#143a66", "Lorient : 572") in shapes  # the largest value: the darkest class
    assert "sans valeur publiée" in carte


def test_comparison_of_chosen_communes(site: TestClient) -> None:
    page = site.get(
        "/indicateurs-comparaison",
        params=[("communes", "56121"), ("communes", "56098"), ("communes", "75056")],
        headers=HTML,
    )
    assert page.status_code == 200
    html = page.text
    assert '<a href="/indicateurs/communes/56121">Lorient</a>' in html
    assert '<a href="/indicateurs/communes/56098">Lanester</a>' in html
    assert "75056" not in html.split("<form")[0] + html.split("</form>")[1]  # not a member
    charts = svgs(html)
    assert charts
    assert all("Lorient, " in c and "Lanester, " in c for c in charts)
    empty = site.get("/indicateurs-comparaison", headers=HTML)
    assert "Choisissez une à trois communes." in empty.text


def test_alerts_page_for_stewards(site: TestClient, demo_instance: DemoInstance) -> None:
    assert site.get("/indicateurs/alertes", headers=HTML).status_code == 401
    login(site, "admin", demo_instance.password("admin"))
    page = site.get("/indicateurs/alertes", headers=HTML)
    assert page.status_code == 200
    assert '<a href="/indicateurs/communes/56069">Groix</a>' in page.text
    assert "non lue" in page.text


def test_embeddable_view_is_public_and_frameable(
    site: TestClient, demo_instance: DemoInstance
) -> None:
    login(site, "lecteur-eau", demo_instance.password("lecteur-eau"))
    page = site.get("/indicateurs/communes/56069/integration", headers=HTML)
    assert page.status_code == 200
    assert "frame-ancestors *" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] != "DENY"
    assert "Indicateurs de la commune : Groix" in page.text
    assert "Consommation d&#39;eau" not in page.text  # always what anyone sees
    assert "Se déconnecter" not in page.text  # no header, no form
    assert "<form" not in page.text
    board = site.get("/indicateurs/communes/56069", headers=HTML)
    assert "frame-ancestors 'none'" in board.headers["content-security-policy"]
    assert "/indicateurs/communes/56069/integration" in board.text
