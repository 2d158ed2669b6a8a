"""axe-core on every page template, in French and in English: 0 violations at WCAG 2.1 AA."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from beffroi.access.oidc import PendingLogout, seal_logout
from beffroi.settings import load_settings
from tests.conftest import SHARED_DATA

from .conftest import STEWARD, Portal, _cli, axe_violations, describe, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

#: (name, path, expected HTTP status) of each public page template.
PUBLIC_PAGES = [
    ("home", "/", 200),
    ("dataset-list", "/jeux-de-donnees", 200),
    ("search", "/jeux-de-donnees?q=bornes", 200),
    ("dataset", "/jeux-de-donnees/bornes-recharge-vehicules-electriques", 200),
    ("dataset-empty", "/jeux-de-donnees/arbres-alignement", 200),
    (
        "dataset-chart",
        (
            "/jeux-de-donnees/bornes-recharge-vehicules-electriques"
            "?graphique=n_amenageur&mesure=nbre_pdc&colonne=acces_recharge&valeur=payant"
            "&tri=nbre_pdc"
        ),
        200,
    ),
    ("dataset-bad-filter", "/jeux-de-donnees/codes-postaux?colonne=absente&valeur=1", 200),
    ("organization", "/organisations/direction-mobilites", 200),
    ("commune-organization", "/organisations/lorient", 200),
    ("commune", "/communes/56121", 200),
    ("commune-unknown", "/communes/99999", 404),
    ("login", "/connexion", 200),
    ("not-found", "/jeux-de-donnees/atlantide", 404),
    ("accessibility", "/accessibilite", 200),
    ("error-codes", "/docs/reference/errors", 200),
    ("indicators", "/indicateurs", 200),
    ("indicators-theme", "/indicateurs?theme=TRAN", 200),
    ("indicators-commune", "/indicateurs/communes/56069", 200),
    ("indicator", "/indicateurs/subventions-associations-par-habitant", 200),
    ("indicator-failed-source", "/indicateurs/points-recharge-pour-1000-habitants", 200),
    ("indicators-comparison", "/indicateurs-comparaison?communes=56121&communes=56098", 200),
    ("indicators-embed", "/indicateurs/communes/56121/integration", 200),
]
LANGS = ["fr", "en"]


def _check(page: Page, portal: Portal, path: str, status: int, lang: str) -> None:
    separator = "&" if "?" in path else "?"
    response = page.goto(portal.url(f"{path}{separator}lang={lang}"))
    assert response is not None
    assert response.status == status
    assert page.locator("html").get_attribute("lang") == lang
    violations = axe_violations(page)
    assert not violations, f"{path} ({lang}):\n{describe(violations)}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("name", "path", "status"), PUBLIC_PAGES, ids=[p[0] for p in PUBLIC_PAGES])
def test_public_page_has_no_axe_violation(
    page: Page, portal: Portal, name: str, path: str, status: int, lang: str
) -> None:
    del name
    _check(page, portal, path, status, lang)


def test_signed_in_header_has_no_axe_violation(page: Page, portal: Portal) -> None:
    sign_in(page, portal, "editeur-mobilites")
    _check(page, portal, "/", 200, "fr")


def test_the_checker_catches_a_violation(page: Page, portal: Portal) -> None:
    """The checks can fail: an unlabelled field and a low-contrast text are reported."""
    page.goto(portal.url("/"))
    page.evaluate(
        """() => {
        const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend',
          '<input type="text"><p id="pale">pâle</p>');
        document.getElementById('pale').style.color = '#ccc';  // CSSOM: allowed by the CSP
    }"""
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast"} <= found


@pytest.mark.parametrize("lang", LANGS)
def test_upload_wizard_pages_have_no_axe_violation(page: Page, portal: Portal, lang: str) -> None:
    sign_in(page, portal, "editeur-mobilites")
    start = "/jeux-de-donnees/bornes-recharge-vehicules-electriques/deposer"
    _check(page, portal, start, 200, lang)
    page.locator("#fichier").set_input_files(
        str(SHARED_DATA / "messy" / "bornes-irve-20190805.csv")
    )
    page.locator("form.form button[type=submit]").click()
    page.wait_for_selector("#colonnes")
    assert not axe_violations(page)
    page.locator("button[value=verifier]").click()
    page.wait_for_selector("#rapport")
    violations = axe_violations(page)
    assert not violations, describe(violations)


@pytest.mark.parametrize("lang", LANGS)
def test_metadata_form_and_review_queue_have_no_axe_violation(
    page: Page, portal: Portal, lang: str
) -> None:
    """The metadata form (empty, with errors), the dataset page with its checklist, and the
    steward's review queue holding a proposal, then its history."""
    dataset = "/jeux-de-donnees/bornes-recharge-vehicules-electriques"
    _cli(portal.data_dir, "review", "require", "direction-mobilites")
    try:
        sign_in(page, portal, "editeur-mobilites")
        _check(page, portal, dataset, 200, lang)
        assert page.locator("section.checklist").count() == 1
        _check(page, portal, f"{dataset}/modifier", 200, lang)
        page.locator("#md-title").fill("x")
        page.locator("#md-contact_email").fill("pas-une-adresse")
        page.locator("form.edit-form button[type=submit]").click()
        page.wait_for_selector("#erreurs")
        assert page.locator(".field-error").count() == 2
        violations = axe_violations(page)
        assert not violations, describe(violations)
        page.goto(portal.url(f"{dataset}/modifier?lang={lang}"))
        page.locator("#md-keywords").fill(f"recharge\nvéhicules électriques\nmot-{lang}-axe")
        page.locator("form.edit-form button[type=submit]").click()
        page.wait_for_url("**etat=proposee")
        violations = axe_violations(page)
        assert not violations, describe(violations)

        page.context.clear_cookies()
        sign_in(page, portal, STEWARD)
        _check(page, portal, "/relecture", 200, lang)
        card = page.locator("li.review-card", has_text=f"mot-{lang}-axe")
        card.locator("textarea").fill("Mots-clés à revoir")
        card.locator("button[value=refuser]").click()
        page.wait_for_url("**/relecture?traite=refuse")
        violations = axe_violations(page)
        assert not violations, describe(violations)
    finally:
        _cli(portal.data_dir, "review", "require", "direction-mobilites", "--off")


@pytest.mark.parametrize("lang", LANGS)
def test_validation_report_page_has_no_axe_violation(page: Page, portal: Portal, lang: str) -> None:
    """A version's validation report (errors by type and column, chart, first errors)."""
    slug = f"subventions-axe-{lang}"
    schema = SHARED_DATA / "schemas" / "scdl-subventions"
    _cli(
        portal.data_dir,
        *("dataset", "create", "Subventions (rapport de validation)"),
        *("--publisher", "direction-mobilites", "--slug", slug),
    )
    _cli(
        portal.data_dir,
        *("conformance", "set", slug, "--schema", str(schema / "schema.json")),
        *("--on-invalid", "flag"),
    )
    invalid = schema / "examples" / "exemple_invalide_erreurs_cellules.csv"
    _cli(portal.data_dir, "ingest", str(invalid), "--dataset", slug)
    sign_in(page, portal, "editeur-mobilites")
    _check(page, portal, f"/jeux-de-donnees/{slug}/versions/1/rapport", 200, lang)
    assert page.locator("svg[role=img]").count() == 1


@pytest.mark.parametrize("lang", LANGS)
def test_signed_out_page_has_no_axe_violation(page: Page, portal: Portal, lang: str) -> None:
    """« Vous êtes déconnecté », where an OpenID Connect provider sends the browser back
    after ending its session: reached here with the signed state a sign-out leaves."""
    key = load_settings(data_dir=portal.data_dir).signing_key()
    page.context.add_cookies(
        [
            {
                "name": "beffroi_oidc_logout",
                "value": seal_logout(PendingLogout(state="etat-axe"), key),
                "url": portal.url("/deconnexion/oidc/retour"),
            }
        ]
    )
    _check(page, portal, "/deconnexion/oidc/retour?state=etat-axe", 200, lang)
    assert page.locator("#deconnexion-oidc").count() == 1  # that page, not a redirect home
