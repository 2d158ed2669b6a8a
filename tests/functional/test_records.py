"""Records API over real files: each filter, sort, page, facet and aggregate against answers
computed independently (Python's csv module on the same file), and the access rules."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.ingest.pipeline import ingest_file
from beffroi.store import store_for
from tests.conftest import SHARED_DATA
from tests.functional.conftest import bearer

SUBVENTIONS = (
    SHARED_DATA
    / "schemas"
    / "scdl-subventions"
    / "examples"
    / "real-subventions-commune-de-castelmaurou.csv"
)
VALID = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
PUBLIC = "subventions-associations"  # public, published by the EPCI in the demo
PARTNER_ONLY = "consommation-eau-potable-par-commune"  # organisation-only (water partner)
URL = f"/api/v1/datasets/{PUBLIC}/records"


def rows_of(path: Any) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


EXPECTED = rows_of(SUBVENTIONS)


def load(client: TestClient, slug: str, path: Any, *, publish: bool = True) -> None:
    settings = client.app.state.settings
    ingest_file(
        client.app.state.session_factory,
        store_for(settings),
        Actor.system(name="test"),
        slug,
        path,
        publish=publish,
    )


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    load(client, PUBLIC, SUBVENTIONS)
    return client


def get(client: TestClient, url: str = URL, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params) if params else client.get(url)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_first_page_fields_total_links(loaded: TestClient) -> None:
    body = get(loaded, limit=10)
    assert body["dataset"] == PUBLIC
    assert body["version"] == 1
    assert body["meta"] == {"total": 95, "total_exact": True, "limit": 10, "grouped": False}
    names = [f["name"] for f in body["fields"]]
    assert names == list(EXPECTED[0])  # file order, no hidden row column
    types = {f["name"]: f["type"] for f in body["fields"]}
    assert types["dateConvention"] == "date"
    assert types["montant"] == "number" or types["montant"] == "integer"
    assert types["idBeneficiaire"] == "string"
    # Upload order.
    assert [r["nomBeneficiaire"] for r in body["data"]] == [
        r["nomBeneficiaire"] for r in EXPECTED[:10]
    ]
    assert body["links"]["next"]
    assert body["links"]["dataset"].endswith(f"/api/v1/datasets/{PUBLIC}")


def test_keyset_pages_walk_every_row_once(loaded: TestClient) -> None:
    seen: list[str] = []
    url: str | None = f"{URL}?limit=7&select=idBeneficiaire,objet"
    pages = 0
    while url:
        body = get(loaded, url)
        assert len(body["data"]) <= 7
        seen += [f"{r['idBeneficiaire']}|{r['objet']}" for r in body["data"]]
        url = body["links"]["next"]
        pages += 1
    assert pages == 14  # ceil(95 / 7)
    assert seen == [f"{r['idBeneficiaire']}|{r['objet']}" for r in EXPECTED]


def test_keyset_pages_with_a_sort_on_duplicated_keys(loaded: TestClient) -> None:
    """Sorted by amount, descending, then by beneficiary: many ties, nulls none; each row
    appears exactly once across pages, in the hand-computed order."""
    expected = sorted(
        enumerate(EXPECTED),
        key=lambda p: (-float(p[1]["montant"]), p[1]["nomBeneficiaire"], p[0]),
    )
    got: list[tuple[str, str]] = []
    url: str | None = f"{URL}?limit=9&sort=-montant,nomBeneficiaire"
    while url:
        body = get(loaded, url)
        got += [(str(float(r["montant"])), r["nomBeneficiaire"]) for r in body["data"]]
        url = body["links"]["next"]
    assert got == [(str(float(r["montant"])), r["nomBeneficiaire"]) for _i, r in expected]


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"nature": "aide en numéraire"}, lambda r: r["nature"] == "aide en numéraire"),
        ({"nature__ne": "aide en numéraire"}, lambda r: r["nature"] != "aide en numéraire"),
        ({"montant__gte": "5000"}, lambda r: float(r["montant"]) >= 5000),
        ({"montant__gt": "5000"}, lambda r: float(r["montant"]) > 5000),
        ({"montant__lt": "500"}, lambda r: float(r["montant"]) < 500),
        ({"montant__lte": "500"}, lambda r: float(r["montant"]) <= 500),
        (
            {"dateConvention__in": "2018-04-14,2014-06-20"},
            lambda r: r["dateConvention"] in {"2018-04-14", "2014-06-20"},
        ),
        ({"dateConvention__gte": "2018-01-01"}, lambda r: r["dateConvention"] >= "2018-01-01"),
        (
            {"nomBeneficiaire__contains": "tennis"},
            lambda r: "tennis" in r["nomBeneficiaire"].lower(),
        ),
        (
            {"nomBeneficiaire__startswith": "asso"},
            lambda r: r["nomBeneficiaire"].lower().startswith("asso"),
        ),
        ({"idRAE__null": "true"}, lambda r: r["idRAE"] == ""),
        ({"idRAE__null": "false"}, lambda r: r["idRAE"] != ""),
        (
            {"montant__gte": "1000", "nomBeneficiaire__contains": "club"},
            lambda r: float(r["montant"]) >= 1000 and "club" in r["nomBeneficiaire"].lower(),
        ),
        ({"q": "football"}, lambda r: any("football" in v.lower() for v in r.values())),
        (
            {"q": "fonctionnement 2018"},
            lambda r: all(
                any(w in v.lower() for v in r.values()) for w in ("fonctionnement", "2018")
            ),
        ),
    ],
)
def test_filters_against_hand_computed_answers(
    loaded: TestClient, params: dict[str, str], predicate: Any
) -> None:
    expected = [r["objet"] + r["nomBeneficiaire"] for r in EXPECTED if predicate(r)]
    body = get(loaded, **params, limit=500)
    assert body["meta"]["total"] == len(expected)
    assert [r["objet"] + r["nomBeneficiaire"] for r in body["data"]] == expected


def test_facets(loaded: TestClient) -> None:
    body = get(loaded, facet="nature", limit=1)
    counts = Counter(r["nature"] for r in EXPECTED)
    assert {f["value"]: f["count"] for f in body["facets"]["nature"]} == dict(counts)
    filtered = get(loaded, facet="dateConvention", montant__gte="5000", limit=1)
    dates = Counter(r["dateConvention"] for r in EXPECTED if float(r["montant"]) >= 5000)
    assert {f["value"]: f["count"] for f in filtered["facets"]["dateConvention"]} == dict(dates)


def test_group_by_with_every_aggregate(loaded: TestClient) -> None:
    body = get(
        loaded,
        group_by="dateConvention",
        agg=["count", "sum:montant", "avg:montant", "min:montant", "max:montant"],
        sort="-sum_montant",
        limit=100,
    )
    groups: dict[str, list[float]] = defaultdict(list)
    for r in EXPECTED:
        groups[r["dateConvention"]].append(float(r["montant"]))
    assert body["meta"]["grouped"] is True
    assert body["meta"]["total"] == len(groups)
    got = {row["dateConvention"]: row for row in body["data"]}
    assert set(got) == set(groups)
    for date, amounts in groups.items():
        row = got[date]
        assert row["count"] == len(amounts)
        assert row["sum_montant"] == pytest.approx(sum(amounts))
        assert row["avg_montant"] == pytest.approx(sum(amounts) / len(amounts))
        assert row["min_montant"] == pytest.approx(min(amounts))
        assert row["max_montant"] == pytest.approx(max(amounts))
    sums = [row["sum_montant"] for row in body["data"]]
    assert sums == sorted(sums, reverse=True)
    names = [f["name"] for f in body["fields"]]
    assert names == [
        "dateConvention",
        "count",
        "sum_montant",
        "avg_montant",
        "min_montant",
        "max_montant",
    ]


def test_count_distinct_and_whole_table_aggregate(loaded: TestClient) -> None:
    body = get(loaded, agg=["count", "count_distinct:nomBeneficiaire", "sum:montant"])
    assert body["data"] == [
        {
            "count": 95,
            "count_distinct_nomBeneficiaire": len({r["nomBeneficiaire"] for r in EXPECTED}),
            "sum_montant": pytest.approx(sum(float(r["montant"]) for r in EXPECTED)),
        }
    ]


def test_group_pages_follow_next(loaded: TestClient) -> None:
    url: str | None = f"{URL}?group_by=nomBeneficiaire&limit=5"
    seen: list[str] = []
    while url:
        body = get(loaded, url)
        seen += [r["nomBeneficiaire"] for r in body["data"]]
        url = body["links"]["next"]
    assert seen == sorted({r["nomBeneficiaire"] for r in EXPECTED})


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"nope": "1"}, "nope"),
        ({"nope__gte": "1"}, "nope__gte"),
        ({"sort": "nope"}, "sort"),
        ({"select": "montant,nope"}, "select"),
        ({"facet": "nope"}, "facet"),
        ({"group_by": "nope"}, "group_by"),
        ({"agg": "sum:nope"}, "agg"),
        ({"agg": "median:montant"}, "agg"),
        ({"limit": "0"}, None),
        ({"cursor": "garbage!"}, "cursor"),
        ({"version": "abc"}, "version"),
        ({'montant" OR 1=1 --': "1"}, 'montant" OR 1=1 --'),
        ({"idRAE__null": "maybe"}, "idRAE__null"),
    ],
)
def test_bad_parameters_are_422_problems(
    loaded: TestClient, params: dict[str, str], field: str | None
) -> None:
    response = loaded.get(URL, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["hint"] or body.get("errors")
    if field is not None:
        assert body["errors"][0]["field"] == field


def test_values_are_bound_not_spliced(loaded: TestClient) -> None:
    body = get(loaded, nomBeneficiaire="x' OR '1'='1")
    assert body["meta"]["total"] == 0
    response = loaded.get(URL, params={"montant__gte": "1; DROP VIEW x"})
    assert response.status_code == 422
    assert get(loaded)["meta"]["total"] == 95


def test_unreadable_dataset_answers_like_a_missing_one(client: TestClient) -> None:
    load(client, PARTNER_ONLY, VALID)
    hidden = client.get(f"/api/v1/datasets/{PARTNER_ONLY}/records")
    missing = client.get("/api/v1/datasets/no-such-dataset/records")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "not-found"
    assert hidden.json()["hint"] == missing.json()["hint"]
    allowed = client.get(
        f"/api/v1/datasets/{PARTNER_ONLY}/records", headers=bearer(client, "partenaire-eau")
    )
    assert allowed.status_code == 200
    assert allowed.json()["meta"]["total"] == 29


def test_unpublished_data_is_not_served(client: TestClient) -> None:
    load(client, PUBLIC, SUBVENTIONS, publish=False)
    assert client.get(URL).status_code == 404
    editor = bearer(client, "admin")
    assert client.get(URL, headers=editor).status_code == 404  # nothing published yet
    assert client.get(URL, params={"version": 1}, headers=editor).status_code == 200
    assert client.get(URL, params={"version": 1}).status_code == 404


def test_past_versions(loaded: TestClient) -> None:
    load(loaded, PUBLIC, VALID)  # version 2, published
    assert get(loaded)["meta"]["total"] == 29
    past = get(loaded, version=1, limit=1)
    assert past["version"] == 1
    assert past["published"] is False
    assert past["meta"]["total"] == 95
    assert loaded.get(URL, params={"version": 3}).status_code == 404
