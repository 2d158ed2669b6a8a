"""CKAN actions on both catalogue backends: resources of a published version, stable ids."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog import services
from beffroi.catalog.schemas import DatasetUpdate, parse
from beffroi.errors import InvalidInputError, NotFoundError, UserError
from beffroi.publish import ckan
from beffroi.query.exports import FORMATS as EXPORTS
from tests.factories import make_dataset
from tests.unit.publish.conftest import BASE, full_dataset


def test_resources_of_the_published_version(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    package = ckan.call(session, BASE, "package_show", {"id": dataset.slug})
    assert package["id"] == dataset.store_key
    geojson = ["GeoJSON"] if "geojson" in EXPORTS else []  # the version has a geometry
    formats = ["CSV", "JSON", "Parquet", "XLSX", *geojson, "JSON", "ZIP"]
    assert [r["format"] for r in package["resources"]] == formats
    assert package["num_resources"] == len(formats)
    assert package["version"] == "1"
    first = package["resources"][0]
    assert ckan.call(session, BASE, "resource_show", {"id": first["id"]}) == first
    search = ckan.call(session, BASE, "package_search", {"fq": "res_format:parquet"})
    assert [p["name"] for p in search["results"]] == [dataset.slug]


def test_ids_survive_a_rename(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    before = ckan.call(session, BASE, "package_show", {"id": dataset.store_key})
    services.update_dataset(session, system, dataset.slug, parse(DatasetUpdate, {"slug": "neuf"}))
    after = ckan.call(session, BASE, "package_show", {"id": dataset.store_key})
    assert after["name"] == "neuf"
    assert [r["id"] for r in after["resources"]] == [r["id"] for r in before["resources"]]


def test_only_public_datasets(session: Session, system: Actor) -> None:
    shown = make_dataset(session, system)
    hidden = make_dataset(session, system, access_level="internal")
    names = ckan.call(session, BASE, "package_list", {})
    assert shown.slug in names
    assert hidden.slug not in names
    with pytest.raises(NotFoundError):
        ckan.call(session, BASE, "package_show", {"id": hidden.store_key})
    with pytest.raises(NotFoundError):
        ckan.call(session, BASE, "resource_show", {"id": f"{hidden.store_key}-csv"})


def test_error_types(session: Session) -> None:
    with pytest.raises(UserError) as unknown:
        ckan.call(session, BASE, "datastore_delete", {})
    assert ckan.ckan_error_type(unknown.value) == "Bad Request"
    with pytest.raises(InvalidInputError) as bad_sort:
        ckan.call(session, BASE, "package_search", {"sort": "colour asc"})
    assert ckan.ckan_error_type(bad_sort.value) == "Search Query Error"


def test_package_show_by_a_former_name(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system)
    old = dataset.slug
    services.update_dataset(session, system, old, parse(DatasetUpdate, {"slug": "renomme"}))
    package = ckan.call(session, BASE, "package_show", {"id": old})
    assert package["name"] == "renomme"
    assert package["id"] == dataset.store_key
