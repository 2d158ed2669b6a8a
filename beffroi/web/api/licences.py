"""Licence acceptance: a signed-in user accepts the licence of a ``registered`` dataset
before reading its data."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, status
from pydantic import BaseModel

from beffroi.access.licences import accept_licence
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=ERROR_RESPONSES)


class LicenceAcceptancePublic(BaseModel):
    """Who accepted which licence of which dataset, and when."""

    dataset: str
    user: str
    licence: str
    accepted_at: dt.datetime


@router.post(
    "/{slug}/licence-acceptance",
    response_model=LicenceAcceptancePublic,
    status_code=status.HTTP_201_CREATED,
)
def accept(slug: str, session: SessionDep, actor: ActorDep) -> LicenceAcceptancePublic:
    """Accept the current licence of a ``registered`` dataset (idempotent): its records,
    exports and SQL open to the caller."""
    acceptance = accept_licence(session, actor, slug)
    session.commit()
    return LicenceAcceptancePublic(
        dataset=slug,
        user=str(actor.username),
        licence=acceptance.licence,
        accepted_at=acceptance.accepted_at,
    )
