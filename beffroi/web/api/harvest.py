"""Harvest sources: list, add, run now, runs (the organisation's stewards, administrators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from beffroi.harvest import service
from beffroi.harvest.service import SourceCreate
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


@router.post("/{key}/run")
def run_source(key: str, session: SessionDep, actor: ActorDep, jobs: JobsDep) -> dict[str, Any]:
    """Harvest the source now; answers with the run's counts and errors once it is done."""
    service.get_source(session, actor, key)  # not found / denied before any work
    session.rollback()
    return service.start_run(jobs.factory, jobs.settings, actor, key).as_dict()


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
