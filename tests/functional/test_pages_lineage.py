# ruff: noqa: S608 - the tests send SQL built from dataset slugs, which is the feature
"""The lineage on dataset pages: a view shows its source versions (linked), when it was
computed and its definition in words; a source shows the views computed from it — only
what the visitor may read."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.catalog.models import Dataset, DatasetVersion
from beffroi.crossings import refresh
from beffroi.crossings.lineage import describe_definition, versions_lineage
from tests.functional.conftest import BACKENDS, bearer
from tests.functional.test_records import PARTNER_ONLY, PUBLIC, SUBVENTIONS, VALID, load
from tests.functional.test_views import BY_COMMUNE, EPCI, PARTNER, wait_for_version

HTML = {"Accept": "text/html"}
VIEW = "subventions-par-commune"


def text_of(client: TestClient, path: str, headers: dict[str, str] | None = None) -> str:
    """The page as plain text (tags dropped, entities decoded, spaces collapsed)."""
    response = client.get(path, headers={**HTML, **(headers or {})})
    assert response.status_code == 200, response.text
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def section(
    client: TestClient, path: str, ident: str, headers: dict[str, str] | None = None
) -> str:
    """The raw HTML of one lineage section of a page ('' when absent)."""
    response = client.get(path, headers={**HTML, **(headers or {})})
    assert response.status_code == 200, response.text
    marker = f'aria-labelledby="{ident}"'
    if marker not in response.text:
        return ""
    return response.text.split(marker, 1)[1].split("</section>", 1)[0]


@pytest.fixture
def view(client: TestClient) -> TestClient:
    load(client, PUBLIC, SUBVENTIONS)
    response = client.post(
        "/api/v1/views",
        json={"slug": VIEW, "title": "Subventions par commune", "owner": EPCI,
              "definition": BY_COMMUNE},
        headers=bearer(client, "admin"),
    )  # fmt: skip
    assert response.status_code == 201, response.text
    wait_for_version(client, VIEW, 1)
    return client


def test_view_page_shows_sources_versions_and_computation(view: TestClient) -> None:
    part = section(view, f"/jeux-de-donnees/{VIEW}", "provenance")
    assert part, "no lineage section on the view's page"
    assert f'href="/jeux-de-donnees/{PUBLIC}"' in part
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split())
    assert "Version 1, calculée le" in words
    assert "version publiée actuelle" in words
    # A new source version: the view is recomputed from it, and the page says so.
    load(view, PUBLIC, VALID)
    wait_for_version(view, VIEW, 2)
    words = text_of(view, f"/jeux-de-donnees/{VIEW}")
    assert "Version 2, calculée le" in words
    rows = re.findall(
        r'<tr><th scope="row"><a href="/jeux-de-donnees/([^"]+)">.*?<td class="num">(\d+)</td>',
        section(view, f"/jeux-de-donnees/{VIEW}", "provenance"),
        re.DOTALL,
    )
    assert rows == [(PUBLIC, "2")]
    english = text_of(view, f"/jeux-de-donnees/{VIEW}?lang=en")
    assert "Data lineage" in english
    assert "Version 2, computed on" in english


def test_view_definition_in_plain_french_and_english(view: TestClient) -> None:
    words = text_of(view, f"/jeux-de-donnees/{VIEW}")
    assert "Définition de la vue" in words
    assert "Jointure de « Subventions" in words
    assert "avec le référentiel des communes (COG), en ne gardant que les lignes" in words
    assert "la colonne « idAttribuant » (SIREN tiré du SIRET)" in words
    assert "Une ligne par valeur de : « name » (du référentiel des communes (COG))" in words
    assert "Colonne « total » : somme de « montant »" in words
    assert "Colonne « subventions » : nombre de lignes." in words
    english = text_of(view, f"/jeux-de-donnees/{VIEW}?lang=en")
    assert "with the communes reference (COG), keeping only the rows that match" in english
    assert "Column 'total': sum of 'montant'" in english
    assert "Requête SQL" not in english


@pytest.mark.parametrize("backend", BACKENDS)
def test_source_page_lists_the_views_computed_from_it(view: TestClient) -> None:
    part = section(view, f"/jeux-de-donnees/{PUBLIC}", "utilise-par")
    assert f'href="/jeux-de-donnees/{VIEW}"' in part
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split())
    assert "Subventions par commune — version 1, calculée depuis la version 1" in words
    # A plain dataset no view reads has neither section.
    other = f"/jeux-de-donnees/{PARTNER_ONLY}"
    partner = bearer(view, "partenaire-eau")
    assert section(view, other, "utilise-par", partner) == ""
    assert section(view, other, "provenance", partner) == ""


def test_only_what_the_visitor_may_read(client: TestClient) -> None:
    load(client, PARTNER_ONLY, VALID)
    load(client, PUBLIC, SUBVENTIONS)
    partner = bearer(client, "partenaire-eau")
    sql = f'SELECT count(*) AS n FROM "{PARTNER_ONLY}" UNION ALL SELECT count(*) FROM "{PUBLIC}"'
    response = client.post(
        "/api/v1/views",
        json={"slug": "eau-comptage", "owner": PARTNER,
              "definition": {"kind": "sql", "sql": sql}},
        headers=partner,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    wait_for_version(client, "eau-comptage", 1, headers=partner)
    # Anonymous: the public source's page does not mention the organisation-only view.
    assert section(client, f"/jeux-de-donnees/{PUBLIC}", "utilise-par") == ""
    assert "eau-comptage" not in client.get(f"/jeux-de-donnees/{PUBLIC}", headers=HTML).text
    # The partner sees it, and on the view's page both sources and the SQL.
    assert "eau-comptage" in section(client, f"/jeux-de-donnees/{PUBLIC}", "utilise-par", partner)
    part = section(client, "/jeux-de-donnees/eau-comptage", "provenance", partner)
    assert f'href="/jeux-de-donnees/{PARTNER_ONLY}"' in part
    assert f'href="/jeux-de-donnees/{PUBLIC}"' in part
    assert "Une requête SQL en lecture seule sur" in html.unescape(part)
    assert f'FROM "{PUBLIC}"' in html.unescape(part)
    assert client.get("/jeux-de-donnees/eau-comptage", headers=HTML).status_code == 404


def test_a_wider_aggregate_hides_its_closed_sources_and_definition(client: TestClient) -> None:
    load(client, PARTNER_ONLY, VALID)
    admin = bearer(client, "admin")
    response = client.post(
        "/api/v1/views",
        json={"slug": "eau-total", "owner": PARTNER, "access_level": "public",
              "published_aggregate": True,
              "definition": {"kind": "sql", "sql": f'SELECT count(*) AS n FROM "{PARTNER_ONLY}"'}},
        headers=admin,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    wait_for_version(client, "eau-total", 1)
    part = section(client, "/jeux-de-donnees/eau-total", "provenance")
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split())
    assert PARTNER_ONLY not in part
    assert "Sources que vous ne pouvez pas consulter : 1" in words
    assert "qu'aux personnes qui peuvent lire toutes ses sources" in words
    assert "SELECT" not in part
    shown = section(client, "/jeux-de-donnees/eau-total", "provenance", admin)
    assert f'href="/jeux-de-donnees/{PARTNER_ONLY}"' in shown
    assert "SELECT count(*)" in html.unescape(shown)


def test_describe_spatial_and_left_join_definitions() -> None:
    definition = {
        "kind": "join",
        "left": "bornes",
        "right": "ref.communes",
        "how": "left",
        "spatial": {"longitude": "lon", "latitude": "lat"},
        "columns": [
            {"side": "left", "name": "id_station", "as": "station"},
            {"side": "right", "name": "name"},
        ],
    }
    french = describe_definition(definition, "fr", {"bornes": "Bornes de recharge"})
    assert french == [
        (
            "Jointure de « Bornes de recharge » avec le référentiel des communes (COG), en gardant "
            "toutes les lignes du premier, qu'elles correspondent ou non."
        ),
        (
            "Chaque ligne est rattachée à la commune dont le contour contient la position "
            "(longitude « lon », latitude « lat »)."
        ),
        (
            "Colonnes gardées : « id_station » (de « Bornes de recharge ») nommée « station » ; "
            "« name » (du référentiel des communes (COG))."
        ),
    ]
    english = describe_definition(
        {**definition, "spatial": None, "how": "inner",
         "on": [{"left": "insee", "right": "code_insee",
                 "normalize": {"function": "insee_current", "year": 2019}}]},
        "en",
    )  # fmt: skip
    assert english[1] == (
        "Rows match when column 'insee' (current commune code, from the 2019 codes) of "
        "'bornes' equals column 'code_insee' of the communes reference (COG)."
    )
    assert describe_definition({"kind": "nope"}, "fr") == ["Définition illisible."]


def test_a_pending_recomputation_is_shown(view: TestClient) -> None:
    with view.app.state.session_factory() as session:  # type: ignore[attr-defined]
        refresh.unregister(refresh.catalogue_key(session))  # as in a command-line process
    load(view, PUBLIC, VALID)  # queues the recomputation; nobody runs it now
    words = " ".join(
        html.unescape(
            re.sub(r"<[^>]+>", " ", section(view, f"/jeux-de-donnees/{VIEW}", "provenance"))
        ).split()
    )
    assert "Version 1, calculée le" in words
    assert "Un recalcul est en attente." in words
    assert "une version plus récente existe" in words  # the source is at version 2 now
    used = section(view, f"/jeux-de-donnees/{PUBLIC}", "utilise-par")
    assert "recalcul en attente" in used
    english = text_of(view, f"/jeux-de-donnees/{VIEW}?lang=en")
    assert "A recomputation is pending." in english
    assert "a newer version exists" in english


def version_rows(
    client: TestClient, path: str, headers: dict[str, str] | None = None
) -> dict[int, str]:
    """The versions table of a page: each row's raw HTML, by version number."""
    response = client.get(path, headers={**HTML, **(headers or {})})
    assert response.status_code == 200, response.text
    table = response.text.split('id="versions"', 1)[1].split("</table>", 1)[0]
    return {
        int(number): row
        for number, row in re.findall(r'<tr><th scope="row">(\d+)</th>(.*?)</tr>', table, re.S)
    }


def produced_by(row: str) -> list[tuple[str, str]]:
    """The (source slug, source version) pairs a versions-table row names."""
    return re.findall(r'<li><a href="/jeux-de-donnees/([^"]+)">[^<]*</a> — version (\d+)</li>', row)


def test_every_version_of_a_view_names_the_source_versions_that_produced_it(
    view: TestClient,
) -> None:
    load(view, PUBLIC, VALID)
    wait_for_version(view, VIEW, 2)
    page = f"/jeux-de-donnees/{VIEW}"
    rows = version_rows(view, page)
    assert set(rows) == {1, 2}
    assert produced_by(rows[2]) == [(PUBLIC, "2")]
    assert produced_by(rows[1]) == [(PUBLIC, "1")]  # the past version keeps its own
    assert "Versions des sources utilisées</th>" in view.get(page, headers=HTML).text
    assert "Versions of the sources used</th>" in view.get(f"{page}?lang=en", headers=HTML).text
    # A plain dataset's table has no such column.
    plain = view.get(f"/jeux-de-donnees/{PUBLIC}", headers=HTML).text
    assert "Versions des sources utilisées</th>" not in plain.split('id="versions"', 1)[1]


def test_the_versions_table_hides_closed_sources(client: TestClient) -> None:
    load(client, PARTNER_ONLY, VALID)
    admin = bearer(client, "admin")
    response = client.post(
        "/api/v1/views",
        json={"slug": "eau-total", "owner": PARTNER, "access_level": "public",
              "published_aggregate": True,
              "definition": {"kind": "sql", "sql": f'SELECT count(*) AS n FROM "{PARTNER_ONLY}"'}},
        headers=admin,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    wait_for_version(client, "eau-total", 1)
    row = version_rows(client, "/jeux-de-donnees/eau-total")[1]
    assert PARTNER_ONLY not in row
    assert "Sources que vous ne pouvez pas consulter : 1" in html.unescape(row)
    shown = version_rows(client, "/jeux-de-donnees/eau-total", admin)[1]
    assert produced_by(shown) == [(PARTNER_ONLY, "1")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_versions_lineage_is_one_query_for_every_version(view: TestClient) -> None:
    for expected in (2, 3):
        load(view, PUBLIC, VALID if expected == 2 else SUBVENTIONS)
        wait_for_version(view, VIEW, expected)
    engine = view.app.state.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with view.app.state.session_factory() as session:  # type: ignore[attr-defined]
        ids = list(
            session.scalars(
                sa.select(DatasetVersion.id)
                .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
                .where(Dataset.slug == VIEW)
            )
        )
        assert len(ids) == 3
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            found = versions_lineage(session, Actor.system(name="test"), ids)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
    assert sorted(s.version for v in found.values() for s in v.sources) == [1, 2, 3]
    assert len(statements) <= 2, statements  # the lineage rows, then one visibility check
    assert versions_lineage(session, Actor.system(name="test"), []) == {}
