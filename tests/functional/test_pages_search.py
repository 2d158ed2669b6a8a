"""Search with facets: the page (GET form, removable filters, sort) and the JSON API.

Counts are made over what the visitor may read: a restricted dataset is counted for no
one but those who may read it.
"""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from tests.factories import make_dataset

from .conftest import BACKENDS, DemoInstance, bearer, login

HTML = {"Accept": "text/html"}
SECRET_TITLE = "Vidéoprotection : emplacements des caméras"


def _restricted(client: TestClient) -> None:
    """A restricted dataset of the EPCI with a theme and a licence of its own."""
    with transaction(client.app.state.session_factory) as session:
        make_dataset(
            session,
            Actor.system(name="test"),
            publisher="lorient-agglomeration",
            slug="videoprotection",
            title=SECRET_TITLE,
            access_level="restricted",
            themes=["JUST", "TRAN"],
            license="CC0-1.0",
            spatial=["commune:56121"],
        )


def _page(client: TestClient, query: str = "") -> str:
    response = client.get(f"/jeux-de-donnees{query}", headers=HTML)
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


def _count(text: str, facet: str, value: str) -> int | None:
    """The count shown next to one checkbox of the page, None when the value is absent."""
    match = re.search(
        rf'name="{facet}" value="{re.escape(value)}"[^>]*>\s*<label[^>]*>[^<]*'
        r'<span class="facet-count">\((\d+)',
        text,
    )
    return int(match.group(1)) if match else None


def _api_counts(body: dict[str, object], facet: str) -> dict[str, int]:
    values = body["facets"][facet]  # type: ignore[index]
    return {v["value"]: v["count"] for v in values}  # type: ignore[index]


def test_anonymous_counts_skip_what_it_may_not_read(client: TestClient) -> None:
    _restricted(client)
    text = _page(client)
    assert SECRET_TITLE not in text
    assert "4 jeux de données" in text  # the four public demo datasets
    assert _count(text, "theme", "TRAN") == 2  # bornes, stationnement (not the restricted one)
    assert _count(text, "theme", "JUST") is None
    assert _count(text, "licence", "CC0-1.0") is None
    assert _count(text, "organisation", "lorient-agglomeration") == 1  # subventions only
    assert _count(text, "commune", "56121") == 3  # bornes, stationnement, arbres
    assert _count(text, "conformite", "sans-schema") is None  # every public one has a schema


def test_member_counts_grow_with_what_it_may_read(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    _restricted(client)
    login(client, "lecteur-eau", demo_instance.password("lecteur-eau"))
    text = _page(client)
    assert "5 jeux de données" in text  # + the internal budget
    assert _count(text, "organisation", "lorient-agglomeration") == 2
    assert _count(text, "theme", "GOVE") == 2
    assert _count(text, "theme", "TRAN") == 2  # the restricted dataset still uncounted
    assert _count(text, "theme", "JUST") is None
    assert SECRET_TITLE not in text


def test_the_administrator_sees_the_restricted_dataset_counted(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    """The counts can change: whoever may read the restricted dataset has it counted."""
    _restricted(client)
    login(client, "admin", demo_instance.password("admin"))
    text = _page(client)
    assert _count(text, "theme", "TRAN") == 3
    assert _count(text, "theme", "JUST") == 1
    assert _count(text, "commune", "56121") == 5  # the demo's four covering it, and this one
    assert _count(text, "conformite", "sans-schema") == 2  # restricted one and the partner's
    assert SECRET_TITLE in text


def test_facets_combine_and_each_facet_counts_the_others(client: TestClient) -> None:
    text = _page(client, "?theme=TRAN&theme=ENVI")
    assert "3 jeux de données" in text  # values of one facet: any of them
    assert _count(text, "theme", "ECON") == 1  # siblings keep their counts
    assert _count(text, "organisation", "direction-mobilites") == 2
    text = _page(client, "?theme=TRAN&theme=ENVI&organisation=direction-mobilites")
    assert "2 jeux de données" in text  # facets: all of them
    assert _count(text, "theme", "ENVI") == 0  # selected, none left with the publisher
    assert 'value="ENVI" checked' in text


def test_active_filters_are_links_that_remove_them(client: TestClient) -> None:
    text = _page(client, "?q=stationnement&theme=TRAN&tri=titre")
    removal = re.search(r'<a class="chip" href="([^"]+)">Thème : Transports', text)
    assert removal, text
    assert removal.group(1) == "?q=stationnement&tri=titre"
    assert "Retirer tous les filtres" in text
    assert '<option value="titre" selected>' in text


def test_sort_by_title_and_by_date(client: TestClient) -> None:
    text = _page(client, "?tri=titre")
    titles = re.findall(r'<h3 class="card-title"><a href="/jeux-de-donnees/([^"]+)"', text)
    assert titles == [
        "arbres-alignement",
        "bornes-recharge-vehicules-electriques",
        "stationnement-cyclable",
        "subventions-associations",
    ]
    text = _page(client, "?tri=recents")
    newest = re.findall(r'<h3 class="card-title"><a href="/jeux-de-donnees/([^"]+)"', text)
    assert newest[0] == "arbres-alignement"  # created last by the demo
    assert sorted(newest) == titles


def test_relevance_puts_title_matches_first(client: TestClient) -> None:
    editor = bearer(client, "editeur-mobilites")
    body = {
        "title": "Comptages routiers",
        "publisher": "direction-mobilites",
        "description": "Comptages près des bornes de recharge.",
        "license": "etalab-2.0",
    }
    assert client.post("/api/v1/datasets", json=body, headers=editor).status_code == 201
    text = _page(client, "?q=bornes")
    found = re.findall(r'<h3 class="card-title"><a href="/jeux-de-donnees/([^"]+)"', text)
    assert found == ["bornes-recharge-vehicules-electriques", "comptages-routiers"]


def test_page_in_english(client: TestClient) -> None:
    text = _page(client, "?lang=en")
    assert "Refine" in text
    assert "Member commune" in text
    assert "Transport" in text  # the theme's English label


@pytest.mark.parametrize("backend", BACKENDS)
def test_api_facets_for_anonymous_and_member(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    _restricted(client)
    anonymous = client.get("/api/v1/datasets").json()
    assert anonymous["meta"]["total"] == 4
    assert set(anonymous["facets"]) == {
        "publisher",
        "commune",
        "theme",
        "format",
        "license",
        "schema",
        "conformance",
    }
    assert _api_counts(anonymous, "theme")["TRAN"] == 2
    assert "JUST" not in _api_counts(anonymous, "theme")
    assert "CC0-1.0" not in _api_counts(anonymous, "license")
    member = client.get("/api/v1/datasets", headers=bearer(client, "lecteur-eau")).json()
    assert member["meta"]["total"] == 5
    assert _api_counts(member, "publisher")["lorient-agglomeration"] == 2
    assert "JUST" not in _api_counts(member, "theme")
    admin = client.get("/api/v1/datasets", headers=bearer(client, "admin")).json()
    assert _api_counts(admin, "theme")["JUST"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_api_filters_by_several_facets(client: TestClient) -> None:
    body = client.get(
        "/api/v1/datasets",
        params=[("theme", "TRAN"), ("theme", "ENVI"), ("publisher", "direction-mobilites")],
    ).json()
    assert {d["slug"] for d in body["data"]} == {
        "bornes-recharge-vehicules-electriques",
        "stationnement-cyclable",
    }
    selected = {v["value"] for v in body["facets"]["theme"] if v["selected"]}
    assert selected == {"TRAN", "ENVI"}
    titles = client.get("/api/v1/datasets", params={"sort": "titre"}).json()
    assert titles["data"][0]["slug"] == "arbres-alignement"
    assert client.get("/api/v1/datasets", params={"sort": "hasard"}).status_code == 422
