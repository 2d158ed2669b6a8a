"""Column profiles (streamed across batches) and semantic types."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from beffroi.ingest import semantic
from beffroi.ingest.infer import convert, infer_schema
from beffroi.ingest.profile import ColumnProfile, ProfileBuilder, profile_table

from .test_infer import DATA, read_csv, text_table

# ---------------------------------------------------------------------------------------------
# Semantic types
# ---------------------------------------------------------------------------------------------

SIRETS = ["52499120500013", "38033590100027", "21060004500392", "35600000000001"]
SIRENS = ["217602176", "200035210", "240100883", "356000000"]


@pytest.mark.parametrize(
    ("name", "values", "label"),
    [
        ("beneficiaire", SIRETS, "siret"),
        ("beneficiaire", ["524 991 205 00013", "380 335 901 00027"], "siret"),
        ("organisme", SIRENS, "siren"),
        ("association", ["W751234567", "W2B1000123", "W133000001"], "rna"),
        ("commune", ["75056", "13028", "69123", "01053", "2A004"], "code_commune_insee"),
        ("valeur", ["75056", "13055", "69123", "31555", "35238"], "code_commune_insee"),
        ("valeur", ["75001", "13600", "01000", "69001", "35000"], "code_postal"),
        ("cp", ["13001", "13002", "13003"], "code_postal"),
        ("code_insee", ["13001", "13002", "13003"], "code_commune_insee"),
        ("dep", ["01", "2A", "75", "971"], "code_departement"),
        ("contact", ["p.nom@domaine.fr", "jean-luc.o'neil@mairie-x.fr"], "email"),
        ("site", ["https://www.data.gouv.fr/fr/", "http://example.org", "www.beffroi.fr"], "url"),
        (
            "tel",
            ["01 23 45 67 89", "+33 6 12 34 56 78", "0612345678", "04.78.00.00.00"],
            "telephone",
        ),
    ],
)
def test_semantic_text(name: str, values: list[str], label: str) -> None:
    found = semantic.detect(pa.array(values), name)
    assert found is not None
    assert found.label == label
    assert found.confidence >= 0.9


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("valeur", ["12345678901234", "12345678901235", "12345678901236"]),  # Luhn fails
        ("valeur", ["Bourg-en-Bresse", "Paris"]),
        ("dep", ["Ain", "Paris"]),
        ("valeur", ["01", "75"]),  # two digits without a header saying so
        ("contact", ["p.nom@domaine", "pas un e-mail"]),
    ],
)
def test_no_semantic_type(name: str, values: list[str]) -> None:
    assert semantic.detect(pa.array(values), name) is None


def test_semantic_threshold_is_a_share_of_distinct_values() -> None:
    values = [*SIRETS, *[f"5249912050{n:04d}" for n in range(20)]]  # mostly bad checksums
    assert semantic.detect(pa.array(values), "beneficiaire") is None
    nine_of_ten = ["75056", "13028", "69123", "31555", "35238"] * 2
    nine_of_ten[-1] = "99999"
    assert semantic.detect(pa.array(nine_of_ten), "valeur") is None  # 5 of 6 distinct
    found = semantic.detect(pa.array(nine_of_ten), "valeur", threshold=0.8)
    assert found == semantic.SemanticType("code_commune_insee", 5 / 6)


def test_coordinates_need_a_name_and_a_range() -> None:
    latitudes = pa.array([43.19, 48.85, -21.1])
    assert semantic.detect(latitudes, "Ylatitude") == semantic.SemanticType("latitude", 1.0)
    assert semantic.detect(latitudes, "lat_coor1") == semantic.SemanticType("latitude", 1.0)
    assert semantic.detect(pa.array([5.6, 2.3, 55.4]), "Xlongitude") == semantic.SemanticType(
        "longitude", 1.0
    )
    assert semantic.detect(pa.array([539416.13, 6225601.11]), "x") is None  # Lambert 93
    assert semantic.detect(latitudes, "montant") is None


def test_reference_can_be_skipped() -> None:
    found = semantic.detect(pa.array(["75056", "13028"]), "valeur", use_reference=False)
    assert found is not None
    assert found.label == "code_commune_insee"


def test_name_tokens() -> None:
    assert semantic.name_tokens("idAttribuant") == ["id", "attribuant"]
    assert semantic.name_tokens("Code_Postal") == ["code", "postal"]
    assert semantic.name_tokens("Année de référence") == ["annee", "de", "reference"]


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------


def test_profile_streams_across_batches() -> None:
    first = text_table(
        montant=["1 234,56", "12,5", None],
        jour=["01/02/2024", "15/03/2023", "NA"],
        siret=[SIRETS[0], SIRETS[1], SIRETS[0]],
        ue=["oui", "non", "oui"],
    )
    second = text_table(
        montant=["-3", "99 999,99", "12,5"],
        jour=["31/12/2024", None, "01/01/2020"],
        siret=[SIRETS[2], SIRETS[3], None],
        ue=["non", None, "non"],
    )
    types = infer_schema(first)
    builder = ProfileBuilder(types)
    for batch in (first, second):
        builder.update(convert(batch.to_batches()[0], types))
    profiles = {p.name: p for p in builder.finish()}

    montant = profiles["montant"]
    assert (montant.kind, montant.rows, montant.null_count) == ("number", 6, 1)
    assert montant.null_share == pytest.approx(1 / 6)
    assert (montant.distinct_count, montant.distinct_exact) == (4, True)  # 12,5 twice
    assert (montant.min, montant.max) == ("-3", "99999.99")
    assert montant.examples == ("1234.56", "12.5", "-3", "99999.99")

    jour = profiles["jour"]
    assert (jour.kind, jour.null_count, jour.min, jour.max) == (
        "date",
        2,
        "2020-01-01",
        "2024-12-31",
    )
    assert profiles["ue"].examples == ("true", "false")
    assert (profiles["ue"].min, profiles["ue"].max) == ("false", "true")

    siret = profiles["siret"]
    assert (siret.kind, siret.distinct_count) == ("string", 4)
    assert (siret.semantic, siret.semantic_confidence) == ("siret", 1.0)
    assert profiles["montant"].semantic is None


def test_as_dict_is_json() -> None:
    table = text_table(
        stamp=["2024-01-02T10:00:00+02:00", None],
        montant=["12,5", "1 000"],
        cp=["01000", "13600"],
    )
    types = infer_schema(table)
    profiles = profile_table(convert(table.to_batches()[0], types), types)
    data = json.loads(json.dumps([p.as_dict() for p in profiles]))
    assert data[0]["type"] == "datetime"
    assert data[0]["min"] == "2024-01-02T08:00:00+00:00"
    assert data[0]["null_share"] == 0.5
    assert data[1]["examples"] == ["12.5", "1000"]
    assert data[2] == {
        "name": "cp",
        "type": "string",
        "rows": 2,
        "null_count": 0,
        "null_share": 0.0,
        "distinct_count": 2,
        "distinct_exact": True,
        "min": "01000",
        "max": "13600",
        "examples": ["01000", "13600"],
        "semantic": "code_postal",
        "semantic_confidence": 1.0,
    }


def test_distinct_count_stops_being_exact_past_the_limit() -> None:
    builder = ProfileBuilder(distinct_limit=100)
    for start in range(0, 1000, 50):
        builder.update(pa.table({"n": pa.array(range(start, start + 50))}))
    (profile,) = builder.finish()
    assert profile.distinct_exact is False
    assert profile.distinct_count > 100  # a lower bound
    assert (profile.min, profile.max, profile.rows) == ("0", "999", 1000)

    exact = ProfileBuilder(distinct_limit=10_000)
    for start in range(0, 100_000, 20_000):
        exact.update(pa.table({"n": pa.array([i % 7_000 for i in range(start, start + 20_000)])}))
    (profile,) = exact.finish()
    assert (profile.distinct_count, profile.distinct_exact) == (7_000, True)


def test_profile_without_types_and_edge_columns() -> None:
    table = pa.table(
        {
            "vide": pa.array([None, None], pa.string()),
            "long": pa.array(["x" * 500, "y"]),
            "when": pa.array([dt.datetime(2024, 1, 1, 12), None]),  # noqa: DTZ001
            "lat": pa.array([48.85, 43.3]),
        }
    )
    profiles = {p.name: p for p in profile_table(table)}
    assert profiles["vide"] == ColumnProfile(
        name="vide",
        kind="string",
        rows=2,
        null_count=2,
        distinct_count=0,
        distinct_exact=True,
        min=None,
        max=None,
        examples=(),
        semantic=None,
        semantic_confidence=None,
    )
    assert len(profiles["long"].examples[0]) == 200
    assert profiles["when"].kind == "datetime"
    assert profiles["when"].max == "2024-01-01T12:00:00"
    assert profiles["lat"].semantic == "latitude"


def test_empty_profile() -> None:
    builder = ProfileBuilder()
    builder.update(pa.table({"a": pa.array([], pa.string())}))
    (profile,) = builder.finish()
    assert (profile.rows, profile.null_share, profile.distinct_count) == (0, 0.0, 0)


def test_real_file_profile() -> None:
    """La Poste's 2014 file: INSEE and postal codes told apart by the COG."""
    table = read_csv(DATA / "messy" / "laposte-codes-postaux-2014-10.csv", "latin-1")
    types = infer_schema(table.slice(0, 5000))
    builder = ProfileBuilder(types)
    for batch in table.to_batches(max_chunksize=8192):
        builder.update(convert(batch, types))
    profiles = {p.name: p for p in builder.finish()}
    insee = profiles["code commune INSEE"]
    assert insee.semantic == "code_commune_insee"
    assert insee.rows == table.num_rows
    assert insee.min == "01001"
    assert profiles["code postal"].semantic == "code_postal"
    assert profiles["nom de la commune"].semantic is None


def test_real_file_semantics() -> None:
    folder: Path = DATA / "schemas" / "scdl-subventions" / "examples"
    table = read_csv(folder / "exemple_valide.csv")
    types = infer_schema(table)
    profiles = {p.name: p for p in profile_table(convert(table.to_batches()[0], types), types)}
    assert profiles["idAttribuant"].semantic == "siret"
    assert profiles["rnaBeneficiaire"].semantic == "rna"
    assert profiles["montant"].kind == "number"
