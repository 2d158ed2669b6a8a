"""The issue's journey in a real browser, keyboard only where a person would type.

A commune secretary (the mobility editor of the demo) signs in, uploads a cp1252 ';' file,
corrects a column type and sees the report, fixes it back, submits it; the organisation
requires review, so the version waits until the mobility steward approves it on the review
page (keyboard: focus and Enter); an anonymous visitor then finds the dataset by search,
filters the table, sees the chart and downloads the CSV, which holds the same rows. Every
page on the way passes axe (WCAG 2.1 AA).
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest

from tests.conftest import SHARED_DATA

from .conftest import STEWARD, Portal, _cli, axe_violations, describe, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

HOTEL = SHARED_DATA / "messy" / "hotel-occupancy-latin1-decimal-comma.csv"
SLUG = "stationnement-cyclable"  # direction-mobilites, no data yet in the e2e instance
OWNER = "direction-mobilites"


def accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}:\n{describe(violations)}"


def hotel_rows() -> list[dict[str, str]]:
    with HOTEL.open(encoding="cp1252", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus (keyboard only)."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"{selector} cannot be reached with the Tab key")


def secretary_uploads(page: Page, portal: Portal) -> None:
    sign_in(page, portal, "editeur-mobilites")
    page.goto(portal.url(f"/jeux-de-donnees/{SLUG}"))
    tab_to(page, f'a[href="/jeux-de-donnees/{SLUG}/deposer"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/{SLUG}/deposer")
    accessible(page)
    page.locator("#fichier").set_input_files(str(HOTEL))  # the OS file dialog
    tab_to(page, "form.form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#colonnes")
    assert page.locator("dd", has_text="cp1252").count() == 1
    assert page.locator("dd code", has_text=";").count() == 1
    accessible(page)

    # A wrong correction: "Source" (text) declared an integer → the report says so.
    source = page.locator("tr", has=page.locator("th", has_text="Source")).locator("select")
    assert source.input_value() == "string"
    source.focus()
    source.select_option("integer")
    page.get_by_role("button", name="Contrôler le fichier").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#rapport")
    assert page.get_by_text("Fichier non conforme").count() == 1
    assert page.locator("#rapport ~ * td", has_text="Source").count() >= 1
    accessible(page)

    # Fixed back to text: the file conforms.
    source = page.locator("tr", has=page.locator("th", has_text="Source")).locator("select")
    source.select_option("string")
    page.get_by_role("button", name="Contrôler le fichier").click()
    page.wait_for_selector("#rapport")
    assert page.get_by_text("Fichier conforme").count() == 1
    accessible(page)

    page.get_by_label("publier la version aussitôt").check()
    page.get_by_role("button", name="Envoyer le fichier").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/deposer/suivi/**")
    page.get_by_text("chargée").wait_for(timeout=60_000)  # the page reloads itself when done
    assert page.get_by_text(f"{len(hotel_rows())} ligne(s), en attente de publication").count() == 1
    accessible(page)


def steward_approves(page: Page, portal: Portal) -> None:
    sign_in(page, portal, STEWARD)
    badge = page.locator('a.review-link[href="/relecture"]')
    assert int(badge.locator(".count-badge").inner_text().split()[0]) >= 1
    tab_to(page, 'a.review-link[href="/relecture"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/relecture")
    accessible(page)
    card = page.locator("li.review-card", has_text="Stationnement cyclable")
    assert card.get_by_text(f"{len(hotel_rows())}").count() >= 1  # the version's rows
    card.get_by_label("Commentaire").fill("Vérifié, merci.")
    approve = card.get_by_role("button", name="Approuver")
    approve.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/relecture?traite=approuve")
    assert page.get_by_text("Demande approuvée").count() == 1
    assert page.locator("#historique ~ * td", has_text="Vérifié, merci.").count() == 1
    accessible(page)


def visitor_finds_filters_charts_downloads(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/"))
    page.get_by_label("Rechercher un jeu de données").fill("stationnement")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Stationnement cyclable").click()
    page.wait_for_url(f"**/jeux-de-donnees/{SLUG}")
    accessible(page)

    expected = [r for r in hotel_rows() if r["Classement"] == "4 stars"]
    page.get_by_label("Colonne", exact=True).select_option("Classement")
    page.get_by_label("Valeur").fill("4 stars")
    page.get_by_label("Valeur").press("Enter")
    page.wait_for_url("**valeur=4+stars**")
    assert page.locator("#apercu-total").inner_text().endswith(f"sur {len(expected)}")
    accessible(page)

    page.get_by_label("Regrouper par").select_option("Quartier")
    page.get_by_role("button", name="Afficher le graphique").click()
    chart = page.locator("svg.chart[role=img]")
    chart.wait_for()
    assert "Nombre de lignes par Quartier" in (chart.locator("title").text_content() or "")
    accessible(page)

    filtered = page.locator("a", has_text="lignes filtrées seulement").first
    with page.expect_download() as download_info:
        filtered.click()
    body = download_info.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["Quartier"] for r in rows] == [r["Quartier"] for r in expected]
    assert [float(r["RevPAR"]) for r in rows] == [
        float(r["RevPAR"].replace(",", ".")) for r in expected
    ]


def test_secretary_publishes_and_a_visitor_reuses(browser: Browser, portal: Portal) -> None:
    _cli(portal.data_dir, "review", "require", OWNER)
    try:
        secretary = browser.new_context(locale="fr-FR")
        try:
            secretary_uploads(secretary.new_page(), portal)
        finally:
            secretary.close()
        steward = browser.new_context(locale="fr-FR")
        try:
            steward_approves(steward.new_page(), portal)
        finally:
            steward.close()
    finally:
        _cli(portal.data_dir, "review", "require", OWNER, "--off")
    visitor = browser.new_context(locale="fr-FR", accept_downloads=True)
    try:
        visitor_finds_filters_charts_downloads(visitor.new_page(), portal)
    finally:
        visitor.close()
