"""Mapping of remote metadata to Beffroi's vocabularies, and harvest schedules."""

from __future__ import annotations

import datetime as dt

import pytest

from beffroi.errors import InvalidInputError
from beffroi.harvest import model
from beffroi.harvest.fetching import Validators
from beffroi.harvest.service import parse_every

EU = "http://publications.europa.eu/resource/authority"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("etalab-2.0", "etalab-2.0"),
        ("https://www.etalab.gouv.fr/licence-ouverte-open-licence", "etalab-2.0"),
        ("http://opendatacommons.org/licenses/odbl/1-0/", "ODbL-1.0"),
        ("Licence Ouverte Version 2.0", "etalab-2.0"),
        ("https://example.org/ma-licence", "https://example.org/ma-licence"),
        ("Réutilisation libre sous conditions", "other-closed"),
        (None, "other-closed"),
    ],
)
def test_licences(value: str | None, expected: str) -> None:
    assert model.license_code(value) == expected


def test_vocabularies() -> None:
    assert model.theme(f"{EU}/data-theme/TRAN") == "TRAN"
    assert model.theme("econ") == "ECON"
    assert model.theme("Theme 2") is None
    assert model.frequency(f"{EU}/frequency/ANNUAL") == "ANNUAL"
    assert model.frequency("daily") == "DAILY"
    assert model.frequency("yearly") == "ANNUAL"
    assert model.frequency("sometimes") is None
    assert model.spatial("http://id.insee.fr/geo/commune/56121") == "commune:56121"
    assert model.spatial("http://id.insee.fr/geo/intercommunalite/200042174") == "epci:200042174"
    assert model.spatial("http://wuEurope.com/") is None
    assert model.hvd_category("http://data.europa.eu/bna/c_ac64a52d") == "c_ac64a52d"
    assert model.day("2016-12-14T19:01:24.184120") == dt.date(2016, 12, 14)
    assert model.day("not a date") is None


@pytest.mark.parametrize(
    ("label", "media", "url", "expected"),
    [
        ("CSV", None, "https://x.org/a", "csv"),
        (None, "https://www.iana.org/assignments/media-types/application/json", "", "json"),
        (f"{EU}/file-type/GEOJSON", None, "", "geojson"),
        (None, None, "https://x.org/export.xlsx?x=1", "xlsx"),
        ("WMS", None, "https://x.org/services?SERVICE=WMS", None),
    ],
)
def test_file_formats(label: str | None, media: str | None, url: str, expected: str | None) -> None:
    assert model.file_format(label, media, url) == expected


def test_clean_keeps_the_catalogue_rules() -> None:
    cleaned = model.clean(
        {
            "title": "ab",
            "keywords": [" a ", "a", ""],
            "temporal_start": dt.date(2020, 1, 1),
            "temporal_end": dt.date(2019, 1, 1),
            "frequency": None,
        }
    )
    assert cleaned == {
        "title": "ab (jeu moissonné)",
        "keywords": ["a"],
        "temporal_start": dt.date(2020, 1, 1),
    }


def test_digest_follows_the_metadata() -> None:
    one = model.RemoteDataset("1", None, "x", {"title": "Un"})
    assert one.digest() == model.RemoteDataset("1", "u", "y", {"title": "Un"}).digest()
    assert one.digest() != model.RemoteDataset("1", None, "x", {"title": "Deux"}).digest()


def test_schedules() -> None:
    assert parse_every("1h") == 3600
    assert parse_every("30min") == 1800
    assert parse_every("2d") == 2 * 86400
    assert parse_every(900) == 900
    assert parse_every(None) is None
    with pytest.raises(InvalidInputError, match="trop court"):
        parse_every("10s")
    with pytest.raises(InvalidInputError, match="30min"):
        parse_every("often")


def test_validators() -> None:
    assert Validators('"abc"', None).same_as('"abc"', None)
    assert not Validators('"abc"', None).same_as('"abd"', None)
    assert not Validators('W/"abc"', "x").same_as('W/"abc"', "y")  # weak ETag: downloaded, compared
    assert Validators(None, "Tue, 01 Dec 2026").same_as(None, "Tue, 01 Dec 2026")
    assert not Validators(None, None).same_as(None, None)
