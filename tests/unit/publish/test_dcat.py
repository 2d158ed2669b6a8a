"""The DCAT-AP 3 graph: SHACL-valid (0 violations), public datasets only, stable URIs, paging."""

from __future__ import annotations

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS, XSD
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog import services
from beffroi.catalog.demo import DEMO_EPCI_SIREN, DemoReport
from beffroi.catalog.schemas import DatasetUpdate, parse
from beffroi.publish import dcat
from beffroi.publish.dcat.vocab import ADMS, BEFFROI, DCAT, HYDRA
from beffroi.query.exports import FORMATS as EXPORTS
from tests.factories import make_dataset
from tests.unit.publish.conftest import BASE, full_dataset
from tests.unit.publish.shacl import validate

PUBLIC_DEMO = {
    "subventions-associations",
    "bornes-recharge-vehicules-electriques",
    "stationnement-cyclable",
    "arbres-alignement",
}
EU = "http://publications.europa.eu/resource/authority"


def catalog(session: Session, page: int = 1, page_size: int = 100) -> Graph:
    return dcat.catalog_graph(session, BASE, dcat.CatalogPage(page=page, page_size=page_size))


def landing_slugs(graph: Graph) -> set[str]:
    return {
        str(graph.value(node, DCAT.landingPage)).rsplit("/", 1)[-1]
        for node in graph.subjects(RDF.type, DCAT.Dataset)
    }


def test_demo_catalogue_has_no_shacl_violation(session: Session, demo: DemoReport) -> None:
    graph = catalog(session)
    report = validate(graph)
    assert report.violations == []
    assert len(list(graph.subjects(RDF.type, DCAT.Dataset))) == 4


def test_full_catalogue_has_no_shacl_violation(
    session: Session, system: Actor, demo: DemoReport
) -> None:
    full_dataset(session, system)
    full_dataset(session, system, license="other-closed", schema_ref="arbres")
    full_dataset(session, system, license="https://example.org/licence", schema_ref=None)
    graph = catalog(session)
    per_dataset = 6 + ("geojson" in EXPORTS)  # 4 or 5 exports, and the two Data Packages
    assert len(list(graph.subjects(RDF.type, DCAT.Distribution))) == 3 * per_dataset
    report = validate(graph)
    assert report.violations == []


def test_the_shapes_catch_a_violation(session: Session, system: Actor) -> None:
    """The validation can fail: a dataset without a title, a distribution without accessURL."""
    dataset = full_dataset(session, system)
    graph = catalog(session)
    node = dcat.dataset_uri(BASE, dataset)
    graph.remove((node, DCTERMS.title, None))
    distribution = next(graph.objects(node, DCAT.distribution))
    graph.remove((distribution, DCAT.accessURL, None))
    graph.add((node, DCTERMS.accrualPeriodicity, URIRef("http://example.org/weekly")))
    report = validate(graph)
    assert len(report.violations) >= 3, report.violations
    assert any("title" in v for v in report.violations)
    assert any("accessURL" in v for v in report.violations)


def test_only_datasets_the_anonymous_actor_reads(session: Session, demo: DemoReport) -> None:
    graph = catalog(session)
    assert landing_slugs(graph) == PUBLIC_DEMO
    text = graph.serialize(format="turtle")
    assert "budget-primitif" not in text
    assert "consommation-eau" not in text


def test_withdrawn_and_non_public_datasets_leave_the_catalogue(
    session: Session, system: Actor
) -> None:
    kept = make_dataset(session, system)
    gone = make_dataset(session, system)
    hidden = make_dataset(session, system, access_level="registered")
    services.delete_dataset(session, system, gone.slug)
    assert landing_slugs(catalog(session)) == {kept.slug}
    assert hidden.slug not in landing_slugs(catalog(session))


def test_dataset_fields_follow_the_mapping(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    graph = catalog(session)
    node = dcat.dataset_uri(BASE, dataset)
    assert node == URIRef(f"{BASE}/catalog/datasets/ds-{dataset.id}")
    assert graph.value(node, DCTERMS.identifier) == Literal(f"ds-{dataset.id}")
    assert graph.value(node, DCTERMS.title) == Literal(dataset.title, lang="fr")
    assert set(graph.objects(node, DCAT.theme)) == {
        URIRef(f"{EU}/data-theme/ECON"),
        URIRef(f"{EU}/data-theme/GOVE"),
    }
    assert graph.value(node, DCTERMS.accrualPeriodicity) == URIRef(f"{EU}/frequency/ANNUAL")
    assert graph.value(node, DCTERMS.accessRights) == URIRef(f"{EU}/access-right/PUBLIC")
    assert graph.value(node, BEFFROI.spatialGranularity) == Literal("fr:commune")
    spatial = set(graph.objects(node, DCTERMS.spatial))
    assert spatial == {
        URIRef("http://id.insee.fr/geo/commune/56121"),
        URIRef(f"http://id.insee.fr/geo/intercommunalite/{DEMO_EPCI_SIREN}"),
    }
    lorient = URIRef("http://id.insee.fr/geo/commune/56121")
    assert graph.value(lorient, SKOS.prefLabel) == Literal("Lorient", lang="fr")
    period = graph.value(node, DCTERMS.temporal)
    assert graph.value(period, DCAT.startDate) == Literal("2024-01-01", datatype=XSD.date)
    assert graph.value(period, DCAT.endDate) == Literal("2024-12-31", datatype=XSD.date)
    standard = graph.value(node, DCTERMS.conformsTo)
    assert standard == URIRef(
        "https://schema.data.gouv.fr/schemas/scdl/subventions/2.1.0/schema.json"
    )
    assert graph.value(standard, DCAT.version) == Literal("2.1.0")
    contact = graph.value(node, DCAT.contactPoint)
    assert str(graph.value(contact, URIRef("http://www.w3.org/2006/vcard/ns#hasEmail"))) == (
        "mailto:finances@cc-essai.example.org"
    )
    publisher = graph.value(node, DCTERMS.publisher)
    assert (publisher, RDF.type, FOAF.Organization) in graph
    assert graph.value(publisher, DCTERMS.identifier) == Literal(dataset.publisher.siren)
    identifier = graph.value(publisher, ADMS.identifier)
    assert graph.value(identifier, SKOS.notation) == Literal(dataset.publisher.siren)
    assert graph.value(publisher, FOAF.homepage) == URIRef("https://www.cc-essai.example.org")


def test_distributions_per_download_format(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    graph = catalog(session)
    node = dcat.dataset_uri(BASE, dataset)
    downloads = {
        str(graph.value(d, DCAT.downloadURL)) for d in graph.objects(node, DCAT.distribution)
    }
    api = f"{BASE}/api/v1/datasets/{dataset.slug}"
    # the version has a geometry column: GeoJSON too, once the exports serve it
    geojson = {f"{api}/export.geojson"} if "geojson" in EXPORTS else set()
    assert downloads == {
        f"{api}/export.csv",
        f"{api}/export.json",
        f"{api}/export.parquet",
        f"{api}/export.xlsx",
        f"{api}/datapackage.json",
        f"{api}/datapackage.zip",
        *geojson,
    }
    formats = {str(graph.value(d, DCTERMS.format)) for d in graph.objects(node, DCAT.distribution)}
    assert f"{EU}/file-type/CSV" in formats
    assert f"{EU}/file-type/PARQUET" in formats
    licences = {graph.value(d, DCTERMS.license) for d in graph.objects(node, DCAT.distribution)}
    assert licences == {URIRef("https://opendatacommons.org/licenses/odbl/1-0/")}
    services_ = set(graph.subjects(RDF.type, DCAT.DataService))
    assert {str(graph.value(s, DCAT.endpointURL)) for s in services_} == {
        f"{BASE}/api/v1",
        f"{BASE}/api/3/action/",
    }


def test_a_dataset_without_published_data_has_no_distribution(
    session: Session, system: Actor
) -> None:
    dataset = make_dataset(session, system, description="")
    graph = catalog(session)
    node = dcat.dataset_uri(BASE, dataset)
    assert list(graph.objects(node, DCAT.distribution)) == []
    # dct:description is mandatory: an empty one falls back to the title
    assert graph.value(node, DCTERMS.description) == Literal(dataset.title, lang="fr")


def test_closed_licence_has_no_licence_document(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system, license="other-closed")
    graph = catalog(session)
    for distribution in graph.objects(dcat.dataset_uri(BASE, dataset), DCAT.distribution):
        assert graph.value(distribution, DCTERMS.license) is None


def test_uris_and_identifier_survive_a_rename(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    before = catalog(session)
    node = dcat.dataset_uri(BASE, dataset)
    services.update_dataset(
        session, system, dataset.slug, parse(DatasetUpdate, {"slug": "nouveau-nom"})
    )
    after = catalog(session)
    assert after.value(node, DCTERMS.identifier) == before.value(node, DCTERMS.identifier)
    assert {str(o) for o in after.objects(node, DCAT.distribution)} == {
        str(o) for o in before.objects(node, DCAT.distribution)
    }
    assert str(after.value(node, DCAT.landingPage)).endswith("/jeux-de-donnees/nouveau-nom")


def test_hydra_paging(session: Session, system: Actor) -> None:
    created = [make_dataset(session, system) for _ in range(5)]
    first = catalog(session, page=1, page_size=2)
    root = URIRef(f"{BASE}/catalog")
    assert first.value(root, HYDRA.totalItems) == Literal(5, datatype=XSD.integer)
    view = first.value(root, HYDRA.view)
    assert (view, RDF.type, HYDRA.PartialCollectionView) in first
    assert first.value(view, HYDRA.next) == URIRef(f"{BASE}/catalog?page=2")
    assert first.value(view, HYDRA.last) == URIRef(f"{BASE}/catalog?page=3")
    assert first.value(view, HYDRA.previous) is None
    last = catalog(session, page=3, page_size=2)
    last_view = last.value(root, HYDRA.view)
    assert last.value(last_view, HYDRA.next) is None
    assert last.value(last_view, HYDRA.previous) == URIRef(f"{BASE}/catalog?page=2")
    seen = set()
    for page in (1, 2, 3):
        seen |= landing_slugs(catalog(session, page=page, page_size=2))
    assert seen == {d.slug for d in created}
    assert validate(first).violations == []


# rdflib's own JSON-LD parser builds a ConjunctiveGraph internally, which rdflib 7 deprecates.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
@pytest.mark.parametrize("suffix", ["ttl", "jsonld", "rdf"])
def test_serialisations_round_trip(session: Session, system: Actor, suffix: str) -> None:
    full_dataset(session, system)
    graph = catalog(session)
    fmt = dcat.FORMATS[suffix]
    parsed = Graph().parse(
        data=dcat.serialize(graph, fmt), format=fmt.plugin.replace("pretty-", "")
    )
    assert isomorphic(graph, parsed)


@pytest.mark.parametrize(
    ("accept", "suffix"),
    [
        (None, "ttl"),
        ("*/*", "ttl"),
        ("text/html,application/xhtml+xml", "ttl"),
        ("application/ld+json", "jsonld"),
        ("application/rdf+xml", "rdf"),
        ("text/turtle;q=0.5, application/rdf+xml;q=0.9", "rdf"),
        ("application/ld+json;q=0, text/turtle", "ttl"),
        ("application/json", "jsonld"),
    ],
)
def test_negotiation(accept: str | None, suffix: str) -> None:
    assert dcat.negotiate(accept) is dcat.FORMATS[suffix]


def test_one_dataset_graph(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    graph = dcat.dataset_graph(session, BASE, dataset.store_key)
    assert (dcat.dataset_uri(BASE, dataset), RDF.type, DCAT.Dataset) in graph
    assert validate(graph).violations == []
