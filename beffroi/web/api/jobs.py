"""Background jobs (upload ingestion, harvest run): status and outcome."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from beffroi.jobs import get_job, job_view
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


@router.get("/{job_id}")
def show_job(job_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """State of a job started by the caller: queued, running (with progress), succeeded
    (with the new version) or failed (with the error, where it is and how to fix it)."""
    return job_view(get_job(session, actor, job_id))
