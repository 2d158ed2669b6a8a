"""Home, organisation and accessibility pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from beffroi import reference
from beffroi.catalog import services
from beffroi.web.deps import ActorDep, SessionDep
from beffroi.web.pages.rendering import render

router = APIRouter()


def _population(insee_code: str | None) -> int | None:
    if not insee_code:
        return None
    commune = reference.communes().get(insee_code)
    return commune.population_municipale if commune else None


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, name="home")
def home(request: Request, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    """The portal's home page: the territory and its latest datasets."""
    territory = services.territory_overview(session, actor)
    populations = {c.id: _population(c.insee_code) for c in territory.communes}
    return render(
        request,
        "home.html",
        {"actor": actor, "territory": territory, "populations": populations},
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
