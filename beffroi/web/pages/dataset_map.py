"""The map of a geometry dataset: its features (points, lines, polygons) over the communes.

``/jeux-de-donnees/{slug}/carte`` shows it on a page of its own, with the same filters as
the table preview (``q``, ``colonne``, ``operateur``, ``valeur``); :func:`dataset_map`
builds it for any page that includes ``_dataset_map.html`` (the dataset page).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from beffroi.access import Actor
from beffroi.catalog import services
from beffroi.catalog.models import Dataset
from beffroi.errors import InvalidInputError
from beffroi.query.features import MAX_FEATURES, MapFeatures, map_features
from beffroi.settings import Settings
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.i18n import negotiate
from beffroi.web.pages import maps
from beffroi.web.pages.charts import number
from beffroi.web.pages.datasets import _state
from beffroi.web.pages.rendering import render

router = APIRouter()


@dataclass(frozen=True, slots=True)
class DatasetMap:
    """What ``_dataset_map.html`` shows: the SVG and its text alternative."""

    svg: Markup
    features: MapFeatures
    lines: int
    polygons: int
    extent: str
    background: bool
    page_link: str
    filtered: bool


def _extent(bounds: tuple[float, float, float, float], locale: str) -> str:
    low_lon, low_lat, high_lon, high_lat = (number(round(v, 4), locale) for v in bounds)
    if locale == "en":
        return f"longitude {low_lon} to {high_lon}, latitude {low_lat} to {high_lat}"
    return f"longitude de {low_lon} à {high_lon}, latitude de {low_lat} à {high_lat}"


def _description(found: MapFeatures, lines: int, polygons: int, extent: str, locale: str) -> str:
    if locale == "en":
        text = (
            f"{found.read} rows read out of {found.total}: {len(found.points)} points, "
            f"{lines} lines, {polygons} polygons; {extent}."
        )
        text += f" {found.unplaced} rows without position." if found.unplaced else ""
        return text + (f" {found.outside} stray features not drawn." if found.outside else "")
    text = (
        f"{found.read} lignes lues sur {found.total} : {len(found.points)} points, "
        f"{lines} tracés, {polygons} polygones ; {extent}."
    )
    text += f" {found.unplaced} lignes sans position." if found.unplaced else ""
    return text + (f" {found.outside} entités isolées non dessinées." if found.outside else "")


def dataset_map(
    request: Request,
    session: SessionDep,
    actor: Actor,
    settings: Settings,
    dataset: Dataset,
    filters: list[tuple[str, str]],
    query: str = "",
) -> DatasetMap | None:
    """The map of a published dataset's rows matching ``filters``; None when the dataset
    has no position column or nothing to draw. ``query`` is the page's query string."""
    if dataset.published_version_id is None:
        return None
    try:
        found = map_features(session, actor, settings, dataset.slug, filters, limit=MAX_FEATURES)
    except InvalidInputError:
        return None  # a wrong filter of the form: the preview says what to fix
    frame = found.frame()
    if frame is None:
        return None
    shown = found.within(frame)
    locale = negotiate(request, settings.default_locale)
    background = maps.outlines_within(_members(session), frame)
    lines = sum(1 for s in shown.shapes if s.kind == "line")
    polygons = len(shown.shapes) - lines
    extent = _extent(frame, locale)
    title = ("Map: " if locale == "en" else "Carte : ") + dataset.title
    svg = maps.features_map(
        shown,
        background,
        frame,
        ident="carte-donnees",
        title=title,
        description=_description(shown, lines, polygons, extent, locale),
    )
    page_link = f"/jeux-de-donnees/{dataset.slug}/carte" + (f"?{query}" if query else "")
    return DatasetMap(
        svg, shown, lines, polygons, extent, bool(background), page_link, bool(filters)
    )


def _members(session: SessionDep) -> list[maps.Outline]:
    """The outlines of the platform's member communes (the EPCI's file first)."""
    epcis = [o for o in services.list_organizations(session, kind="epci") if o.parent_id is None]
    codes = [
        o.insee_code for o in services.list_organizations(session, kind="commune") if o.insee_code
    ]
    return maps.outlines(codes, epcis[0].siren if epcis else None)


@router.get("/jeux-de-donnees/{slug}/carte", response_class=HTMLResponse, name="dataset_map")
def dataset_map_page(
    slug: str, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> HTMLResponse:
    """A dataset's features on a map (the preview's filters apply), with a text alternative."""
    dataset = services.get_dataset(session, actor, slug)
    state = _state(request)
    filters = state.filters()
    query = urlencode(
        {
            k: v
            for k, v in request.query_params.items()
            if k in {"q", "colonne", "operateur", "valeur"}
        }
    )
    context: dict[str, Any] = {
        "actor": actor,
        "dataset": dataset,
        "dataset_map": dataset_map(request, session, actor, settings, dataset, filters, query),
        "back": f"/jeux-de-donnees/{dataset.slug}" + (f"?{query}" if query else ""),
        "max_features": MAX_FEATURES,
    }
    return render(request, "dataset_map.html", context)


__all__ = ["DatasetMap", "dataset_map", "router"]
