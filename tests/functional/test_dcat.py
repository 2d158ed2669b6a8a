"""``/catalog`` over HTTP: formats by Accept and by suffix, paging, public datasets only,
and the shape data.gouv.fr's harvester (udata) reads."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF

from beffroi.cli import cli
from beffroi.publish.dcat.vocab import DCAT, HYDRA
from tests.conftest import SHARED_DATA
from tests.functional.conftest import BACKENDS, DemoInstance, bearer
from tests.unit.publish.shacl import validate

BASE = "http://127.0.0.1:8000"  # the default base_url of the test instances
UDATA = SHARED_DATA / "dcat" / "udata-harvest-fixtures"
UPLOAD = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
PARSERS = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}


def public_datasets(client: TestClient) -> list[dict[str, Any]]:
    """What an anonymous visitor sees through the JSON API (the same access layer)."""
    body = client.get("/api/v1/datasets", params={"page_size": 500}).json()
    assert body["meta"]["total"] == len(body["data"])
    data: list[dict[str, Any]] = body["data"]
    return data


def parse(response_text: str, media_type: str) -> Graph:
    return Graph().parse(data=response_text, format=PARSERS[media_type])


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("text/html", "text/turtle"),
    ],
)
def test_catalog_by_content_negotiation(client: TestClient, accept: str, media_type: str) -> None:
    response = client.get("/catalog", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    assert response.headers["vary"] == "Accept"
    graph = parse(response.text, media_type)
    assert len(list(graph.subjects(RDF.type, DCAT.Dataset))) == len(public_datasets(client)) >= 4
    assert validate(graph).violations == []


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    ("suffix", "media_type"),
    [("ttl", "text/turtle"), ("jsonld", "application/ld+json"), ("rdf", "application/rdf+xml")],
)
def test_catalog_by_suffix(client: TestClient, suffix: str, media_type: str) -> None:
    response = client.get(f"/catalog.{suffix}", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    graph = parse(response.text, media_type)
    view = graph.value(URIRef(f"{BASE}/catalog"), HYDRA.view)
    assert view == URIRef(f"{BASE}/catalog.{suffix}?page=1")


def test_unknown_suffix_is_a_clear_404(client: TestClient) -> None:
    response = client.get("/catalog.csv")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not-found"
    assert ".ttl" in body["hint"]


def test_a_signed_in_caller_still_sees_only_public_datasets(client: TestClient) -> None:
    """The catalogue is for harvesters: it never depends on who asks."""
    headers = {"Accept": "text/turtle", **bearer(client, "admin")}
    graph = parse(client.get("/catalog", headers=headers).text, "text/turtle")
    pages = {str(graph.value(d, DCAT.landingPage)) for d in graph.subjects(RDF.type, DCAT.Dataset)}
    assert f"{BASE}/jeux-de-donnees/budget-primitif-agglomeration" not in pages
    assert len(pages) == len(public_datasets(client))


def test_paging_over_http(client: TestClient) -> None:
    client.app.state.settings = client.app.state.settings.model_copy(
        update={"catalog_page_size": 3}
    )
    first = parse(client.get("/catalog.ttl").text, "text/turtle")
    view = first.value(URIRef(f"{BASE}/catalog"), HYDRA.view)
    next_page = first.value(view, HYDRA.next)
    assert next_page == URIRef(f"{BASE}/catalog.ttl?page=2")
    second = parse(client.get("/catalog.ttl?page=2").text, "text/turtle")
    total = len(public_datasets(client))
    assert len(list(first.subjects(RDF.type, DCAT.Dataset))) == 3
    assert len(list(second.subjects(RDF.type, DCAT.Dataset))) == min(3, total - 3)
    assert client.get("/catalog?page=0").status_code == 422


def test_dataset_uri_is_dereferenceable(client: TestClient) -> None:
    catalog = parse(client.get("/catalog.ttl").text, "text/turtle")
    node = next(iter(catalog.subjects(RDF.type, DCAT.Dataset)))
    path = str(node).removeprefix(BASE)
    response = client.get(path, headers={"Accept": "application/rdf+xml"})
    assert response.status_code == 200
    one = parse(response.text, "application/rdf+xml")
    assert one.value(node, DCTERMS.title) == catalog.value(node, DCTERMS.title)
    assert client.get(f"{path}.ttl").headers["content-type"].startswith("text/turtle")


def test_non_public_dataset_is_not_found(client: TestClient) -> None:
    listed = client.get(
        "/api/v1/datasets/budget-primitif-agglomeration", headers=bearer(client, "admin")
    )
    assert listed.status_code == 200
    response = client.get("/catalog/datasets/budget-primitif-agglomeration")
    assert response.status_code == 404
    assert client.get("/catalog/datasets/ds-999999").status_code == 404


def _terms(graph: Graph, kind: URIRef) -> set[URIRef]:
    return {p for s in graph.subjects(RDF.type, kind) for p in graph.predicates(s, None)}


def test_catalogue_speaks_what_data_gouv_fr_publishes_and_harvests(client: TestClient) -> None:
    """udata's own catalogue (fixture ``udata.xml``): the same classes and key properties."""
    udata = Graph().parse(UDATA / "udata.xml", format="xml")
    ours = parse(client.get("/catalog.rdf").text, "application/rdf+xml")
    catalog = URIRef(f"{BASE}/catalog")
    for kind in (DCAT.Catalog, HYDRA.Collection):
        assert (catalog, RDF.type, kind) in ours
    wanted = {
        DCAT.Catalog: {DCTERMS.title, DCTERMS.description, DCTERMS.publisher, DCAT.dataset,
                       DCAT.service, HYDRA.totalItems, HYDRA.view},
        DCAT.Dataset: {DCTERMS.identifier, DCTERMS.title, DCTERMS.description, DCTERMS.issued,
                       DCTERMS.modified, DCAT.landingPage, DCAT.keyword, DCTERMS.publisher},
        DCAT.DataService: {DCTERMS.title, DCAT.endpointURL, DCAT.endpointDescription,
                           DCAT.servesDataset},
        HYDRA.PartialCollectionView: {HYDRA.first, HYDRA.last},
        FOAF.Organization: {FOAF.name},  # foaf:homepage too when the website is known
    }  # fmt: skip
    for kind, terms in wanted.items():
        assert terms <= _terms(udata, kind), kind  # the fixture really uses them
        assert terms <= _terms(ours, kind), kind


def test_every_distribution_downloads(client: TestClient, demo_instance: DemoInstance) -> None:
    """Published data: each DCAT distribution's downloadURL answers, through the exports."""
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(demo_instance.settings.data_dir), "ingest", str(UPLOAD), "--dataset",
         "stationnement-cyclable", "--publish"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    graph = parse(client.get("/catalog.ttl").text, "text/turtle")
    assert validate(graph).violations == []
    urls = {str(o) for o in graph.objects(None, DCAT.downloadURL)}
    assert len(urls) >= 5
    for url in sorted(urls):
        response = client.get(url.removeprefix(BASE))
        assert response.status_code == 200, (url, response.text[:300])
    csv_url = next(u for u in urls if u.endswith("export.csv"))
    lines = client.get(csv_url.removeprefix(BASE)).text.splitlines()
    assert len(lines) == 1 + 29  # header and every row of the published version


@pytest.mark.shares_instance
@pytest.mark.parametrize("backend", BACKENDS)
def test_catalogue_on_each_catalogue_backend(client: TestClient, backend: str) -> None:
    graph = parse(client.get("/catalog.ttl").text, "text/turtle")
    assert len(list(graph.subjects(RDF.type, DCAT.Dataset))) == len(public_datasets(client))
    assert validate(graph).violations == []


def test_head_answers_like_get(client: TestClient) -> None:
    for path in ("/catalog", "/catalog.jsonld"):
        response = client.head(path)
        assert response.status_code == 200
        assert response.text == ""
        assert response.headers["content-type"].startswith(("text/turtle", "application/ld+json"))
