"""Personal-data flags of a dataset's columns and its minimum cell size."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from beffroi.catalog import services
from beffroi.privacy import flags
from beffroi.privacy.flags import FlagDecision, FlagPublic, PrivacyPublic
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/datasets/{slug}/privacy", tags=["privacy"], responses=ERROR_RESPONSES)


class PrivacyUpdate(BaseModel):
    """Statistical secrecy: groups smaller than this are not served publicly (null: none)."""

    min_cell_size: int | None = Field(default=None, ge=2, le=1000)


@router.get("", response_model=PrivacyPublic)
def show_privacy(slug: str, session: SessionDep, actor: ActorDep) -> PrivacyPublic:
    """Flags (detected, confirmed, cleared) and minimum cell size (editors of the publisher)."""
    dataset = services.get_dataset(session, actor, slug)
    return flags.show_privacy(session, actor, dataset)


@router.put("", response_model=PrivacyPublic)
def update_privacy(
    slug: str, body: PrivacyUpdate, session: SessionDep, actor: ActorDep
) -> PrivacyPublic:
    """Set the minimum cell size (stewards of the publisher)."""
    dataset = services.get_dataset(session, actor, slug)
    flags.set_min_cell_size(session, actor, dataset, body.min_cell_size)
    session.commit()
    return flags.privacy_public(session, dataset)


@router.post("/columns/{column}", response_model=FlagPublic)
def decide_flag(
    slug: str, column: str, body: FlagDecision, session: SessionDep, actor: ActorDep
) -> FlagPublic:
    """Confirm or clear a detected flag, or flag a column (stewards of the publisher)."""
    dataset = services.get_dataset(session, actor, slug)
    flag = flags.decide(session, actor, dataset, column, body)
    session.commit()
    return flags.flag_public(flag)
