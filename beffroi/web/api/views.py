"""Crossings (views): create, describe, refresh, and the lineage of any dataset."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from beffroi.crossings import services
from beffroi.crossings.services import ViewCreate
from beffroi.jobs import job_view
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(tags=["views"], responses=ERROR_RESPONSES)


@router.get("/views")
def list_views(request: Request, session: SessionDep, actor: ActorDep) -> JSONResponse:
    """The views (derived datasets) the caller may read."""
    data = [services.view_payload(session, actor, v) for v in services.list_views(session, actor)]
    return JSONResponse({"data": data, "links": {"self": str(request.url)}})


@router.post("/views", status_code=status.HTTP_201_CREATED)
def create_view(
    body: ViewCreate, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> JSONResponse:
    """Create a view: its dataset, its validated definition (SQL checked by the guard, or a
    declarative join compiled to SQL), and the job of its first version."""
    view, job = services.create_view(session, actor, settings, body)
    session.commit()  # wakes the view worker: the first version is computed in the background
    payload: dict[str, Any] = services.view_payload(session, actor, view)
    payload["job"] = job_view(job)
    slug = view.dataset.slug
    payload["links"] = {
        "self": str(request.url_for("get_view", slug=slug)),
        "job": f"/api/v1/jobs/{job.id}",
        "lineage": f"/api/v1/datasets/{slug}/lineage",
    }
    return JSONResponse(payload, status_code=status.HTTP_201_CREATED)


@router.get("/views/{slug}")
def get_view(slug: str, request: Request, session: SessionDep, actor: ActorDep) -> JSONResponse:
    """A view: definition and SQL (for readers of every source), sources, access, state."""
    view = services.get_view(session, actor, slug)
    payload = services.view_payload(session, actor, view)
    payload["links"] = {
        "self": str(request.url),
        "records": f"/api/v1/datasets/{slug}/records",
        "lineage": f"/api/v1/datasets/{slug}/lineage",
    }
    return JSONResponse(payload)


@router.post("/views/{slug}/refresh", status_code=status.HTTP_202_ACCEPTED)
def refresh_view(slug: str, session: SessionDep, actor: ActorDep) -> JSONResponse:
    """Queue a recomputation of a view (editors of its owner); follow the job."""
    job = services.request_refresh(session, actor, slug)
    session.commit()
    return JSONResponse(
        {**job_view(job), "links": {"job": f"/api/v1/jobs/{job.id}"}},
        status_code=status.HTTP_202_ACCEPTED,
    )


@router.get("/datasets/{slug}/lineage")
def lineage(
    slug: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    version: Annotated[int | None, Query(ge=1, description="A past version (views).")] = None,
) -> JSONResponse:
    """Upstream (for a view: the source versions behind a version) and downstream (the views
    reading this dataset), limited to the datasets the caller may see."""
    payload = services.lineage(session, actor, slug, version)
    payload["links"] = {"self": str(request.url)}
    return JSONResponse(payload)
