"""Home, organisation and accessibility pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from beffroi import reference
from beffroi.catalog import services, usage
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.i18n import negotiate
from beffroi.web.pages import maps
from beffroi.web.pages.rendering import render

router = APIRouter()


def _population(insee_code: str | None) -> int | None:
    if not insee_code:
        return None
    commune = reference.communes().get(insee_code)
    return commune.population_municipale if commune else None


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, name="home")
def home(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> HTMLResponse:
    """The portal's home page: the territory (its communes on a map), its latest datasets and
    the most used ones over the last 30 days (among those the visitor may read)."""
    territory = services.territory_overview(session, actor)
    most_used = usage.most_used(session, actor)
    populations = {c.id: _population(c.insee_code) for c in territory.communes}
    return render(
        request,
        "home.html",
        {
            "actor": actor,
            "territory": territory,
            "populations": populations,
            "most_used": most_used,
            "usage_days": usage.WINDOW_DAYS,
            "communes_map": _communes_map(territory, negotiate(request, settings.default_locale)),
        },
    )


def _communes_map(territory: services.Territory, locale: str) -> Markup:
    """The member communes on a map, each a link to its commune page."""
    codes = [c.insee_code for c in territory.communes if c.insee_code]
    found = maps.outlines(codes, territory.epci.siren if territory.epci else None)
    if not found:
        return Markup("")
    names = ", ".join(o.name for o in found)
    if locale == "en":
        title = f"Map of the {len(found)} member communes"
        description = f"Each commune links to its page: {names}."
    else:
        title = f"Carte des {len(found)} communes membres"
        description = f"Chaque commune mène à sa page : {names}."
    return maps.communes_map(
        found, ident="carte-communes", title=title, description=description, href="/communes/{code}"
    )


@router.get("/organisations/{slug}", response_class=HTMLResponse, name="organization_page")
def organization_page(
    slug: str, request: Request, session: SessionDep, actor: ActorDep
) -> HTMLResponse:
    """An organisation and the datasets it publishes that the visitor may see."""
    org = services.get_organization(session, slug)
    datasets = services.list_datasets(session, actor, publisher=slug, page_size=100)
    children = services.list_organizations(session, parent=slug)
    return render(
        request,
        "organization.html",
        {
            "actor": actor,
            "org": org,
            "datasets": datasets,
            "children": children,
            "population": _population(org.insee_code),
        },
    )


@router.get("/accessibilite", response_class=HTMLResponse, name="accessibility")
def accessibility(request: Request, actor: ActorDep) -> HTMLResponse:
    """Accessibility statement (RGAA)."""
    return render(request, "accessibility.html", {"actor": actor})
