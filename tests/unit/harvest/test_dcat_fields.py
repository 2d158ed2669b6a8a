"""DCAT fields of issue 7: HVD category, applicable legislation, geometry of dct:spatial —
0 SHACL violations with the DCAT-AP 3.0.1 shapes (every field filled) and the HVD shapes."""

from __future__ import annotations

from functools import cache

import pyshacl
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SH
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog import services
from beffroi.catalog.demo import DemoReport
from beffroi.catalog.schemas import DatasetCreate, DatasetUpdate, parse
from beffroi.catalog.vocabularies import HVD_LEGISLATION
from beffroi.errors import InvalidInputError
from beffroi.publish import dcat
from beffroi.publish.dcat.geometry import outline
from beffroi.publish.dcat.vocab import DCAT, DCATAP, GSP, INSEE_COMMUNE, LOCN
from tests.conftest import SHARED_DATA
from tests.unit.publish.conftest import BASE, full_dataset
from tests.unit.publish.shacl import validate

HVD_SHAPES = SHARED_DATA / "dcat" / "dcat-ap-hvd-3.0.0" / "hvd-SHACL.ttl"
GEOSPATIAL = "c_ac64a52d"
LAW = "http://data.europa.eu/eli/dir/2007/2/oj"  # INSPIRE


@cache
def hvd_shapes() -> Graph:
    return Graph().parse(HVD_SHAPES)


def hvd_violations(graph: Graph) -> list[str]:
    _conforms, results, _text = pyshacl.validate(
        graph, shacl_graph=hvd_shapes(), inference=None, allow_warnings=True
    )
    return [
        f"{results.value(r, SH.focusNode)} {results.value(r, SH.resultPath)}: "
        f"{results.value(r, SH.resultMessage)}"
        for r in results.objects(None, SH.result)
        if results.value(r, SH.resultSeverity) == SH.Violation
    ]


def test_schemas_take_the_category_and_add_the_hvd_regulation() -> None:
    data = parse(DatasetCreate, {"title": "Adresses", "publisher": "x", "hvd_category": GEOSPATIAL})
    assert data.applicable_legislation == [HVD_LEGISLATION]
    both = parse(DatasetUpdate, {"hvd_category": GEOSPATIAL, "applicable_legislation": [LAW, LAW]})
    assert both.applicable_legislation == [LAW, HVD_LEGISLATION]
    with pytest.raises(InvalidInputError, match="c_ac64a52d"):
        parse(DatasetUpdate, {"hvd_category": "geospatial"})
    with pytest.raises(InvalidInputError, match="ELI"):
        parse(DatasetUpdate, {"applicable_legislation": ["https://example.org/loi"]})


def test_outlines_of_a_commune_and_an_epci() -> None:
    lorient = outline("commune:56121")
    assert lorient is not None
    assert lorient.wkt.startswith("POLYGON((-3.")
    assert lorient.bbox.startswith("POLYGON((")
    epci = outline("epci:200042174")
    assert epci is not None
    west, south = (float(v) for v in epci.bbox.removeprefix("POLYGON((").split(",")[0].split())
    assert -3.6 < west < -3.3  # the box holds Lorient's coast
    assert 47.5 < south < 47.8
    assert outline("commune:99999") is None


def test_full_catalogue_with_hvd_and_geometry_has_no_violation(
    session: Session, system: Actor, demo: DemoReport
) -> None:
    full_dataset(session, system, hvd_category=GEOSPATIAL, applicable_legislation=[LAW])
    full_dataset(session, system, license="other-closed", schema_ref="arbres")
    graph = dcat.catalog_graph(session, BASE, dcat.CatalogPage())
    lorient = URIRef(INSEE_COMMUNE + "56121")
    geometry = graph.value(lorient, LOCN.geometry)
    assert (geometry, RDF.type, LOCN.Geometry) in graph
    wkt = graph.value(geometry, GSP.asWKT)
    assert isinstance(wkt, Literal)
    assert wkt.datatype == GSP.wktLiteral
    assert str(wkt).startswith("POLYGON((")
    assert graph.value(lorient, DCAT.bbox) is not None
    hvd = [
        d for d in graph.subjects(RDF.type, DCAT.Dataset) if (d, DCATAP.hvdCategory, None) in graph
    ]
    assert len(hvd) == 1
    laws = set(graph.objects(hvd[0], DCATAP.applicableLegislation))
    assert laws == {URIRef(LAW), URIRef(HVD_LEGISLATION)}
    report = validate(graph)
    assert report.violations == []


def test_an_hvd_dataset_passes_the_hvd_shapes(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system, hvd_category=GEOSPATIAL)
    graph = dcat.dataset_graph(session, BASE, dataset.store_key)
    assert (None, DCATAP.hvdCategory, URIRef(f"http://data.europa.eu/bna/{GEOSPATIAL}")) in graph
    assert hvd_violations(graph) == []
    assert validate(graph).violations == []
    # the shapes bite: the same dataset without its category is refused
    services.update_dataset(
        session, system, dataset.slug, parse(DatasetUpdate, {"hvd_category": None})
    )
    dataset.applicable_legislation = None
    assert hvd_violations(dcat.dataset_graph(session, BASE, dataset.store_key))


def test_hvd_fields_survive_a_ckan_round_trip(session: Session, system: Actor) -> None:
    from beffroi.harvest.ckan import package_dataset
    from beffroi.publish.ckan.shapes import package_dict

    dataset = full_dataset(session, system, hvd_category=GEOSPATIAL, applicable_legislation=[LAW])
    remote = package_dataset(package_dict(dataset, BASE), f"{BASE}/api/3/action")
    assert remote.remote_id == dataset.store_key
    assert remote.fields["hvd_category"] == GEOSPATIAL
    assert remote.fields["applicable_legislation"] == sorted([LAW, HVD_LEGISLATION])
    assert remote.fields["spatial"] == ["commune:56121", "epci:200042174"]
    assert remote.fields["frequency"] == "ANNUAL"
    assert remote.fields["license"] == "ODbL-1.0"
    assert remote.data() is not None
