"""Dashboards of indicators: the EPCI's, each member commune's, and one page per indicator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from beffroi.access import Actor
from beffroi.indicators import compute as comp
from beffroi.indicators import dashboards, services
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.i18n import negotiate, translator
from beffroi.web.pages.rendering import render

router = APIRouter()

EN = {
    "Sources en retard": "Late sources",
    "Source en retard": "Late source",
    "Fréquence déclarée": "Declared frequency",
    "Dernière publication": "Last publication",
    "Aucune source en retard.": "No late source.",
    "Indicateurs": "Indicators",
    "Tableau de bord": "Dashboard",
    "Tableau de bord du territoire": "Dashboard of the territory",
    "Tableau de bord de la commune": "Dashboard of the commune",
    "Tous les thèmes": "All themes",
    "Thème": "Theme",
    "Afficher": "Show",
    "Commune": "Commune",
    "Tableau de bord d'une commune": "Dashboard of a commune",
    "Aucun indicateur visible pour le moment.": "No visible indicator yet.",
    "Période": "Period",
    "Valeur": "Value",
    "Territoire": "Territory",
    "Objectif": "Target",
    "Seuil d'alerte": "Alert threshold",
    "objectif atteint": "target reached",
    "en deçà de l'objectif": "target not reached",
    "seuil d'alerte franchi": "alert threshold crossed",
    "en hausse": "up",
    "en baisse": "down",
    "stable": "stable",
    "par rapport à": "compared with",
    "secret statistique": "statistical secrecy",
    "Valeur masquée (secret statistique) : trop peu d'unités.": "Value hidden "
    "(statistical secrecy): too few units.",
    "Évolution": "Trend",
    "Comparaison des communes": "Comparison of the communes",
    "Carte des communes": "Map of the communes",
    "valeurs dans le tableau ci-dessous": "values in the table below",
    "Valeurs du graphique": "Values of the chart",
    "Provenance": "Provenance",
    "Calculé le": "Computed on",
    "Sources": "Sources",
    "version": "version",
    "Empreinte SQL": "SQL fingerprint",
    "Requête": "Query",
    "Télécharger": "Download",
    "Détail de l'indicateur": "Indicator details",
    "Unité": "Unit",
    "Responsable": "Owner",
    "Dernier calcul en échec": "Last computation failed",
    "Historique des calculs": "Computation history",
    "Déclencheur": "Trigger",
    "Statut": "Status",
    "valeurs": "values",
    "Toutes les valeurs": "All values",
    "Population": "Population",
    "plus haut est mieux": "higher is better",
    "plus bas est mieux": "lower is better",
    "Sens": "Direction",
    "Retour au tableau de bord": "Back to the dashboard",
    "Ensemble du territoire": "Whole territory",
    "Comparer des communes": "Compare communes",
    "Communes comparées (trois au plus)": "Communes compared (three at most)",
    "Comparer": "Compare",
    "Choisissez une à trois communes.": "Choose one to three communes.",
    "Dernière période": "Latest period",
    "Alertes des indicateurs": "Indicator alerts",
    "Aucune alerte.": "No alert.",
    "Indicateur": "Indicator",
    "Valeur précédente": "Previous value",
    "Seuil": "Threshold",
    "Le": "On",
    "lue": "read",
    "non lue": "unread",
    "en retard sur sa fréquence de mise à jour": "late against its update frequency",
    "Indicateurs de la commune": "Indicators of the commune",
    "Voir le tableau de bord complet": "See the full dashboard",
    "Intégrer ce tableau de bord": "Embed this dashboard",
    "Copiez ce code dans une page de votre site :": "Copy this code into a page of your site:",
}


def _translator(locale: str) -> Callable[[str], str]:
    base = translator(locale)
    if locale != "en":
        return base
    return lambda text: EN.get(text) or base(text)


@router.get("/indicateurs", response_class=HTMLResponse, name="indicators_dashboard")
def epci_dashboard(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    theme: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """The territory's dashboard: every visible indicator (optionally one theme)."""
    comp.refresh_stale(session, settings)
    session.commit()
    locale = negotiate(request, settings.default_locale)
    board = dashboards.dashboard(session, actor, theme=theme or None, locale=locale)
    return render(
        request,
        "indicators/dashboard.html",
        {"actor": actor, "board": board, "_": _translator(locale), "fmt": dashboards.number},
    )


@router.get("/indicateurs/communes/{insee}", response_class=HTMLResponse, name="commune_dashboard")
def commune_dashboard(
    insee: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    theme: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """A member commune's dashboard, beside the territory's figures."""
    comp.refresh_stale(session, settings)
    session.commit()
    locale = negotiate(request, settings.default_locale)
    board = dashboards.dashboard(session, actor, commune=insee, theme=theme or None, locale=locale)
    return render(
        request,
        "indicators/dashboard.html",
        {"actor": actor, "board": board, "_": _translator(locale), "fmt": dashboards.number},
    )


#: The embeddable view is public, read-only and has no form: any site may frame it.
EMBED_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors *"
)


@router.get(
    "/indicateurs/communes/{insee}/integration",
    response_class=HTMLResponse,
    name="commune_dashboard_embed",
)
def commune_embed(
    insee: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    theme: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """A commune's public indicators for an iframe on its own website (no header, no
    sign-in: always what an anonymous visitor sees)."""
    comp.refresh_stale(session, settings)
    session.commit()
    locale = negotiate(request, settings.default_locale)
    board = dashboards.dashboard(
        session, Actor.anonymous(), commune=insee, theme=theme or None, locale=locale
    )
    response = render(
        request,
        "indicators/embed.html",
        {"board": board, "_": _translator(locale), "fmt": dashboards.number},
    )
    response.headers["Content-Security-Policy"] = EMBED_CSP
    response.headers["X-Frame-Options"] = "ALLOWALL"  # not DENY: frame-ancestors decides
    return response


@router.get("/indicateurs/alertes", response_class=HTMLResponse, name="indicator_alerts")
def alerts_page(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> HTMLResponse:
    """Threshold alerts for the stewards of the indicators' owners (sign-in required)."""
    comp.refresh_stale(session, settings)
    session.commit()
    locale = negotiate(request, settings.default_locale)
    return render(
        request,
        "indicators/alerts.html",
        {
            "actor": actor,
            "alerts": services.alert_views(session, actor),
            "late_sources": services.source_alert_views(session, actor),
            "_": _translator(locale),
            "fmt": dashboards.number,
        },
    )


@router.get("/indicateurs/{code}", response_class=HTMLResponse, name="indicator_page")
def indicator_page(
    code: str, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> HTMLResponse:
    """One indicator: definition, provenance, charts, every value, history, downloads."""
    comp.refresh_stale(session, settings, [code])
    session.commit()
    locale = negotiate(request, settings.default_locale)
    board = dashboards.dashboard(session, actor, locale=locale, codes=[code])
    indicator = services.get_indicator(session, actor, code)
    values = services.indicator_values(session, actor, code)
    history = services.history(session, actor, code)[:10]
    card = board.cards[0]
    return render(
        request,
        "indicators/indicator.html",
        {
            "actor": actor,
            "card": card,
            "indicator": indicator,
            "values": values,
            "history": history,
            "freshness": services.source_freshness(session, indicator),
            "_": _translator(locale),
            "fmt": dashboards.number,
        },
    )


@router.get("/indicateurs-comparaison", response_class=HTMLResponse, name="indicators_comparison")
def compare_communes(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    communes: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    """Up to three member communes side by side on every per-commune indicator."""
    comp.refresh_stale(session, settings)
    session.commit()
    locale = negotiate(request, settings.default_locale)
    compared = dashboards.comparison(session, actor, communes or [], locale=locale)
    return render(
        request,
        "indicators/comparison.html",
        {"actor": actor, "compared": compared, "_": _translator(locale), "fmt": dashboards.number},
    )
