"""The round trip: instance A (``beffroi init``, ``demo``, one published upload, then
``beffroi serve`` on 127.0.0.1) publishes; instance B harvests A over CKAN and over DCAT;
B lists the same datasets with the same identifiers; re-harvest changes nothing; a change on
A (an edited title and a new version) is picked up once."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib.namespace import DCTERMS, RDF, SKOS

from beffroi.access import Actor
from beffroi.catalog import services
from beffroi.catalog.db import transaction, upgrade
from beffroi.catalog.models import OrgKind
from beffroi.catalog.schemas import DatasetUpdate, OrganizationCreate, parse
from beffroi.cli import cli
from beffroi.harvest import ckan, service
from beffroi.harvest.fetching import Limits
from beffroi.publish import dcat
from beffroi.publish.dcat.vocab import ADMS, DCAT
from beffroi.settings import Settings
from tests.conftest import make_settings
from tests.functional.conftest import SERVED_DATASET, SERVED_UPLOAD, ServedInstance
from tests.functional.harvest_helpers import catalogue, harvested, version_count

SYSTEM = Actor.system(name="test")
UPLOAD = SERVED_UPLOAD
CHANGED = SERVED_DATASET  # the dataset the served instance published


@pytest.fixture
def instance_b(tmp_path: Path) -> Settings:
    """An empty instance with two organisations, allowed to fetch from 127.0.0.1."""
    data_dir = tmp_path / "b"
    data_dir.mkdir()
    settings = make_settings(data_dir, fetch_allow_private_networks=True)
    with catalogue(settings) as factory:
        upgrade(factory.kw["bind"])
        with transaction(factory) as session:
            for slug in ("via-ckan", "via-dcat"):
                data = OrganizationCreate(name=f"Moissonnage {slug}", kind=OrgKind.OTHER, slug=slug)
                services.create_organization(session, SYSTEM, data)
    return settings


def a_packages(base: str) -> dict[str, dict[str, object]]:
    url = f"{base}/api/3/action/package_search?rows=1000"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - 127.0.0.1
        result = json.load(response)["result"]
    return {p["id"]: p for p in result["results"]}


def harvest(settings: Settings, name: str) -> service.RunSummary:
    with catalogue(settings) as factory:
        summary = service.start_run(factory, settings, SYSTEM, name)
    assert summary.failed == 0, summary.errors
    return summary


@pytest.mark.slow
def test_b_harvests_a_over_ckan_and_dcat(served_demo: ServedInstance, instance_b: Settings) -> None:
    base, a_dir = served_demo.base_url, served_demo.data_dir
    packages = a_packages(base)
    count = len(packages)
    assert count >= 4
    with catalogue(instance_b) as factory, transaction(factory) as session:
        for name, kind, url, org in (
            ("a-ckan", "ckan", base, "via-ckan"),
            ("a-dcat", "dcat", f"{base}/catalog", "via-dcat"),
        ):
            data = service.SourceCreate(
                name=name, kind=kind, url=url, organization=org, auto_publish=True
            )
            service.add_source(session, SYSTEM, data)

    for name in ("a-ckan", "a-dcat"):
        first = harvest(instance_b, name)
        assert (first.created, first.updated, first.unchanged) == (count, 0, 0), name
    over_ckan, over_dcat = harvested(instance_b, "a-ckan"), harvested(instance_b, "a-dcat")
    # the same datasets, with A's identifiers (ds-<id>: CKAN id and dct:identifier alike)
    assert set(over_ckan) == set(over_dcat) == set(packages)
    for remote_id, package in packages.items():
        assert over_ckan[remote_id].slug == package["name"]  # A's slug kept over CKAN
        assert over_ckan[remote_id].title == over_dcat[remote_id].title == package["title"]
        assert over_ckan[remote_id].license == package["license_id"]
        if package["resources"]:  # DCAT-AP carries the licence on distributions only
            assert over_dcat[remote_id].license == package["license_id"]
        assert over_ckan[remote_id].keywords == over_dcat[remote_id].keywords
    changed_id = next(i for i, p in packages.items() if p["name"] == CHANGED)
    for found in (over_ckan, over_dcat):
        assert found[changed_id].published_version_id is not None  # A's data, published
        assert version_count(instance_b, found[changed_id].id) == 1

    # B's own catalogue names A's datasets as their source
    with catalogue(instance_b) as factory, transaction(factory) as session:
        graph = dcat.catalog_graph(session, "http://b.example.org", dcat.CatalogPage())
    notations = {
        str(graph.value(identifier, SKOS.notation))
        for node in graph.subjects(RDF.type, DCAT.Dataset)
        for identifier in graph.objects(node, ADMS.identifier)
    }
    assert {f"{base}/catalog/datasets/{i}" for i in packages} <= notations
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 2 * count
    assert (None, DCTERMS.title, None) in graph

    for name in ("a-ckan", "a-dcat"):
        again = harvest(instance_b, name)
        assert (again.created, again.updated, again.unchanged) == (0, 0, count), name

    # a change on A: a new title and a new version of one dataset
    a_settings = make_settings(a_dir)
    with catalogue(a_settings) as factory, transaction(factory) as session:
        update = parse(DatasetUpdate, {"title": "Subventions versées aux associations (2025)"})
        services.update_dataset(session, SYSTEM, CHANGED, update)
    newer = a_dir.parent / "subventions-2025.csv"
    lines = UPLOAD.read_text(encoding="utf-8").splitlines()
    newer.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one row fewer
    result = CliRunner().invoke(
        cli, ["--data-dir", str(a_dir), "ingest", str(newer), "--dataset", CHANGED, "--publish"]
    )
    assert result.exit_code == 0, result.output
    os.environ.pop("BEFFROI_DATA_DIR", None)

    for name in ("a-ckan", "a-dcat"):
        changed = harvest(instance_b, name)
        assert (changed.created, changed.updated, changed.unchanged) == (0, 1, count - 1), name
        dataset = harvested(instance_b, name)[changed_id]
        assert dataset.title == "Subventions versées aux associations (2025)"
        assert version_count(instance_b, dataset.id) == 2
        settled = harvest(instance_b, name)
        assert (settled.updated, settled.unchanged) == (0, count), name
    assert harvested(instance_b, "a-ckan")[changed_id].slug == CHANGED  # never renamed


@pytest.mark.slow
def test_ckan_pages_are_followed(
    served_demo: ServedInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = served_demo.base_url
    monkeypatch.setattr(ckan, "ROWS", 2)
    limits = Limits(max_bytes=1 << 24, timeout=30, allow_private=True)
    ids = [remote.remote_id for remote in ckan.datasets(base, limits)]
    assert len(ids) == len(set(ids)) == len(a_packages(base)) > 2
