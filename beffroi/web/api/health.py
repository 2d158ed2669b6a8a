"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from beffroi import __version__
from beffroi.web.deps import SessionDep, SettingsDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """State of the instance."""

    status: str
    version: str
    database: str
    mode: str


@router.api_route("/health", methods=["GET", "HEAD"], response_model=Health)
def health(session: SessionDep, settings: SettingsDep) -> Health:
    """Answer 200 when the catalogue database answers."""
    session.execute(text("SELECT 1"))
    return Health(
        status="ok",
        version=__version__,
        database=session.get_bind().dialect.name,
        mode="embedded" if settings.is_embedded else "server",
    )
