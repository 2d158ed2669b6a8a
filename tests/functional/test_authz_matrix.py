"""Authorisation matrix: every route of the app, seven actors, the five access levels.

Routes are enumerated from the router (``fastapi.routing.iter_route_contexts``), so a new
route is covered without editing this file:

* every route naming a dataset (a ``{slug}`` under ``/api/v1/datasets`` or
  ``/jeux-de-donnees``, a ``{key}`` under ``/catalog/datasets``, CKAN ``package_show``) is
  called, for each actor, on one dataset of each access level and on a dataset that does
  not exist: for a dataset the actor may not read, the answer must be *the same* as for the
  missing one (status and error code: 404, never 403) and must not name it; for a readable
  one, a read must not answer 404;
* every route without path parameters that reads (GET) is called with a search for the
  world's datasets, and must not name a dataset the actor may not read (lists, counts,
  facets, search results, feeds); dataset lists and CKAN counts must match the expectation;
* a table of actions (update, withdraw, publish, manage agreements, reviews, privacy,
  licence acceptance, the audit log, everyone's tokens) says who may do what;
* the data of a ``registered`` dataset opens to those outside its owner only once they
  accepted its licence.

The world (:func:`tests.functional.test_agreements.build_world`): datasets of the five
levels owned by the water directorate; anonymous, a viewer of another commune, an editor
and a steward of the owner, a partner with an agreement in force on the restricted dataset
(Lorient rows, three columns), a partner whose agreement expired, a platform administrator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from beffroi.catalog.db import transaction
from beffroi.catalog.models import AccessLevel, Dataset
from tests.functional.conftest import DemoInstance, bearer
from tests.functional.test_agreements import LORIENT, OWNER, World, build_world

GHOST = "releves-eau-fantome"
ACTORS = (
    "anonymous",
    "other_commune_viewer",
    "editor",
    "steward",
    "partner_active",
    "partner_expired",
    "admin",
)
OWNER_SIDE = {"editor", "steward", "admin"}
TERRITORY = {"other_commune_viewer", "editor", "steward", "admin"}

#: Who reads a dataset of each level (the expectation, written out by hand).
READERS: dict[str, set[str]] = {
    AccessLevel.PUBLIC.value: set(ACTORS),
    AccessLevel.REGISTERED.value: set(ACTORS) - {"anonymous"},
    AccessLevel.INTERNAL.value: TERRITORY,
    AccessLevel.ORGANIZATION.value: OWNER_SIDE,
    AccessLevel.RESTRICTED.value: OWNER_SIDE | {"partner_active"},
}

# Values of path parameters other than the dataset's.
PARAMETERS = {
    "number": "1",
    "fmt": "csv",
    "suffix": "ttl",
    "job_id": "00000000-0000-0000-0000-000000000000",
    "token": "jeton-inconnu",
    "agreement_id": "999999",
    "review_id": "999999",
    "code": "indicateur-inconnu",
    "insee": LORIENT,
    "column": "volume_m3",
    "name": "package_show",
}


# Query parameters some routes require (so that the dataset, not the request shape, decides).
QUERIES = {"/api/v1/datasets/{slug}/diff": {"from": "1", "to": "1"}}


@dataclass(frozen=True)
class Route:
    method: str
    path: str

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def names_dataset(self) -> bool:
        return (
            (
                "{slug}" in self.path
                and self.path.startswith(("/api/v1/datasets/", "/jeux-de-donnees/"))
            )
            or self.path == "/catalog/datasets/{key}"
            or self.path.endswith("/action/{name}")
        )

    def url(self, dataset: str | None = None, key: str | None = None) -> tuple[str, dict[str, str]]:
        values = {**PARAMETERS, "slug": dataset or OWNER}
        if key is not None:
            values["key"] = key
        url = self.path
        for name in self.params:
            url = url.replace(f"{{{name}}}", values.get(name, "x"))
        query = {"id": dataset} if self.path.endswith("/action/{name}") and dataset else {}
        return url, {**QUERIES.get(self.path, {}), **query}


def app_routes(client: TestClient) -> list[Route]:
    """Every (method, path) the application answers, from its router."""
    found = []
    for context in iter_route_contexts(client.app.router.routes):
        methods = getattr(context, "methods", None) or set()
        path = getattr(context, "path", "")
        for method in sorted(methods - {"HEAD"}):
            found.append(Route(method, path))
    return found


@dataclass
class Matrix:
    world: World
    headers: dict[str, dict[str, str]]
    keys: dict[str, str]  # dataset slug -> DCAT key

    def call(self, client: TestClient, actor: str, route: Route, dataset: str | None = None) -> Any:
        url, query = route.url(dataset, self.keys.get(dataset or ""))
        body: dict[str, Any] | None = {} if route.method in {"POST", "PUT", "PATCH"} else None
        return client.request(
            route.method,
            url,
            params=query,
            json=body,
            headers={**self.headers[actor], "Accept": "application/json"},
            follow_redirects=False,
        )


@pytest.fixture
def matrix(client: TestClient, demo_instance: DemoInstance, tmp_path: Path) -> Matrix:
    world = build_world(client, demo_instance, tmp_path / "world")
    headers = {a: bearer(client, u) if (u := world.users[a]) else {} for a in ACTORS}
    with transaction(client.app.state.session_factory) as session:
        keys = {
            slug: f"ds-{dataset_id}"
            for slug, dataset_id in session.execute(
                select(Dataset.slug, Dataset.id).where(
                    Dataset.slug.in_(list(world.datasets.values()))
                )
            )
        }
    keys[GHOST] = "ds-999999"
    return Matrix(world, headers, keys)


def problem_code(response: Any) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):  # CKAN envelope
            return str(error.get("__type"))
        return str(payload.get("code")) if payload.get("code") else None
    return None


def test_routes_are_enumerated(client: TestClient) -> None:
    routes = app_routes(client)
    paths = {r.path for r in routes}
    assert {"/api/v1/datasets/{slug}", "/api/v1/agreements", "/jeux-de-donnees/{slug}"} <= paths
    assert len(routes) > 50


def test_invisible_datasets_answer_like_missing_ones(client: TestClient, matrix: Matrix) -> None:
    leaks = []
    checked = 0
    for route in app_routes(client):
        if not route.names_dataset:
            continue
        for actor in ACTORS:
            ghost = matrix.call(client, actor, route, GHOST)
            for level, slug in matrix.world.datasets.items():
                if actor in READERS[level]:
                    continue
                real = matrix.call(client, actor, route, slug)
                checked += 1
                # Indistinguishable: same status, and the same body once the names asked
                # for are swapped (errors echo the slug that was asked for, nothing more).
                masked = real.text.replace(slug, GHOST).replace(
                    matrix.keys[slug], matrix.keys[GHOST]
                )
                if real.status_code != ghost.status_code or masked != ghost.text:
                    leaks.append(
                        f"{route.method} {route.path} as {actor} on {level}: "
                        f"{real.status_code}/{problem_code(real)} vs missing "
                        f"{ghost.status_code}/{problem_code(ghost)}: {masked[:150]}"
                    )
    assert checked > 300
    assert not leaks, "\n".join(leaks)


def test_readable_datasets_are_found(client: TestClient, matrix: Matrix) -> None:
    """A dataset the actor may read never answers 404 like a missing one (DCAT and CKAN
    publish public datasets only: there, every other level answers like a missing one).
    Answers that do not depend on the dataset (a sign-in redirect) may be alike."""
    wrong = []
    for route in app_routes(client):
        if not route.names_dataset or route.method != "GET":
            continue
        if set(route.params) - {"slug", "number", "fmt", "key", "name"}:
            continue  # routes needing a job, an upload token…: exercised elsewhere
        public_only = route.path.startswith("/catalog/") or route.path.endswith("/action/{name}")
        for actor in ACTORS:
            ghost = matrix.call(client, actor, route, GHOST)
            for level, slug in matrix.world.datasets.items():
                if actor not in READERS[level]:
                    continue
                answer = matrix.call(client, actor, route, slug)
                masked = answer.text.replace(slug, GHOST).replace(
                    matrix.keys[slug], matrix.keys[GHOST]
                )
                like_missing = (
                    answer.status_code == ghost.status_code == 404 and masked == ghost.text
                )
                expected_missing = public_only and level != AccessLevel.PUBLIC.value
                if like_missing != expected_missing or answer.status_code >= 500:
                    wrong.append(
                        f"{route.method} {route.path} {actor} {level}: {answer.status_code} "
                        f"{answer.text[:100]}"
                    )
    assert not wrong, "\n".join(wrong)


SEARCHES = {
    "/api/v1/datasets": {"q": "releves", "page_size": "100"},
    "/jeux-de-donnees": {"q": "releves"},
    "/api/v1/agreements": {},
    "/api/v1/reviews": {"status": "all"},
}


def test_lists_counts_and_facets_name_only_readable_datasets(
    client: TestClient, matrix: Matrix
) -> None:
    leaks = []
    routes = [r for r in app_routes(client) if r.method == "GET" and not r.params]
    routes += [Route("GET", p) for p in ("/organisations/" + OWNER, "/communes/" + LORIENT)]
    ckan = [
        ("/api/3/action/package_list", {}),
        ("/api/3/action/package_search", {"q": "releves", "facet.field": '["organization"]'}),
        ("/api/3/action/organization_show", {"id": OWNER, "include_datasets": "true"}),
        ("/api/3/action/organization_list", {"all_fields": "true"}),
    ]
    for actor in ACTORS:
        hidden = [s for level, s in matrix.world.datasets.items() if actor not in READERS[level]]
        for route in routes:
            answer = client.get(
                route.path, params=SEARCHES.get(route.path, {}), headers=matrix.headers[actor]
            )
            leaks += [f"{route.path} as {actor} names {s}" for s in hidden if s in answer.text]
            assert answer.status_code < 500, (route.path, actor, answer.text[:300])
        for path, params in ckan:
            answer = client.get(path, params=params, headers=matrix.headers[actor])
            public = matrix.world.datasets["public"]
            leaks += [
                f"{path} as {actor} names {s}"
                for s in matrix.world.datasets.values()
                if s != public and s in answer.text
            ]
    assert not leaks, "\n".join(leaks)


def test_dataset_counts_match(client: TestClient, matrix: Matrix) -> None:
    world_slugs = set(matrix.world.datasets.values())
    for actor in ACTORS:
        listed = client.get(
            "/api/v1/datasets",
            params={"publisher": OWNER, "page_size": "100"},
            headers=matrix.headers[actor],
        ).json()
        expected = {s for level, s in matrix.world.datasets.items() if actor in READERS[level]}
        got = {d["slug"] for d in listed["data"]} & world_slugs
        assert got == expected, actor
        assert listed["meta"]["total"] == len(listed["data"])  # the count agrees with the list
        by_level = client.get(
            "/api/v1/datasets",
            params={"publisher": OWNER, "access_level": "restricted"},
            headers=matrix.headers[actor],
        ).json()
        assert by_level["meta"]["total"] == (1 if actor in READERS["restricted"] else 0) + len(
            [d for d in by_level["data"] if d["slug"] not in world_slugs]
        ), actor
    # CKAN facets count public datasets only, whoever asks.
    anonymous_public = client.get(
        "/api/v1/datasets",
        params={"publisher": OWNER, "access_level": "public", "page_size": "100"},
    ).json()["meta"]["total"]
    for actor in ACTORS:
        search = client.get(
            "/api/3/action/package_search",
            params={"fq": f"organization:{OWNER}", "rows": "0", "facet.field": '["organization"]'},
            headers=matrix.headers[actor],
        ).json()["result"]
        assert search["count"] == anonymous_public, actor
        facet = search["search_facets"]["organization"]["items"]
        assert [i["count"] for i in facet if i["name"] == OWNER] == [anonymous_public], actor


def test_what_each_partner_reads(client: TestClient, matrix: Matrix) -> None:
    restricted = matrix.world.datasets["restricted"]
    url = f"/api/v1/datasets/{restricted}/records"
    rows = client.get(url, headers=matrix.headers["partner_active"]).json()["data"]
    assert [str(r["code_insee"]) for r in rows] == [LORIENT, LORIENT]
    assert {k for r in rows for k in r} == {"code_insee", "commune", "volume_m3"}
    assert client.get(url, headers=matrix.headers["partner_expired"]).status_code == 404
    assert len(client.get(url, headers=matrix.headers["steward"]).json()["data"]) == 3


#: (method, path template, body) -> expected status by actor. ``{public}`` is the public
#: dataset, ``{active}`` the agreement in force.
ACTIONS: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    (
        "PATCH",
        "/api/v1/datasets/{public}",
        {"description": "Relevés mis à jour"},
        {
            "anonymous": 401,
            "other_commune_viewer": 403,
            "editor": 200,
            "steward": 200,
            "partner_active": 403,
            "partner_expired": 403,
            "admin": 200,
        },
    ),
    (
        "POST",
        "/api/v1/datasets/{public}/versions/1/publish",
        None,
        {
            "anonymous": 401,
            "other_commune_viewer": 403,
            "editor": 200,
            "steward": 200,
            "partner_active": 403,
            "partner_expired": 403,
            "admin": 200,
        },
    ),
    (
        "GET",
        "/api/v1/datasets/{public}/privacy",
        None,
        {
            "anonymous": 401,
            "other_commune_viewer": 403,
            "editor": 200,
            "steward": 200,
            "partner_active": 403,
            "partner_expired": 403,
            "admin": 200,
        },
    ),
    (
        "PUT",
        "/api/v1/datasets/{public}/privacy",
        {"min_cell_size": None},
        {
            "anonymous": 401,
            "other_commune_viewer": 403,
            "editor": 403,
            "steward": 200,
            "partner_active": 403,
            "partner_expired": 403,
            "admin": 200,
        },
    ),
    (
        "GET",
        "/api/v1/agreements/{active}",
        None,
        {
            "anonymous": 404,
            "other_commune_viewer": 404,
            "editor": 200,
            "steward": 200,
            "partner_active": 200,
            "partner_expired": 404,
            "admin": 200,
        },
    ),
    (
        "POST",
        "/api/v1/agreements/{active}/approve",
        None,
        # An active agreement cannot be approved again: 409 for those who may manage it.
        {
            "anonymous": 404,
            "other_commune_viewer": 404,
            "editor": 403,
            "steward": 409,
            "partner_active": 403,
            "partner_expired": 404,
            "admin": 409,
        },
    ),
    (
        "GET",
        "/api/v1/agreements",
        None,
        {
            "anonymous": 401,
            "other_commune_viewer": 200,
            "editor": 200,
            "steward": 200,
            "partner_active": 200,
            "partner_expired": 200,
            "admin": 200,
        },
    ),
    (
        "GET",
        "/api/v1/reviews",
        None,
        {
            "anonymous": 401,
            "other_commune_viewer": 200,
            "editor": 200,
            "steward": 200,
            "partner_active": 200,
            "partner_expired": 200,
            "admin": 200,
        },
    ),
    (
        "PUT",
        f"/api/v1/reviews/organizations/{OWNER}",
        {"review_required": False},
        {
            "anonymous": 401,
            "other_commune_viewer": 403,
            "editor": 403,
            "steward": 403,
            "partner_active": 403,
            "partner_expired": 403,
            "admin": 200,
        },
    ),
    (
        "POST",
        "/api/v1/agreements",
        {
            "title": "t",
            "owner": OWNER,
            "grantees": ["lanester"],
            "datasets": ["{restricted}"],
            "purpose": "p",
            "legal_basis": "b",
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2027-01-01T00:00:00Z",
        },
        {  # the owner's role is checked first: no existence leak
            "anonymous": 401,
            "other_commune_viewer": 403,
            "editor": 201,
            "steward": 201,
            "partner_active": 403,
            "partner_expired": 403,
            "admin": 201,
        },
    ),
]


ACTIONS += [
    (
        "POST",
        "/api/v1/datasets/{registered}/licence-acceptance",
        None,
        {  # any signed-in user accepts (anonymous: the dataset is invisible)
            "anonymous": 404,
            "other_commune_viewer": 201,
            "editor": 201,
            "steward": 201,
            "partner_active": 201,
            "partner_expired": 201,
            "admin": 201,
        },
    ),
    (
        "GET",
        "/api/v1/audit",
        None,
        {  # for administrators only; to anyone else, like an address that does not exist
            "anonymous": 404,
            "other_commune_viewer": 404,
            "editor": 404,
            "steward": 404,
            "partner_active": 404,
            "partner_expired": 404,
            "admin": 200,
        },
    ),
    (
        "GET",
        "/api/v1/tokens?all=1",
        None,
        {
            "anonymous": 401,
            "other_commune_viewer": 403,
            "editor": 403,
            "steward": 403,
            "partner_active": 403,
            "partner_expired": 403,
            "admin": 200,
        },
    ),
]


def test_registered_data_needs_the_licence_accepted(client: TestClient, matrix: Matrix) -> None:
    """A ``registered`` dataset's metadata is for every signed-in actor, its data only for
    the owner's members and those who accepted its licence (before: 403 saying how)."""
    slug = matrix.world.datasets[AccessLevel.REGISTERED.value]
    reads = [f"/api/v1/datasets/{slug}/records", f"/api/v1/datasets/{slug}/export.csv"]
    for actor in ACTORS:
        headers = matrix.headers[actor]
        shown = client.get(f"/api/v1/datasets/{slug}", headers=headers).status_code
        assert shown == (404 if actor == "anonymous" else 200), actor
        before = {client.get(url, headers=headers).status_code for url in reads}
        if actor == "anonymous":
            assert before == {404}
            continue
        assert before == ({200} if actor in OWNER_SIDE else {403}), actor
        accepted = client.post(f"/api/v1/datasets/{slug}/licence-acceptance", headers=headers)
        assert accepted.status_code == 201, (actor, accepted.text)
        assert {client.get(url, headers=headers).status_code for url in reads} == {200}, actor


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names) if "{" in value else value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def test_who_may_do_what(client: TestClient, matrix: Matrix) -> None:
    names = {
        "public": matrix.world.datasets["public"],
        "registered": matrix.world.datasets["registered"],
        "restricted": matrix.world.datasets["restricted"],
        "active": str(matrix.world.active_agreement),
    }
    wrong = []
    for method, template, body, expected in ACTIONS:
        assert set(expected) == set(ACTORS), template
        for actor in ACTORS:
            answer = client.request(
                method,
                _fill(template, names),
                json=_fill(body, names),
                headers=matrix.headers[actor],
            )
            if answer.status_code != expected[actor]:
                wrong.append(
                    f"{method} {template} as {actor}: {answer.status_code} "
                    f"(expected {expected[actor]}) {answer.text[:120]}"
                )
    assert not wrong, "\n".join(wrong)


def test_withdrawal(client: TestClient, matrix: Matrix) -> None:
    """Only stewards of the owner (and administrators) withdraw; a withdrawn dataset is gone."""
    expected = {
        "anonymous": 401,
        "other_commune_viewer": 403,
        "editor": 403,
        "partner_active": 403,
        "partner_expired": 403,
        "steward": 204,
    }
    slug = matrix.world.datasets["public"]
    for actor, status in expected.items():
        answer = client.delete(f"/api/v1/datasets/{slug}", headers=matrix.headers[actor])
        assert answer.status_code == status, (actor, answer.text)
    for actor in ACTORS:
        assert (
            client.get(f"/api/v1/datasets/{slug}", headers=matrix.headers[actor]).status_code == 404
        )
