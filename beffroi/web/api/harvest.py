"""Harvest sources: list, add, run now, runs (the organisation's stewards, administrators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from beffroi.harvest import service
from beffroi.harvest.service import SourceCreate
from beffroi.jobs import job_view
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, JobsDep, SessionDep

router = APIRouter(prefix="/harvest-sources", tags=["harvest"], responses=ERROR_RESPONSES)


@router.get("")
def list_sources(
    session: SessionDep,
    actor: ActorDep,
    kind: Annotated[str | None, Query(description="dcat, ckan or file")] = None,
) -> list[dict[str, Any]]:
    """The sources the caller manages (its organisations' as steward; all for admins)."""
    return [service.source_view(s) for s in service.list_sources(session, actor, kind)]


@router.post("", status_code=status.HTTP_201_CREATED)
def add_source(body: SourceCreate, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Add a DCAT catalogue or a CKAN portal harvested into one organisation."""
    source = service.add_source(session, actor, body)
    session.commit()
    return service.source_view(source)


@router.get("/{key}")
def show_source(key: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """One source, by id or name."""
    return service.source_view(service.get_source(session, actor, key))


@router.post(
    "/{key}/run",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"description": "With `?wait=true`: the run's counts and errors, once done."},
        409: {"description": "A run of this source is already under way."},
    },
)
def run_source(
    key: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    jobs: JobsDep,
    wait: Annotated[
        bool, Query(description="Answer when the run is done (200 with its counts), for scripts.")
    ] = False,
) -> JSONResponse:
    """Harvest the source now, in the background: 202 with the job to follow (``Location``:
    ``GET /api/v1/jobs/{id}``, whose result is the run's counts and errors once done).
    ``?wait=true`` runs it within the request and answers its counts (200)."""
    service.get_source(session, actor, key)  # not found / denied before any work
    session.rollback()
    if wait:
        return JSONResponse(service.start_run(jobs.factory, jobs.settings, actor, key).as_dict())
    job, run = service.submit_run(jobs, actor, key)
    location = f"/api/v1/jobs/{job.id}"
    runs = str(request.url_for("list_runs", key=run.source))
    payload = {**job_view(job), "run": run.id, "links": {"job": location, "runs": runs}}
    return JSONResponse(
        payload, status_code=status.HTTP_202_ACCEPTED, headers={"Location": location}
    )


@router.get("/{key}/runs")
def list_runs(
    key: str,
    session: SessionDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> list[dict[str, Any]]:
    """The latest runs of a source, newest first."""
    source = service.get_source(session, actor, key)
    return [service.run_view(r, source.name) for r in service.list_runs(session, actor, key, limit)]
