"""axe-core on the search facets, the maps and the back office pages: 0 violations at WCAG
2.1 AA, in French and in English; the facets form works with the keyboard alone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from .conftest import Portal, _cli, axe_violations, describe, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

LANGS = ["fr", "en"]
PUBLIC = [
    ("home-map", "/"),
    ("search-facets", "/jeux-de-donnees?theme=TRAN&tri=titre&q=bornes"),
    ("dataset-map", "/jeux-de-donnees/bornes-recharge-vehicules-electriques/carte"),
    (
        "dataset-map-filtered",
        (
            "/jeux-de-donnees/bornes-recharge-vehicules-electriques/carte?colonne=acces_recharge"
            "&valeur=payant"
        ),
    ),
    ("dataset-map-none", "/jeux-de-donnees/subventions-associations/carte"),
]


def _check(page: Page, portal: Portal, path: str, lang: str, status: int = 200) -> None:
    separator = "&" if "?" in path else "?"
    response = page.goto(portal.url(f"{path}{separator}lang={lang}"))
    assert response is not None
    assert response.status == status
    violations = axe_violations(page)
    assert not violations, f"{path} ({lang}):\n{describe(violations)}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("name", "path"), PUBLIC, ids=[p[0] for p in PUBLIC])
def test_portal_page_has_no_axe_violation(
    page: Page, portal: Portal, name: str, path: str, lang: str
) -> None:
    del name
    _check(page, portal, path, lang)


def test_home_map_links_open_commune_pages(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/"))
    link = page.locator('#carte a[href="/communes/56121"]')
    assert link.count() == 1
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/communes/56121")


def test_facets_with_the_keyboard(page: Page, portal: Portal) -> None:
    """Tick a theme with the space bar, submit with Enter, remove the filter by its link."""
    page.goto(portal.url("/jeux-de-donnees"))
    box = page.locator('input[name="theme"][value="TRAN"]')
    box.focus()
    page.keyboard.press("Space")
    assert box.is_checked()
    page.get_by_role("button", name="Appliquer les filtres").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**theme=TRAN**")
    assert page.locator('input[name="theme"][value="TRAN"]').is_checked()
    page.locator("a.chip").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "theme=" not in url)


@pytest.mark.parametrize("lang", LANGS)
def test_back_office_pages_have_no_axe_violation(page: Page, portal: Portal, lang: str) -> None:
    _cli(
        portal.data_dir,
        "agreement",
        "create",
        f"Arbres pour le délégataire ({lang})",
        "--owner",
        "service-sig",
        "--grantee",
        "eau-du-morbihan-delegataire",
        "--dataset",
        "arbres-alignement",
        "--purpose",
        "Entretien des réseaux",
        "--legal-basis",
        "convention n° 12",
        "--start",
        "2026-01-01T00:00:00Z",
        "--end",
        "2030-12-31T23:59:59Z",
    )
    sign_in(page, portal, "referente-sig")
    _check(page, portal, "/conventions", lang)
    _check(page, portal, "/organisations/service-sig/membres", lang)
    _check(page, portal, "/compte/jetons", lang)
    page.locator("#jeton-nom").fill(f"axe {lang}")
    page.locator("form.form-inline button[type=submit]").click()
    page.wait_for_selector("#secret")
    violations = axe_violations(page)
    assert not violations, describe(violations)

    page.context.clear_cookies()
    sign_in(page, portal, "admin")
    _check(page, portal, "/organisations/service-sig/membres", lang)
    page.locator("#membre-identifiant").fill("personne")
    page.locator("form.form-inline button[type=submit]").click()
    page.wait_for_selector("#erreur-membre")
    violations = axe_violations(page)
    assert not violations, describe(violations)


@pytest.mark.parametrize("lang", LANGS)
def test_audit_log_page_has_no_axe_violation(page: Page, portal: Portal, lang: str) -> None:
    sign_in(page, portal, "admin")
    _check(page, portal, "/admin/journal", lang)
    _check(page, portal, "/admin/journal?action=token.*&surface=web", lang)
    _check(page, portal, "/admin/journal?du=hier", lang, status=422)  # with its error


BORNES = "bornes-recharge-vehicules-electriques"
BORNES_BY_COMMUNE = {
    "kind": "join",
    "left": BORNES,
    "right": "ref.communes",
    "how": "left",
    "on": [{"left": "code_insee", "right": "code_insee",
            "normalize": {"function": "insee_normalize"}}],
    "columns": [{"side": "right", "name": "name", "as": "commune"}],
    "group_by": ["commune"],
    "aggregates": [{"function": "count", "as": "bornes"},
                   {"function": "sum", "name": "nbre_pdc", "as": "points_de_charge"}],
}  # fmt: skip


@pytest.mark.parametrize("lang", LANGS)
def test_lineage_and_most_used_have_no_axe_violation(
    page: Page, portal: Portal, lang: str, tmp_path: Path
) -> None:
    """A view's page (sources, computation, definition), its source's page ('used by') and
    the home page with its most used datasets."""
    slug = f"bornes-par-commune-{lang}"
    definition = tmp_path / "vue.json"
    definition.write_text(
        json.dumps({"slug": slug, "title": f"Bornes par commune ({lang})",
                    "owner": "lorient-agglomeration", "definition": BORNES_BY_COMMUNE}),
        encoding="utf-8",
    )  # fmt: skip
    _cli(portal.data_dir, "view", "create", "--file", str(definition))
    query = f'SELECT acces_recharge, count(*) AS n FROM "{BORNES}" GROUP BY 1'  # noqa: S608
    sql = tmp_path / "vue-sql.json"
    sql.write_text(
        json.dumps({"slug": f"bornes-par-acces-{lang}", "owner": "lorient-agglomeration",
                    "definition": {"kind": "sql", "sql": query}}),
        encoding="utf-8",
    )  # fmt: skip
    _cli(portal.data_dir, "view", "create", "--file", str(sql))
    _check(page, portal, f"/jeux-de-donnees/{slug}", lang)
    assert page.locator("#provenance").count() == 1
    assert page.locator(f'.lineage a[href="/jeux-de-donnees/{BORNES}"]').count() == 1
    _check(page, portal, f"/jeux-de-donnees/bornes-par-acces-{lang}", lang)
    assert page.locator(".lineage pre.code").count() == 1
    _check(page, portal, f"/jeux-de-donnees/{BORNES}", lang)
    assert page.locator(f'#utilise-par ~ ul a[href="/jeux-de-donnees/{slug}"]').count() == 1
    # Most used: counts as the server would have flushed them.
    engine = sa.create_engine(f"sqlite:///{portal.data_dir / 'catalog.sqlite3'}")
    try:
        with engine.begin() as connection:
            ids = (
                connection.execute(
                    sa.text(
                        "SELECT id FROM dataset WHERE access_level = 'public' ORDER BY id LIMIT 6"
                    )
                )
                .scalars()
                .all()
            )
            for n, dataset_id in enumerate(ids):
                connection.execute(
                    sa.text(
                        "INSERT INTO dataset_usage (dataset_id, day, views, downloads, api_calls) "
                        "VALUES (:id, :day, :n, 1, 0) ON CONFLICT (dataset_id, day) "
                        "DO UPDATE SET views = dataset_usage.views + excluded.views"
                    ),
                    {"id": dataset_id, "day": dt.datetime.now(dt.UTC).date(), "n": 10 + n},
                )
    finally:
        engine.dispose()
    _check(page, portal, "/", lang)
    assert page.locator("#titre-plus-utilises").count() == 1
    assert page.locator(".most-used .card").count() == len(ids)
