"""The shipped reference data (COG communes, EPCI, départements, régions) against its sources."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from beffroi import reference
from beffroi.errors import NotFoundError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SOURCE = SHARED_DATA / "reference"
PACKAGED = REPO_ROOT / "beffroi" / "reference" / "data"
SHIPPED_FILES = (
    "communes.csv.gz",
    "epci.csv.gz",
    "departements.csv.gz",
    "regions.csv.gz",
    "SOURCES.md",
)
ISLANDS = {"22016", "29083", "29155", "85113"}
PLM = {"75056": "751", "69123": "6938", "13055": "132"}


def read_source(relative: str) -> list[dict[str, str]]:
    path = SOURCE / relative
    if not path.is_file():
        pytest.skip(f"source data not available: {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def source_communes() -> dict[str, dict[str, str]]:
    return {row["code_insee"]: row for row in read_source("derived/communes-reference.csv")}


@pytest.fixture(scope="module")
def source_epcis() -> dict[str, dict[str, str]]:
    return {row["epci_siren"]: row for row in read_source("derived/epci-2025.csv")}


# --- packaged rows against the sources ------------------------------------------------------


def test_commune_count_equals_com_and_arm_rows_of_source(
    source_communes: dict[str, dict[str, str]],
) -> None:
    kinds = Counter(row["typecom"] for row in source_communes.values())
    assert len(reference.communes()) == kinds["COM"] + kinds["ARM"] == len(source_communes)
    assert set(reference.communes()) == set(source_communes)


def test_commune_fields_match_source(source_communes: dict[str, dict[str, str]]) -> None:
    for code, row in source_communes.items():
        item = reference.commune(code)
        assert item.code_insee == code
        assert item.name == row["nom"]
        assert item.typecom == row["typecom"]
        assert item.departement == row["code_departement"]
        assert item.region == row["code_region"]
        assert item.arrondissement == (row["code_arrondissement"] or None)
        assert item.siren == (row["siren_commune"] or None)
        assert item.epci_siren == (row["epci_siren"] or None)
        if code not in PLM:  # Paris, Lyon, Marseille: derived from arrondissements, see below
            expected = int(row["population_municipale"]) if row["population_municipale"] else None
            assert item.population_municipale == expected
            assert set(item.postal_codes) == set(filter(None, row["codes_postaux_2020"].split("|")))


def test_epci_fields_match_source(source_epcis: dict[str, dict[str, str]]) -> None:
    assert set(reference.epcis()) == set(source_epcis)
    for siren, row in source_epcis.items():
        item = reference.epci(siren)
        assert (item.name, item.nature, item.financing) == (
            row["epci_nom"],
            row["nature_juridique"],
            row["mode_financement"],
        )
        assert item.seat_departement == row["departement_siege"]
        assert item.member_count == int(row["nb_membres"])


def test_departements_and_regions_match_insee_cog() -> None:
    deps = read_source("insee-cog/departements.csv")
    regs = read_source("insee-cog/regions.csv")
    assert {d.code: (d.region, d.name, d.chef_lieu) for d in reference.departements().values()} == {
        r["DEP"]: (r["REG"], r["LIBELLE"], r["CHEFLIEU"]) for r in deps
    }
    assert {r.code: (r.name, r.chef_lieu) for r in reference.regions().values()} == {
        r["REG"]: (r["LIBELLE"], r["CHEFLIEU"]) for r in regs
    }


# --- known values -----------------------------------------------------------------------------


def test_known_commune_bourg_en_bresse() -> None:
    bourg = reference.commune("01053")
    assert bourg.name == "Bourg-en-Bresse"
    assert bourg.typecom == "COM"
    assert bourg.departement == "01"
    assert bourg.region == "84"
    assert bourg.siren == "210100533"
    assert bourg.epci_siren == "200071751"
    assert "01000" in bourg.postal_codes
    assert reference.epci("200071751").name == "CA du Bassin de Bourg-en-Bresse"
    assert reference.departement("01").name == "Ain"
    assert reference.departement("01").chef_lieu == "01053"
    assert reference.region("84").name == "Auvergne-Rhône-Alpes"


def test_codes_are_strings_with_leading_zeros() -> None:
    assert all(len(code) == 5 for code in reference.communes())
    assert "01001" in reference.communes()
    assert reference.commune("01001").departement == "01"
    assert all(len(s) == 9 for s in reference.epcis())
    assert all(len(c.siren) == 9 for c in reference.communes().values() if c.siren is not None)
    assert "01" in reference.departements()
    assert "01" in reference.regions()  # Guadeloupe


def test_corsica_codes() -> None:
    ajaccio = reference.commune("2A004")
    assert ajaccio.name == "Ajaccio"
    assert ajaccio.departement == "2A"
    assert ajaccio.region == "94"
    assert reference.commune(" 2a004 ") == ajaccio  # case and spaces forgiven
    assert reference.commune("2B033").name == "Bastia"
    assert reference.region("94").chef_lieu == "2A004"


def test_overseas_codes() -> None:
    assert reference.commune("97411").name == "Saint-Denis"
    assert reference.departement("974").name == "La Réunion"


def test_paris_lyon_marseille_population_is_sum_of_arrondissements() -> None:
    everything = reference.communes()
    for parent, prefix in PLM.items():
        arms = [
            c for c in everything.values() if c.typecom == "ARM" and c.code_insee.startswith(prefix)
        ]
        assert arms
        assert all(c.siren is None and c.epci_siren is None for c in arms)
        expected = sum(c.population_municipale or 0 for c in arms)
        assert reference.commune(parent).population_municipale == expected
        assert set(reference.commune(parent).postal_codes) >= {
            p for c in arms for p in c.postal_codes
        }
    assert len([c for c in everything.values() if c.typecom == "ARM"]) == 20 + 9 + 16


def test_mayotte_population_unknown() -> None:
    mamoudzou = reference.commune("97611")
    assert mamoudzou.population_municipale is None
    assert mamoudzou.epci_siren is not None
    assert reference.epci(mamoudzou.epci_siren).population_municipale is None


# --- EPCI membership --------------------------------------------------------------------------


def test_epci_member_lists_match_member_count() -> None:
    for siren, item in reference.epcis().items():
        members = reference.epci_members(siren)
        assert len(members) == item.member_count, siren
        assert all(m.typecom == "COM" and m.epci_siren == siren for m in members)
        assert all(m.siren is not None for m in members)
        if item.population_municipale is not None:
            assert item.population_municipale == sum(m.population_municipale or 0 for m in members)


def test_known_epci_members_sorted_by_name() -> None:
    members = reference.epci_members("200071751")
    assert len(members) == reference.epci("200071751").member_count == 74
    assert reference.commune("01053") in members
    names = [m.name for m in members]
    assert names.index("Bény") < names.index("Bohas-Meyriat-Rignat")  # accents ignored


def test_every_commune_but_the_islands_belongs_to_an_epci() -> None:
    without = {
        c.code_insee
        for c in reference.communes().values()
        if c.typecom == "COM" and not c.epci_siren
    }
    assert without == ISLANDS
    for code in ISLANDS:
        assert reference.commune(code).epci_siren is None
        assert reference.commune(code).siren is not None


def test_find_epci_ignores_case_accents_and_punctuation() -> None:
    found = reference.find_epci("BASSIN DE BOURG EN BRESSE")
    assert [e.siren for e in found] == ["200071751"]
    assert "200071751" in {e.siren for e in reference.find_epci("bourg-en-bresse")}
    assert any("Eurométropole" in e.name for e in reference.find_epci("eurometropole"))
    assert reference.find_epci("   ") == []
    assert reference.find_epci("zzz-no-such-epci") == []
    names = [e.name for e in reference.find_epci("agglo")]
    assert len(names) > 10


# --- errors -----------------------------------------------------------------------------------


def test_unknown_commune_names_the_code_and_hints() -> None:
    with pytest.raises(NotFoundError) as caught:
        reference.commune("99999")
    assert "99999" in caught.value.message
    assert caught.value.hint


def test_postal_code_given_instead_of_insee_code() -> None:
    with pytest.raises(NotFoundError) as caught:
        reference.commune("75001")
    assert caught.value.hint is not None
    assert "postal" in caught.value.hint
    assert "75101" in caught.value.hint


def test_lost_leading_zero_is_hinted() -> None:
    with pytest.raises(NotFoundError) as caught:
        reference.commune("1053")
    assert caught.value.hint is not None
    assert "01053" in caught.value.hint


def test_unknown_epci_departement_region() -> None:
    with pytest.raises(NotFoundError, match="123456789"):
        reference.epci("123456789")
    with pytest.raises(NotFoundError, match="123456789"):
        reference.epci_members("123456789")
    with pytest.raises(NotFoundError, match="99"):
        reference.departement("99")
    with pytest.raises(NotFoundError, match="77"):
        reference.region("77")


def test_returned_mappings_are_read_only() -> None:
    with pytest.raises(TypeError):
        reference.communes()["00000"] = reference.commune("01053")  # type: ignore[index]


def test_vintage_and_attribution() -> None:
    assert reference.VINTAGE == {"cog": 2026, "epci": 2025, "population": 2023}
    assert "INSEE" in reference.ATTRIBUTION
    assert "Licence Ouverte" in reference.ATTRIBUTION
    assert "\n" not in reference.ATTRIBUTION


# --- the build ---------------------------------------------------------------------------------


def test_packaged_files_are_gzip_without_timestamp() -> None:
    for name in SHIPPED_FILES:
        assert (PACKAGED / name).is_file(), name
        if name.endswith(".gz"):
            header = (PACKAGED / name).read_bytes()[:10]
            assert header[:2] == b"\x1f\x8b"
            assert header[4:8] == b"\x00\x00\x00\x00"  # mtime 0
            with gzip.open(PACKAGED / name, "rt", encoding="utf-8") as text:
                assert "\r" not in text.read()


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    if not SOURCE.is_dir():
        pytest.skip(f"source data not available: {SOURCE}")
    for attempt in ("first", "second"):
        result = subprocess.run(
            [
                sys.executable,
                str(REPO_ROOT / "scripts" / "build_reference.py"),
                "--source",
                str(SOURCE),
                "--output",
                str(tmp_path / attempt),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "communes 34920" in result.stdout
    for name in SHIPPED_FILES:
        built = (tmp_path / "first" / name).read_bytes()
        assert built == (tmp_path / "second" / name).read_bytes(), name
        assert built == (PACKAGED / name).read_bytes(), f"{name}: rerun scripts/build_reference.py"
