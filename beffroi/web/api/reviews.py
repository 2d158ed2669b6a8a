"""Publication reviews: pending requests for stewards, approve, reject; review settings."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from beffroi.catalog import reviews as service
from beffroi.catalog import services
from beffroi.catalog.reviews import GovernancePublic, ReviewPublic, ReviewStatus
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.api.decisions import (
    DatasetFilter,
    StatusFilter,
    add_decision_routes,
    chosen_status,
)
from beffroi.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/reviews", tags=["reviews"], responses=ERROR_RESPONSES)


class GovernanceUpdate(BaseModel):
    """Whether publications of the organisation need a steward's approval."""

    review_required: bool


@router.get("", response_model=list[ReviewPublic])
def list_reviews(
    session: SessionDep,
    actor: ActorDep,
    status: StatusFilter = ReviewStatus.PENDING,
    dataset: DatasetFilter = None,
) -> list[ReviewPublic]:
    """Requests the caller decides on (stewards) or made (editors), oldest first."""
    found = service.list_reviews(session, actor, status=chosen_status(status), dataset=dataset)
    return [service.review_public(r) for r in found]


@router.get("/organizations/{slug}", response_model=GovernancePublic)
def show_governance(slug: str, session: SessionDep) -> GovernancePublic:
    """Whether an organisation requires review (public knowledge, like organisations)."""
    return service.governance_public(session, services.get_organization(session, slug))


@router.put("/organizations/{slug}", response_model=GovernancePublic)
def update_governance(
    slug: str, body: GovernanceUpdate, session: SessionDep, actor: ActorDep
) -> GovernancePublic:
    """Require review in an organisation, or stop requiring it (platform administrators)."""
    organization = services.get_organization(session, slug)
    service.set_review_required(session, actor, organization, body.review_required)
    session.commit()
    return service.governance_public(session, organization)


@router.get("/{review_id}", response_model=ReviewPublic)
def show_review(review_id: int, session: SessionDep, actor: ActorDep) -> ReviewPublic:
    """One request and its decision."""
    return service.review_public(service.get_review(session, actor, review_id))


add_decision_routes(
    router,
    noun="review",
    response_model=ReviewPublic,
    approve=service.approve_review,
    reject=service.reject_review,
    public=service.review_public,
    approve_doc="Approve: the version is published atomically (stewards of the publisher).",
    reject_doc="Reject, with a comment saying what to fix (stewards of the publisher).",
)
