"""Metadata changes: applied at once, or proposed for a steward's review; the proposals,
approve, reject."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from beffroi.catalog import metadata_reviews as service
from beffroi.catalog.metadata_reviews import MetadataReviewPublic
from beffroi.catalog.reviews import ReviewStatus
from beffroi.catalog.schemas import DatasetUpdate
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.api.decisions import (
    DatasetFilter,
    StatusFilter,
    add_decision_routes,
    chosen_status,
)
from beffroi.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/metadata-reviews", tags=["reviews"], responses=ERROR_RESPONSES)


class MetadataChange(BaseModel):
    """A change of a dataset's metadata (only the fields given; the slug cannot change here)."""

    dataset: str = Field(description="Slug of the dataset.")
    changes: DatasetUpdate


class MetadataChangeResult(BaseModel):
    """Applied (200), proposed for review (202), or nothing changed (200, no field)."""

    applied: bool
    fields: list[str]
    review: MetadataReviewPublic | None = None


@router.get("", response_model=list[MetadataReviewPublic])
def list_proposals(
    session: SessionDep,
    actor: ActorDep,
    status: StatusFilter = ReviewStatus.PENDING,
    dataset: DatasetFilter = None,
) -> list[MetadataReviewPublic]:
    """Proposals the caller decides on (stewards) or made (editors), oldest first."""
    found = service.list_proposals(session, actor, status=chosen_status(status), dataset=dataset)
    return [service.proposal_public(r) for r in found]


@router.post(
    "",
    response_model=MetadataChangeResult,
    responses={202: {"model": MetadataChangeResult, "description": "Proposed for review."}},
)
def change_metadata(body: MetadataChange, session: SessionDep, actor: ActorDep) -> JSONResponse:
    """Change metadata: applied for stewards or without review, else a pending proposal."""
    outcome = service.change_metadata(session, actor, body.dataset, body.changes)
    session.commit()
    result = MetadataChangeResult(
        applied=outcome.applied,
        fields=sorted(outcome.changed),
        review=service.proposal_public(outcome.review) if outcome.review else None,
    )
    return JSONResponse(result.model_dump(mode="json"), status_code=202 if outcome.review else 200)


@router.get("/{review_id}", response_model=MetadataReviewPublic)
def show_proposal(review_id: int, session: SessionDep, actor: ActorDep) -> MetadataReviewPublic:
    """One proposal and its decision."""
    return service.proposal_public(service.get_proposal(session, actor, review_id))


add_decision_routes(
    router,
    noun="proposal",
    response_model=MetadataReviewPublic,
    approve=service.approve_proposal,
    reject=service.reject_proposal,
    public=service.proposal_public,
    approve_doc="Approve: the changes are applied atomically (stewards of the owner).",
    reject_doc="Reject, with a comment saying what to fix (stewards of the owner).",
)
