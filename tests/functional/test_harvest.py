"""Harvesting the udata DCAT fixtures served by a real HTTP server on 127.0.0.1: datasets
created once with stable identifiers, re-harvest changes nothing, a remote change updates
in place (metadata and data), never a duplicate; file feeds; the CLI and the API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.access.accounts import get_user
from beffroi.catalog import services
from beffroi.catalog.db import transaction
from beffroi.catalog.models import HarvestRecord, HarvestRun
from beffroi.errors import ConflictError, NotFoundError, PermissionDeniedError
from beffroi.harvest import feeds, service
from beffroi.settings import Settings
from tests.conftest import SHARED_DATA
from tests.functional.conftest import BACKENDS, DemoInstance
from tests.functional.harvest_helpers import catalogue, harvested, static_server, version_count

FIXTURES = SHARED_DATA / "dcat" / "udata-harvest-fixtures"
ORG = "lorient-agglomeration"
SYSTEM = Actor.system(name="test")


def records(n: int, label: str = "a") -> str:
    return json.dumps([{"code": i, "libelle": f"{label}-{i}", "valeur": i * 1.5} for i in range(n)])


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The fixtures on a local server; ``data.test.org`` rewritten to it, data files served."""
    root = tmp_path / "remote"
    root.mkdir()
    with static_server(root) as base:
        for fixture in FIXTURES.iterdir():
            text = fixture.read_text(encoding="utf-8").replace("http://data.test.org", base)
            (root / fixture.name).write_text(text, encoding="utf-8")
        for number in (1, 2, 3, 4):
            for resource in (1, 2):
                target = root / "datasets" / str(number) / "resources" / str(resource)
                target.mkdir(parents=True)
                (target / "file.json").write_text(records(3 + number), encoding="utf-8")
        yield root, base


@pytest.fixture
def instance(demo_instance: DemoInstance) -> Settings:
    """The demo instance, allowed to fetch from 127.0.0.1."""
    return demo_instance.settings.model_copy(update={"fetch_allow_private_networks": True})


def add(settings: Settings, name: str, url: str, kind: str = "dcat", **extra: object) -> None:
    with catalogue(settings) as factory, transaction(factory) as session:
        data = service.SourceCreate(name=name, kind=kind, url=url, organization=ORG, **extra)
        service.add_source(session, SYSTEM, data)


def run(settings: Settings, name: str) -> service.RunSummary:
    with catalogue(settings) as factory:
        return service.start_run(factory, settings, SYSTEM, name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_udata_catalogue_harvested_once_then_unchanged(
    instance: Settings, remote: tuple[Path, str], backend: str
) -> None:
    assert instance.database_url is None if backend == "sqlite" else instance.database_url
    root, base = remote
    add(instance, "udata", f"{base}/catalog.xml", auto_publish=True)
    first = run(instance, "udata")
    assert (first.status, first.created, first.updated, first.failed) == ("succeeded", 4, 0, 0)
    assert first.errors == []
    found = harvested(instance, "udata")
    assert set(found) == {"1", "2", "3", "4"}  # the remote dct:identifier
    three = found["3"]
    assert three.title == "Dataset 3"
    assert three.publisher_id is not None
    assert three.keywords == ["Tag 1", "Tag 2"]
    assert three.frequency == "DAILY"
    assert three.license == "etalab-2.0"
    assert str(three.temporal_start) == "2016-01-01"
    assert found["1"].contact_email == "hello@its.me"
    assert found["1"].published_version_id is not None  # data ingested and published
    assert version_count(instance, found["1"].id) == 1
    slugs = {remote_id: d.slug for remote_id, d in found.items()}

    again = run(instance, "udata")
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 4, 0)
    assert version_count(instance, found["1"].id) == 1

    # a remote change: a new title and new data for dataset 1, picked up once, in place
    catalog = root / "catalog.xml"
    catalog.write_text(
        catalog.read_text(encoding="utf-8").replace(
            "<dcterms:title>Dataset 1</dcterms:title>",
            "<dcterms:title>Jeu 1 renommé</dcterms:title>",
        ),
        encoding="utf-8",
    )
    data_file = root / "datasets/1/resources/1/file.json"
    data_file.write_text(records(9, "b"), encoding="utf-8")
    later = data_file.stat().st_mtime + 10  # a Last-Modified of its own, whatever the clock
    os.utime(data_file, (later, later))
    changed = run(instance, "udata")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 3)
    after = harvested(instance, "udata")
    assert after["1"].title == "Jeu 1 renommé"
    assert {k: d.slug for k, d in after.items()} == slugs  # slugs never change
    assert version_count(instance, after["1"].id) == 2
    settled = run(instance, "udata")
    assert (settled.updated, settled.unchanged) == (0, 4)


@pytest.mark.parametrize("fixture", ["bnodes.xml", "flat.jsonld", "udata.xml"])
def test_other_udata_fixtures(instance: Settings, remote: tuple[Path, str], fixture: str) -> None:
    _root, base = remote
    add(instance, "src", f"{base}/{fixture}")
    first = run(instance, "src")
    expected = {"bnodes.xml": 3, "flat.jsonld": 3, "udata.xml": 2}[fixture]
    assert first.created == expected, first.errors
    assert first.failed == 0
    again = run(instance, "src")
    assert (again.created, again.updated, again.unchanged) == (0, 0, expected)
    with catalogue(instance) as factory, transaction(factory) as session:
        total = session.scalar(select(func.count()).select_from(HarvestRecord))
    assert total == expected


def test_an_unreachable_catalogue_fails_the_run_with_its_reason(instance: Settings) -> None:
    add(instance, "gone", "http://127.0.0.1:9/catalog.ttl")
    summary = run(instance, "gone")
    assert summary.status == "failed"
    assert summary.errors[0]["code"] == "service-unavailable"
    with catalogue(instance) as factory, transaction(factory) as session:
        assert service.get_source(session, SYSTEM, "gone").status == "failed"


def test_the_fetch_guard_applies(demo_instance: DemoInstance, remote: tuple[Path, str]) -> None:
    _root, base = remote  # private networks not allowed: 127.0.0.1 is refused
    add(demo_instance.settings, "guarded", f"{base}/catalog.xml")
    summary = run(demo_instance.settings, "guarded")
    assert summary.status == "failed"
    assert "127.0.0.1" in summary.errors[0]["message"]


def test_file_feed_ingests_only_changed_content(
    instance: Settings, remote: tuple[Path, str]
) -> None:
    root, base = remote
    (root / "feed.csv").write_text("code;nom\n1;un\n2;deux\n", encoding="utf-8")
    with catalogue(instance) as factory, transaction(factory) as session:
        feeds.add_feed(session, SYSTEM, "stationnement-cyclable", f"{base}/feed.csv", every="1h")
        dataset_id = services_id(session, "stationnement-cyclable")
    before = version_count(instance, dataset_id)
    first = run(instance, "flux-stationnement-cyclable")
    assert (first.updated, first.failed) == (1, 0)
    assert run(instance, "flux-stationnement-cyclable").unchanged == 1
    assert version_count(instance, dataset_id) == before + 1
    feed = root / "feed.csv"
    stamp = feed.stat().st_mtime
    feed.write_text("code;nom\n1;un\n2;deux\n3;trois\n", encoding="utf-8")
    os.utime(feed, (stamp, stamp))  # the server still says Last-Modified as before:
    assert run(instance, "flux-stationnement-cyclable").unchanged == 1  # not even downloaded
    os.utime(feed, (stamp + 10, stamp + 10))
    assert run(instance, "flux-stationnement-cyclable").updated == 1
    assert version_count(instance, dataset_id) == before + 2
    os.utime(feed, (stamp + 20, stamp + 20))  # touched, same content: the digest decides
    assert run(instance, "flux-stationnement-cyclable").unchanged == 1
    assert version_count(instance, dataset_id) == before + 2


def test_dcat_hydra_pages_are_followed(instance: Settings, remote: tuple[Path, str]) -> None:
    root, base = remote
    for page, following in ((1, 2), (2, 3), (3, None)):
        link = f"hydra:next <{base}/page{following}.ttl> ;" if following else ""
        (root / f"page{page}.ttl").write_text(
            f"""@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .
<{base}/catalog> a dcat:Catalog, hydra:Collection ;
    dcat:dataset <{base}/d{page}a>, <{base}/d{page}b> ;
    hydra:view <{base}/page{page}.ttl> .
<{base}/page{page}.ttl> a hydra:PartialCollectionView ; {link}
    hydra:first <{base}/page1.ttl> .
<{base}/d{page}a> a dcat:Dataset ; dct:identifier "p{page}-a" ; dct:title "Page {page} A"@fr .
<{base}/d{page}b> a dcat:Dataset ; dct:identifier "p{page}-b" ; dct:title "Page {page} B"@fr ;
    dcat:theme <http://publications.europa.eu/resource/authority/data-theme/TRAN> ;
    dct:spatial <http://id.insee.fr/geo/commune/56121> .
""",
            encoding="utf-8",
        )
    add(instance, "paged", f"{base}/page1.ttl")
    assert run(instance, "paged").created == 6
    found = harvested(instance, "paged")
    assert set(found) == {f"p{n}-{x}" for n in (1, 2, 3) for x in "ab"}
    assert found["p2-b"].themes == ["TRAN"]
    assert found["p2-b"].spatial == ["commune:56121"]


def services_id(session: Session, slug: str) -> int:
    return services.get_dataset(session, SYSTEM, slug).id


def test_the_scheduler_tick_runs_due_sources_only(
    instance: Settings, remote: tuple[Path, str]
) -> None:
    _root, base = remote
    add(instance, "scheduled", f"{base}/catalog.xml", every="1h")
    add(instance, "by-hand", f"{base}/bnodes.xml")
    with catalogue(instance) as factory:
        done = service.tick(factory, instance)
        assert [s.source for s in done] == ["scheduled"]
        assert service.tick(factory, instance) == []  # next run in an hour


def test_only_stewards_manage_sources(instance: Settings, remote: tuple[Path, str]) -> None:
    _root, base = remote
    with catalogue(instance) as factory, transaction(factory) as session:
        data = service.SourceCreate(
            name="sig", kind="dcat", url=f"{base}/catalog.xml", organization="service-sig"
        )
        editor = Actor.for_user(get_user(session, "editeur-mobilites"), surface="api")
        steward = Actor.for_user(get_user(session, "referente-sig"), surface="api")
        with pytest.raises(PermissionDeniedError):
            service.add_source(session, editor, data)
        service.add_source(session, steward, data)
        assert [s.name for s in service.list_sources(session, steward)] == ["sig"]
        assert service.list_sources(session, editor) == []
        with pytest.raises(NotFoundError):
            service.get_source(session, editor, "sig")


def test_a_second_concurrent_run_is_refused(instance: Settings, remote: tuple[Path, str]) -> None:
    _root, base = remote
    add(instance, "busy", f"{base}/catalog.xml")
    with catalogue(instance) as factory:
        with transaction(factory) as session:
            source = service.get_source(session, SYSTEM, "busy")
            source.status = "running"
            session.add(HarvestRun(source_id=source.id, trigger="test", status="running"))
        with pytest.raises(ConflictError, match="déjà en cours"):
            service.start_run(factory, instance, SYSTEM, "busy")
        with transaction(factory) as session:  # a run left by a crash expires
            stale = session.scalar(select(HarvestRun).where(HarvestRun.trigger == "test"))
            assert stale is not None
            stale.started_at = stale.started_at - service.STALE_RUN
        assert service.start_run(factory, instance, SYSTEM, "busy").created == 4
