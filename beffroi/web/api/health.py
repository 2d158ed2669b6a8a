"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from beffroi import __version__
from beffroi.catalog.db import ping
from beffroi.web.deps import SessionDep, SettingsDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """State of the instance."""

    status: str
    version: str
    database: str
    mode: str


# Two routes, not one `api_route` with both methods: that gives both operations the same
# OpenAPI operation id (FastAPI warns on every schema generation). HEAD is left out of it.
@router.get("/health", response_model=Health)
@router.head("/health", response_model=Health, include_in_schema=False)
def health(session: SessionDep, settings: SettingsDep) -> Health:
    """Answer 200 when the catalogue database answers."""
    return Health(
        status="ok",
        version=__version__,
        database=ping(session),
        mode="embedded" if settings.is_embedded else "server",
    )
