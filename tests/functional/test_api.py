"""The JSON API over HTTP, on an instance holding the demo EPCI.

The dataset tests that create, list and hide records also run against the real
PostgreSQL server (``backend`` parametrised): JSON filters, paging and the access filter
are SQL that must behave the same on both catalogues.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from beffroi import reference
from beffroi.catalog.demo import DEMO_EPCI_SIREN, EPCI_SLUG

from .conftest import BACKENDS, DemoInstance, bearer, issue_token, revoke

PUBLIC = {
    "subventions-associations",
    "bornes-recharge-vehicules-electriques",
    "stationnement-cyclable",
    "arbres-alignement",
}
INTERNAL = "budget-primitif-agglomeration"  # access_level internal, EPCI
PARTNER_ONLY = "consommation-eau-potable-par-commune"  # access_level organization, partner
PARTNER = "eau-du-morbihan-delegataire"
LORIENT = "56121"


def slugs(response: Any) -> set[str]:
    """Slugs of a dataset page (asserting it is one)."""
    assert response.status_code == 200, response.text
    return {d["slug"] for d in response.json()["data"]}


def new_dataset(**fields: Any) -> dict[str, Any]:
    """A valid creation body for the mobility service, overridable field by field."""
    body: dict[str, Any] = {
        "title": "Aires de covoiturage",
        "publisher": "direction-mobilites",
        "description": "Aires de covoiturage aménagées.",
        "keywords": ["covoiturage"],
        "themes": ["TRAN"],
        "license": "ODbL-1.0",
        "spatial": [f"commune:{LORIENT}"],
    }
    body.update(fields)
    return body


# ---------------------------------------------------------------- health and OpenAPI


def test_health_reports_embedded_sqlite(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["mode"] == "embedded"
    assert body["version"]


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_health_reports_postgresql_server_mode(client: TestClient) -> None:
    body = client.get("/health").json()
    assert (body["database"], body["mode"]) == ("postgresql", "server")


def test_health_answers_head(client: TestClient) -> None:
    response = client.head("/health")
    assert response.status_code == 200
    assert response.content == b""


def test_openapi_is_valid_json_with_the_dataset_paths(client: TestClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Beffroi"
    paths = spec["paths"]
    assert set(paths["/api/v1/datasets"]) >= {"get", "post"}
    assert set(paths["/api/v1/datasets/{slug}"]) >= {"get", "patch", "delete"}
    assert "/api/v1/organizations" in paths
    assert "/health" in paths
    # Pages are not part of the API description.
    assert not any(path.startswith(("/jeux-de-donnees", "/connexion")) for path in paths)
    # Errors are documented with the problem+json shape.
    error_content = paths["/api/v1/datasets"]["post"]["responses"]["422"]["content"]
    assert "application/problem+json" in error_content


def test_api_docs_page_uses_local_assets(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "/static/apidocs/swagger-ui-bundle.js" in response.text
    assert "cdn" not in response.text.lower()
    assert client.get("/static/apidocs/swagger-ui-bundle.js").status_code == 200


# ---------------------------------------------------------------- organisations


def test_organizations_list_has_the_epci_and_its_communes(client: TestClient) -> None:
    response = client.get("/api/v1/organizations")
    assert response.status_code == 200
    orgs = {o["slug"]: o for o in response.json()}
    assert len(orgs) == 1 + 25 + 3 + 1
    assert orgs[EPCI_SLUG]["kind"] == "epci"
    assert orgs[EPCI_SLUG]["siren"] == DEMO_EPCI_SIREN
    assert orgs["lorient"]["insee_code"] == LORIENT
    assert orgs["lorient"]["parent"] == EPCI_SLUG


def test_organizations_filter_by_kind(client: TestClient) -> None:
    communes = client.get("/api/v1/organizations", params={"kind": "commune"}).json()
    expected = {c.code_insee for c in reference.epci_members(DEMO_EPCI_SIREN)}
    assert {o["insee_code"] for o in communes} == expected
    assert {o["kind"] for o in communes} == {"commune"}
    partners = client.get("/api/v1/organizations", params={"kind": "partner"}).json()
    assert [o["slug"] for o in partners] == [PARTNER]


def test_organizations_filter_by_parent(client: TestClient) -> None:
    children = client.get("/api/v1/organizations", params={"parent": EPCI_SLUG}).json()
    assert len(children) == 25 + 3
    assert {o["parent"] for o in children} == {EPCI_SLUG}
    assert PARTNER not in {o["slug"] for o in children}
    assert client.get("/api/v1/organizations", params={"parent": "lorient"}).json() == []
    unknown = client.get("/api/v1/organizations", params={"parent": "atlantide"})
    assert unknown.status_code == 404


def test_organization_show(client: TestClient) -> None:
    response = client.get("/api/v1/organizations/hennebont")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Hennebont"
    assert body["insee_code"] == "56083"
    assert body["siren"] == "215600834"
    assert client.get("/api/v1/organizations/atlantide").status_code == 404


def test_organization_create_needs_a_platform_admin(client: TestClient) -> None:
    body = {"name": "Syndicat mixte du SCoT", "kind": "other", "slug": "scot"}
    assert client.post("/api/v1/organizations", json=body).status_code == 401
    editor = bearer(client, "editeur-mobilites")
    assert client.post("/api/v1/organizations", json=body, headers=editor).status_code == 403
    admin = bearer(client, "admin")
    created = client.post("/api/v1/organizations", json=body, headers=admin)
    assert created.status_code == 201
    assert created.json()["slug"] == "scot"
    assert client.get("/api/v1/organizations/scot").status_code == 200


# ---------------------------------------------------------------- datasets: reading


@pytest.mark.shares_instance
@pytest.mark.parametrize("backend", BACKENDS)
class TestDatasetLists:
    """Listing, paging, filters and visibility (SQLite and PostgreSQL)."""

    def test_anonymous_sees_only_public_datasets(self, client: TestClient) -> None:
        response = client.get("/api/v1/datasets")
        assert slugs(response) == PUBLIC
        assert response.json()["meta"]["total"] == len(PUBLIC)
        for hidden in (INTERNAL, PARTNER_ONLY):
            assert client.get(f"/api/v1/datasets/{hidden}").status_code == 404
        for level in ("internal", "organization"):
            listed = client.get("/api/v1/datasets", params={"access_level": level})
            assert slugs(listed) == set()
            assert listed.json()["meta"]["total"] == 0

    def test_epci_member_sees_internal_but_not_another_organisations(
        self, client: TestClient
    ) -> None:
        viewer = bearer(client, "lecteur-eau")  # viewer in the water service of the EPCI
        response = client.get("/api/v1/datasets", headers=viewer)
        assert slugs(response) == PUBLIC | {INTERNAL}
        assert response.json()["meta"]["total"] == len(PUBLIC) + 1
        assert client.get(f"/api/v1/datasets/{INTERNAL}", headers=viewer).status_code == 200
        assert client.get(f"/api/v1/datasets/{PARTNER_ONLY}", headers=viewer).status_code == 404

    def test_partner_member_sees_its_organisation_level_dataset_not_internal(
        self, client: TestClient
    ) -> None:
        partner = bearer(client, "partenaire-eau")
        response = client.get("/api/v1/datasets", headers=partner)
        assert slugs(response) == PUBLIC | {PARTNER_ONLY}
        assert response.json()["meta"]["total"] == len(PUBLIC) + 1
        shown = client.get(f"/api/v1/datasets/{PARTNER_ONLY}", headers=partner)
        assert shown.status_code == 200
        assert shown.json()["access_level"] == "organization"
        assert shown.json()["publisher"] == PARTNER
        # Partners are outside the EPCI: internal datasets open to them only by agreement.
        assert client.get(f"/api/v1/datasets/{INTERNAL}", headers=partner).status_code == 404

    def test_platform_admin_sees_everything(self, client: TestClient) -> None:
        admin = bearer(client, "admin")
        assert slugs(client.get("/api/v1/datasets", headers=admin)) == PUBLIC | {
            INTERNAL,
            PARTNER_ONLY,
        }

    def test_paging(self, client: TestClient) -> None:
        first = client.get("/api/v1/datasets", params={"page_size": 3})
        body = first.json()
        assert body["meta"] == {"page": 1, "page_size": 3, "total": 4}
        assert len(body["data"]) == 3
        assert body["links"]["prev"] is None
        next_url = body["links"]["next"]
        assert parse_qs(urlsplit(next_url).query) == {"page_size": ["3"], "page": ["2"]}

        second = client.get(next_url).json()
        assert second["meta"] == {"page": 2, "page_size": 3, "total": 4}
        assert len(second["data"]) == 1
        assert second["links"]["next"] is None
        assert parse_qs(urlsplit(second["links"]["prev"]).query)["page"] == ["1"]
        # The pages partition the list, newest first without overlap.
        assert {d["slug"] for d in body["data"] + second["data"]} == PUBLIC

        beyond = client.get("/api/v1/datasets", params={"page": 3, "page_size": 3}).json()
        assert beyond["data"] == []
        assert beyond["meta"]["total"] == 4

    def test_paging_keeps_the_filters_in_links(self, client: TestClient) -> None:
        body = client.get("/api/v1/datasets", params={"theme": "TRAN", "page_size": 1}).json()
        assert body["meta"]["total"] == 2
        query = parse_qs(urlsplit(body["links"]["next"]).query)
        assert query == {"theme": ["TRAN"], "page_size": ["1"], "page": ["2"]}
        assert body["links"]["self"].endswith("page=1")

    def test_page_size_is_capped(self, client: TestClient, demo_instance: DemoInstance) -> None:
        asked = demo_instance.settings.page_size_max + 1
        body = client.get("/api/v1/datasets", params={"page_size": asked}).json()
        assert body["meta"]["page_size"] == demo_instance.settings.page_size_max
        default = client.get("/api/v1/datasets").json()
        assert default["meta"]["page_size"] == demo_instance.settings.page_size_default

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            (
                {"publisher": "direction-mobilites"},
                {"bornes-recharge-vehicules-electriques", "stationnement-cyclable"},
            ),
            ({"publisher": EPCI_SLUG}, {"subventions-associations"}),
            (
                {"theme": "TRAN"},
                {"bornes-recharge-vehicules-electriques", "stationnement-cyclable"},
            ),
            ({"theme": "ENVI"}, {"arbres-alignement"}),
            ({"keyword": "vélo"}, {"stationnement-cyclable"}),
            ({"keyword": "IRVE"}, {"bornes-recharge-vehicules-electriques"}),
            ({"keyword": "vél"}, set()),  # a keyword matches whole, not by prefix
            (
                {"commune": LORIENT},
                {
                    "bornes-recharge-vehicules-electriques",
                    "stationnement-cyclable",
                    "arbres-alignement",
                },
            ),
            ({"commune": "75056"}, set()),
            ({"q": "recharge"}, {"bornes-recharge-vehicules-electriques"}),
            ({"q": "ARCEAUX"}, {"stationnement-cyclable"}),  # in the description
            ({"access_level": "public"}, PUBLIC),
            ({"theme": "TRAN", "keyword": "vélo"}, {"stationnement-cyclable"}),
        ],
    )
    def test_filters(self, client: TestClient, params: dict[str, str], expected: set[str]) -> None:
        response = client.get("/api/v1/datasets", params=params)
        assert slugs(response) == expected
        assert response.json()["meta"]["total"] == len(expected)

    def test_filters_do_not_reveal_hidden_datasets(self, client: TestClient) -> None:
        # The partner's dataset has the ENVI theme and covers Lorient: still not listed.
        assert PARTNER_ONLY not in slugs(client.get("/api/v1/datasets?theme=ENVI"))
        assert slugs(client.get("/api/v1/datasets", params={"publisher": PARTNER})) == set()
        assert slugs(client.get("/api/v1/datasets", params={"q": "budget"})) == set()

    def test_unknown_publisher_filter_is_404(self, client: TestClient) -> None:
        response = client.get("/api/v1/datasets", params={"publisher": "atlantide"})
        assert response.status_code == 404

    def test_show(self, client: TestClient) -> None:
        response = client.get("/api/v1/datasets/subventions-associations")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["title"] == "Subventions versées aux associations"
        assert body["publisher"] == EPCI_SLUG
        assert body["license"] == "etalab-2.0"
        assert body["themes"] == ["ECON", "GOVE"]
        assert body["spatial"] == [f"epci:{DEMO_EPCI_SIREN}"]
        assert body["temporal_start"] == "2025-01-01"
        assert body["temporal_end"] == "2025-12-31"
        assert body["schema_ref"] == "scdl/subventions"
        assert body["access_level"] == "public"
        assert client.get("/api/v1/datasets/atlantide").status_code == 404


# ---------------------------------------------------------------- datasets: writing


@pytest.mark.parametrize("backend", BACKENDS)
class TestDatasetWrites:
    """Create, rename, delete (SQLite and PostgreSQL)."""

    def test_editor_creates_a_dataset(self, client: TestClient) -> None:
        editor = bearer(client, "editeur-mobilites")
        response = client.post("/api/v1/datasets", json=new_dataset(), headers=editor)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["slug"] == "aires-de-covoiturage"
        assert body["publisher"] == "direction-mobilites"
        assert body["license"] == "ODbL-1.0"
        assert body["access_level"] == "public"
        # Readable by anyone, listed and counted, found by its filters.
        assert client.get("/api/v1/datasets/aires-de-covoiturage").status_code == 200
        listed = client.get("/api/v1/datasets").json()
        assert listed["meta"]["total"] == len(PUBLIC) + 1
        assert listed["data"][0]["slug"] == "aires-de-covoiturage"  # newest first
        assert "aires-de-covoiturage" in slugs(
            client.get("/api/v1/datasets", params={"keyword": "covoiturage"})
        )

    def test_created_internal_dataset_stays_hidden_from_anonymous(self, client: TestClient) -> None:
        editor = bearer(client, "editeur-mobilites")
        body = new_dataset(slug="comptages-internes", access_level="internal")
        assert client.post("/api/v1/datasets", json=body, headers=editor).status_code == 201
        assert client.get("/api/v1/datasets/comptages-internes").status_code == 404
        assert client.get("/api/v1/datasets").json()["meta"]["total"] == len(PUBLIC)
        viewer = bearer(client, "lecteur-eau")
        assert client.get("/api/v1/datasets/comptages-internes", headers=viewer).status_code == 200

    def test_create_without_token_is_401(self, client: TestClient) -> None:
        response = client.post("/api/v1/datasets", json=new_dataset())
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert client.get("/api/v1/datasets/aires-de-covoiturage").status_code == 404

    def test_create_as_viewer_is_403(self, client: TestClient) -> None:
        viewer = bearer(client, "lecteur-eau")
        body = new_dataset(publisher="direction-eau-assainissement")
        response = client.post("/api/v1/datasets", json=body, headers=viewer)
        assert response.status_code == 403
        assert response.json()["code"] == "permission-denied"

    def test_editor_cannot_publish_for_another_organisation(self, client: TestClient) -> None:
        editor = bearer(client, "editeur-mobilites")
        body = new_dataset(publisher="service-sig")
        assert client.post("/api/v1/datasets", json=body, headers=editor).status_code == 403

    def test_slug_reuse_is_409(self, client: TestClient) -> None:
        editor = bearer(client, "editeur-mobilites")
        body = new_dataset(slug="stationnement-cyclable")
        response = client.post("/api/v1/datasets", json=body, headers=editor)
        assert response.status_code == 409
        assert "stationnement-cyclable" in response.json()["detail"]

    def test_rename_keeps_a_permanent_redirect(self, client: TestClient) -> None:
        editor = bearer(client, "editeur-mobilites")
        old = "bornes-recharge-vehicules-electriques"
        response = client.patch(
            f"/api/v1/datasets/{old}",
            json={"slug": "irve", "title": "Bornes IRVE"},
            headers=editor,
        )
        assert response.status_code == 200, response.text
        assert response.json()["slug"] == "irve"
        assert response.json()["title"] == "Bornes IRVE"

        moved = client.get(f"/api/v1/datasets/{old}", follow_redirects=False)
        assert moved.status_code == 308
        assert urlsplit(moved.headers["location"]).path == "/api/v1/datasets/irve"
        followed = client.get(f"/api/v1/datasets/{old}")
        assert followed.status_code == 200
        assert followed.json()["slug"] == "irve"
        # The list shows the new slug only; the old one can never be taken again.
        listed = slugs(client.get("/api/v1/datasets"))
        assert "irve" in listed
        assert old not in listed
        reuse = client.post("/api/v1/datasets", json=new_dataset(slug=old), headers=editor)
        assert reuse.status_code == 409

    def test_rename_to_a_used_slug_is_409(self, client: TestClient) -> None:
        editor = bearer(client, "editeur-mobilites")
        response = client.patch(
            "/api/v1/datasets/stationnement-cyclable",
            json={"slug": "arbres-alignement"},
            headers=editor,
        )
        assert response.status_code == 409
        assert client.get("/api/v1/datasets/stationnement-cyclable").status_code == 200

    def test_update_by_someone_else_is_refused(self, client: TestClient) -> None:
        body = {"title": "Titre détourné"}
        url = "/api/v1/datasets/stationnement-cyclable"
        assert client.patch(url, json=body).status_code == 401
        steward = bearer(client, "referente-sig")  # steward of another service
        assert client.patch(url, json=body, headers=steward).status_code == 403
        assert client.get(url).json()["title"] == "Stationnement cyclable"

    def test_steward_deletes_then_404(self, client: TestClient) -> None:
        steward = bearer(client, "referente-sig")
        url = "/api/v1/datasets/arbres-alignement"
        response = client.delete(url, headers=steward)
        assert response.status_code == 204
        assert response.content == b""
        assert client.get(url).status_code == 404
        assert client.get(url, headers=steward).status_code == 404
        assert "arbres-alignement" not in slugs(client.get("/api/v1/datasets"))
        assert client.delete(url, headers=steward).status_code == 404

    def test_editor_may_not_delete(self, client: TestClient) -> None:
        editor = bearer(client, "editeur-mobilites")
        url = "/api/v1/datasets/stationnement-cyclable"
        assert client.delete(url, headers=editor).status_code == 403
        assert client.delete(url).status_code == 401
        assert client.get(url).status_code == 200


# ---------------------------------------------------------------- validation (no database)


@pytest.mark.parametrize(
    ("fields", "bad_field", "words"),
    [
        ({"license": "WTFPL"}, "license", "licence inconnue"),
        ({"spatial": ["commune:5612"]}, "spatial", "commune:<code INSEE>"),
        ({"spatial": ["epci:123456789"]}, "spatial", "epci:<SIREN>"),
        ({"themes": ["SPACE"]}, "themes", "SPACE"),
        ({"frequency": "SOMETIMES"}, "frequency", "SOMETIMES"),
        ({"slug": "Pas Un Slug"}, "slug", "identifiant valide"),
        ({"title": "ab"}, "title", "3"),
        ({"access_level": "secret"}, "access_level", "public"),
        ({"contact_email": "pas-un-mail"}, "contact_email", "email"),
        ({"colour": "bleu"}, "colour", "Extra"),
    ],
)
def test_bad_fields_are_422_with_errors(
    client: TestClient, fields: dict[str, Any], bad_field: str, words: str
) -> None:
    editor = bearer(client, "editeur-mobilites")
    response = client.post("/api/v1/datasets", json=new_dataset(**fields), headers=editor)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid-input"
    fields_named = [e["field"] for e in body["errors"]]
    assert any(f and f.split(".")[0] == bad_field for f in fields_named), body["errors"]
    assert words.lower() in " ".join(e["message"] for e in body["errors"]).lower()
    assert client.get("/api/v1/datasets").json()["meta"]["total"] == len(PUBLIC)


def test_period_out_of_order_is_422(client: TestClient) -> None:
    editor = bearer(client, "editeur-mobilites")
    body = new_dataset(temporal_start="2025-12-31", temporal_end="2025-01-01")
    response = client.post("/api/v1/datasets", json=body, headers=editor)
    assert response.status_code == 422
    assert "temporal_start > temporal_end" in response.json()["detail"]


# ---------------------------------------------------------------- tokens


def test_revoked_token_is_401(client: TestClient) -> None:
    token_id, secret = issue_token(client, "lecteur-eau")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/v1/datasets/{INTERNAL}", headers=headers).status_code == 200
    revoke(client, token_id)
    response = client.get(f"/api/v1/datasets/{INTERNAL}", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication-required"
    # Even on a public resource: a bad credential is never silently treated as anonymous.
    assert client.get("/api/v1/datasets", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Token abc",
        "Bearer",
        "Bearer   ",
        "Basic YWRtaW46YWRtaW4=",
        "bfr_sanslebearer",
        "Bearer bfr_inconnu",
    ],
)
def test_bad_authorization_header_is_401(client: TestClient, header: str) -> None:
    response = client.get("/api/v1/datasets", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


def test_bearer_scheme_is_case_insensitive(client: TestClient) -> None:
    _, secret = issue_token(client, "lecteur-eau")
    response = client.get(
        f"/api/v1/datasets/{INTERNAL}", headers={"Authorization": f"bearer {secret}"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_ignores_the_case_of_accented_letters(client: TestClient) -> None:
    editor = bearer(client, "editeur-mobilites")
    body = new_dataset(title="Énergie des véhicules", description="Flotte ÉLECTRIQUE.")
    assert client.post("/api/v1/datasets", json=body, headers=editor).status_code == 201
    for words in ("énergie", "ÉNERGIE", "Énergie", "ÉLECTRIQUE", "électrique"):
        found = slugs(client.get("/api/v1/datasets", params={"q": words}))
        assert "energie-des-vehicules" in found, words
