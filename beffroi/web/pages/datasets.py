"""Dataset list and dataset page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from beffroi.catalog import services
from beffroi.catalog import versions as version_services
from beffroi.catalog.vocabularies import FREQUENCIES, GRANULARITIES, LICENSES, THEMES
from beffroi.web.deps import ActorDep, SessionDep
from beffroi.web.pages.rendering import render

router = APIRouter()


@router.get("/jeux-de-donnees", response_class=HTMLResponse, name="dataset_list")
def dataset_list(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Search the datasets the visitor may see."""
    result = services.list_datasets(session, actor, q=q or None, page=page, page_size=20)
    return render(request, "dataset_list.html", {"actor": actor, "result": result, "q": q or ""})


@router.get("/jeux-de-donnees/{slug}", response_class=HTMLResponse, name="dataset_page")
def dataset_page(slug: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """One dataset's metadata; a former slug redirects permanently."""
    dataset, redirected = services.resolve_dataset(session, actor, slug)
    if redirected:
        return RedirectResponse(
            str(request.url_for("dataset_page", slug=dataset.slug)), status_code=308
        )
    _dataset, versions = version_services.list_versions(session, actor, dataset.slug)
    return render(
        request,
        "dataset.html",
        {
            "actor": actor,
            "dataset": dataset,
            "versions": versions,
            "places": services.describe_spatial(session, dataset.spatial),
            "licenses": LICENSES,
            "frequencies": FREQUENCIES,
            "themes": THEMES,
            "granularities": GRANULARITIES,
        },
    )
