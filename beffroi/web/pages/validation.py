"""A version's validation report as a page, ``/jeux-de-donnees/{slug}/versions/{n}/rapport``
(verdict, counts per error type and per column with a bar chart, the first errors of each
column with the catalogue's hint), and its invalid rows as CSV (``…/rapport.csv``).

Both are access-controlled like the version (:mod:`beffroi.validate.export`): the cells'
values, and the rows, only for the dataset's editors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from beffroi.web.deps import ActorDep, SessionDep
from beffroi.web.i18n import negotiate, translator
from beffroi.web.pages.rendering import render

router = APIRouter()

#: This page's texts in English (looked up by their French text, like ``web/i18n.py``).
EN: Final[dict[str, str]] = {
    "Rapport de validation": "Validation report",
    "Version": "Version",
    "Schéma": "Schema",
    "Fichier conforme": "The file conforms",
    "Fichier non conforme": "The file does not conform",
    "ligne(s)": "row(s)",
    "erreur(s)": "error(s)",
    "aucune erreur": "no error",
    "Erreurs par type": "Errors by type",
    "Type d'erreur": "Error type",
    "Nombre": "Count",
    "Erreurs par colonne": "Errors by column",
    "Colonne": "Column",
    "Lignes entières": "Whole rows",
    "Erreurs de l'en-tête": "Header errors",
    "Premières erreurs par colonne": "First errors by column",
    "Ligne": "Row",
    "Valeur": "Value",
    "Erreur": "Error",
    "Comment corriger": "How to fix",
    "Télécharger les lignes en erreur (CSV)": "Download the invalid rows (CSV)",
    "Pour Excel (CSV avec BOM)": "For Excel (CSV with BOM)",
    "premières lignes seulement": "first rows only",
    "Les valeurs des cellules sont réservées aux éditeurs du jeu de données.": (
        "The cells' values are shown to the dataset's editors only."
    ),
    "Graphique : erreurs par colonne": "Chart: errors by column",
    "Le tableau ci-dessus donne les mêmes nombres.": "The table above gives the same figures.",
    "Avertissements": "Warnings",
    "Fil d'Ariane": "Breadcrumb",
    "Accueil": "Home",
    "Jeux de données": "Datasets",
    "autre(s)": "more",
}

BAR_WIDTH: Final = 320
BAR_HEIGHT: Final = 22


def _translator(locale: str) -> Callable[[str], str]:
    base = translator(locale)
    if locale != "en":
        return base
    return lambda text: EN.get(text) or base(text)


def _bars(fields: list[Any], label: Callable[[str], str]) -> dict[str, Any]:
    """An SVG bar chart of the errors per column (drawn server-side, no script)."""
    top = max((item.total for item in fields), default=0) or 1
    bars = [
        {
            "y": index * (BAR_HEIGHT + 6),
            "width": max(2, round(BAR_WIDTH * item.total / top)),
            "label": item.field or label("Lignes entières"),
            "total": item.total,
        }
        for index, item in enumerate(fields)
    ]
    return {"bars": bars, "height": len(bars) * (BAR_HEIGHT + 6), "bar_height": BAR_HEIGHT}


@router.get(
    "/jeux-de-donnees/{slug}/versions/{number}/rapport",
    response_class=HTMLResponse,
    name="validation_report",
)
def validation_report(
    slug: str, number: int, request: Request, session: SessionDep, actor: ActorDep
) -> HTMLResponse:
    """The validation report of one version."""
    from beffroi.validate.export import report_view  # noqa: PLC0415 - heavy, on demand

    view = report_view(session, actor, slug, number)
    locale = negotiate(request, request.app.state.settings.default_locale)
    _ = _translator(locale)
    return render(
        request,
        "validation_report.html",
        {
            "actor": actor,
            "view": view,
            "chart": _bars(view.fields, _),
            "_": _,
        },
    )


@router.get("/jeux-de-donnees/{slug}/versions/{number}/rapport.csv", name="validation_rows")
def validation_rows(
    slug: str, number: int, session: SessionDep, actor: ActorDep, bom: bool = False
) -> Response:
    """The invalid rows kept with the version, as CSV (UTF-8; ``?bom=true`` for Excel)."""
    from beffroi.validate.export import csv_chunks, version_invalid_rows  # noqa: PLC0415

    kept = version_invalid_rows(session, actor, slug, number)
    return StreamingResponse(
        csv_chunks(kept.header, kept.rows, bom=bom),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{kept.filename}"',
            "X-Invalid-Rows-Truncated": "true" if kept.truncated else "false",
        },
    )
