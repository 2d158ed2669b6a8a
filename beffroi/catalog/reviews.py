"""Publication review: in organisations that require it, an editor's publication waits
for a steward's decision.

Platform administrators set, per organisation, whether review is required
(:func:`set_review_required`). There, :func:`beffroi.catalog.versions.publish_version`
called by an actor below ``steward`` of the publisher records a pending
:class:`PublicationReview` instead of moving the published pointer; a steward of the
publisher approves it (the version is published in the same transaction) or rejects it
with a comment. Every request and decision stays in the table (history) and in the
audit log.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from beffroi.access import Action, Actor, can, require
from beffroi.access.policy import not_found
from beffroi.catalog import audit
from beffroi.catalog.models import (
    Dataset,
    DatasetVersion,
    Organization,
    OrganizationSetting,
    PublicationReview,
    utcnow,
)
from beffroi.errors import ConflictError, InvalidInputError

SelectT = TypeVar("SelectT", bound=Select[Any])


class ReviewStatus(enum.StrEnum):
    """Where a publication request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ReviewPublic(BaseModel):
    """A publication request and its decision."""

    id: int
    dataset: str
    version: int
    status: ReviewStatus
    requested_by: str
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    comment: str


class GovernancePublic(BaseModel):
    """Governance settings of an organisation."""

    organization: str
    review_required: bool


def review_required(session: Session, organization_id: int) -> bool:
    """Whether publications of this organisation's datasets need a steward's approval."""
    setting = session.get(OrganizationSetting, organization_id)
    return bool(setting and setting.review_required)


def set_review_required(
    session: Session, actor: Actor, organization: Organization, required: bool
) -> OrganizationSetting:
    """Require (or stop requiring) review in an organisation (platform administrators)."""
    require(actor, Action.ORG_GOVERNANCE)
    setting = session.get(OrganizationSetting, organization.id)
    before = bool(setting and setting.review_required)
    if setting is None:
        setting = OrganizationSetting(organization_id=organization.id)
        session.add(setting)
    setting.review_required = required
    setting.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "organization.review_required",
        "organization",
        organization.slug,
        {"before": before, "after": required},
    )
    return setting


def governance_public(session: Session, organization: Organization) -> GovernancePublic:
    """The governance settings of an organisation (public knowledge, like organisations)."""
    return GovernancePublic(
        organization=organization.slug,
        review_required=review_required(session, organization.id),
    )


def needs_review(session: Session, actor: Actor, dataset: Dataset) -> bool:
    """Whether a publication by ``actor`` must wait for a steward (the caller may publish)."""
    if can(actor, Action.REVIEW_DECIDE, dataset.publisher_id):
        return False  # stewards, organisation admins and platform administrators
    return review_required(session, dataset.publisher_id)


def request_review(
    session: Session, actor: Actor, dataset: Dataset, version: DatasetVersion
) -> PublicationReview:
    """A pending review of ``version`` (the existing one if already requested)."""
    existing = pending_review(session, version)
    if existing is not None:
        return existing
    review = PublicationReview(
        dataset_id=dataset.id,
        version_id=version.id,
        status=ReviewStatus.PENDING.value,
        requested_by=actor.label,
        requested_by_user_id=actor.user_id,
        requested_at=utcnow(),
        comment="",
    )
    session.add(review)
    session.flush()
    audit.record(
        session,
        actor,
        "review.request",
        "dataset",
        dataset.slug,
        {"review": review.id, "version": version.number},
    )
    return review


def pending_review(session: Session, version: DatasetVersion) -> PublicationReview | None:
    """The pending review of a version, if any."""
    return session.scalar(
        select(PublicationReview).where(
            PublicationReview.version_id == version.id,
            PublicationReview.status == ReviewStatus.PENDING.value,
        )
    )


def reviewing_organizations(actor: Actor) -> list[int]:
    """The organisations whose reviews the actor decides (all: platform administrators)."""
    return sorted(org for org in actor.roles if can(actor, Action.REVIEW_DECIDE, org))


def decided_by(actor: Actor, dataset_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """Requests (by their ``dataset_id`` column) the actor decides on: those on datasets of
    the organisations it reviews for (all of them: platform administrators)."""
    if actor.is_platform_admin:
        return dataset_id.is_not(None)
    return dataset_id.in_(
        select(Dataset.id).where(Dataset.publisher_id.in_(reviewing_organizations(actor)))
    )


def narrowed(
    query: SelectT,
    status_column: InstrumentedAttribute[str],
    status: ReviewStatus | None,
    dataset: str | None,
) -> SelectT:
    """A list of requests (joined to their dataset) kept to one status and one dataset's
    slug (``None``: all)."""
    if status is not None:
        query = query.where(status_column == status.value)
    if dataset is not None:
        query = query.where(Dataset.slug == dataset)
    return query


def _visible_reviews(actor: Actor) -> ColumnElement[bool]:
    """Reviews the actor may see: those of organisations it reviews for, and its own."""
    conditions = [decided_by(actor, PublicationReview.dataset_id)]
    if actor.user_id is not None:
        conditions.append(PublicationReview.requested_by_user_id == actor.user_id)
    return or_(*conditions)


def list_reviews(
    session: Session,
    actor: Actor,
    *,
    status: ReviewStatus | None = ReviewStatus.PENDING,
    dataset: str | None = None,
) -> list[PublicationReview]:
    """Reviews the actor may see, oldest first (pending by default; ``None``: all)."""
    require_signed_in(actor)
    query = select(PublicationReview).join(Dataset).where(_visible_reviews(actor))
    query = narrowed(query, PublicationReview.status, status, dataset)
    return list(session.scalars(query.order_by(PublicationReview.id)))


def require_signed_in(actor: Actor) -> None:
    """Reviews are for signed-in actors (401 otherwise)."""
    if not actor.is_authenticated:
        require(actor, Action.REVIEW_DECIDE)  # raises AuthenticationError


def get_review(session: Session, actor: Actor, review_id: int) -> PublicationReview:
    """One review the actor may see (404 otherwise)."""
    require_signed_in(actor)
    found = session.scalar(
        select(PublicationReview).where(PublicationReview.id == review_id, _visible_reviews(actor))
    )
    if found is None:
        raise not_found("Demande de publication", str(review_id))
    return found


class Decidable(Protocol):
    """What a steward decides on: a version publication or a metadata change."""

    id: int
    status: str
    decided_by: str | None
    decided_at: dt.datetime | None
    comment: str
    dataset: Dataset


def record_decision(
    session: Session,
    actor: Actor,
    review: Decidable,
    status: ReviewStatus,
    comment: str,
    *,
    pending_url: str,
    event: str,
    details: dict[str, Any],
) -> None:
    """Decide a pending request (stewards of the dataset's publisher): who, when, why, and
    the audit event ``<event>.approve`` or ``<event>.reject`` with ``details``. A request
    already decided is a conflict that names where the pending ones are listed."""
    require(actor, Action.REVIEW_DECIDE, review.dataset.publisher_id)
    if review.status != ReviewStatus.PENDING.value:
        raise ConflictError(
            f"La demande {review.id} a déjà été traitée ({review.status})",
            hint=f"la liste des demandes en attente : GET {pending_url}",
            message_en=f"Request {review.id} was already decided ({review.status})",
            hint_en=f"pending requests: GET {pending_url}",
        )
    review.status = status.value
    review.decided_by = actor.label
    review.decided_at = utcnow()
    review.comment = comment
    session.flush()
    audit.record(
        session,
        actor,
        f"{event}.{'approve' if status is ReviewStatus.APPROVED else 'reject'}",
        "dataset",
        review.dataset.slug,
        {"review": review.id, **details, "comment": comment},
    )


def require_reason(comment: str) -> str:
    """A rejection's comment without surrounding blanks; a blank one is refused."""
    if not comment.strip():
        raise InvalidInputError(
            "Un refus doit être motivé",
            hint="ajoutez un commentaire qui dit quoi corriger",
            message_en="A rejection needs a reason",
            hint_en="add a comment saying what to fix",
        )
    return comment.strip()


def decision_fields(review: Decidable) -> dict[str, Any]:
    """What every request's API view shows of its decision."""
    return {
        "status": ReviewStatus(review.status),
        "decided_by": review.decided_by,
        "decided_at": review.decided_at,
        "comment": review.comment,
    }


def _decide(
    session: Session, actor: Actor, review_id: int, status: ReviewStatus, comment: str
) -> PublicationReview:
    review = get_review(session, actor, review_id)
    record_decision(
        session,
        actor,
        review,
        status,
        comment,
        pending_url="/api/v1/reviews",
        event="review",
        details={"version": review.version.number},
    )
    return review


def approve_review(
    session: Session, actor: Actor, review_id: int, comment: str = ""
) -> PublicationReview:
    """Approve a request: the version is published in the same transaction."""
    from beffroi.catalog.versions import publish_version  # noqa: PLC0415 - versions imports us

    review = _decide(session, actor, review_id, ReviewStatus.APPROVED, comment.strip())
    publish_version(session, actor, review.dataset.slug, review.version.number)
    return review


def reject_review(
    session: Session, actor: Actor, review_id: int, comment: str
) -> PublicationReview:
    """Reject a request, saying why (the comment is required)."""
    return _decide(session, actor, review_id, ReviewStatus.REJECTED, require_reason(comment))


def review_public(review: PublicationReview) -> ReviewPublic:
    """The API view of a review."""
    return ReviewPublic(
        id=review.id,
        dataset=review.dataset.slug,
        version=review.version.number,
        requested_by=review.requested_by,
        requested_at=review.requested_at,
        **decision_fields(review),
    )


__all__ = [
    "GovernancePublic",
    "ReviewPublic",
    "ReviewStatus",
    "approve_review",
    "decided_by",
    "decision_fields",
    "get_review",
    "list_reviews",
    "narrowed",
    "needs_review",
    "pending_review",
    "record_decision",
    "reject_review",
    "request_review",
    "require_reason",
    "require_signed_in",
    "review_public",
    "review_required",
    "reviewing_organizations",
    "set_review_required",
]
