"""Review of metadata changes: in organisations that require review, an editor's change of a
dataset's metadata waits for a steward's decision.

:func:`change_metadata` is the one entry point of the metadata form (and of the
``/api/v1/metadata-reviews`` API): it keeps only the fields whose value really changes, then

- applies them at once when the actor decides reviews for the owner (stewards, organisation
  administrators, platform administrators) or when the owner does not require review;
- otherwise stores them as a pending :class:`MetadataReview` (the proposed values and the
  values they replace), applied only when a steward approves it (:func:`approve_proposal`).

A proposal is refused at approval if one of its fields changed since it was made (the steward
would overwrite a newer value without seeing it). Decided proposals stay in the table
(history) and every step is in the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from beffroi.access import Action, Actor, can, require
from beffroi.access.policy import not_found
from beffroi.catalog import audit, services
from beffroi.catalog.models import (
    Dataset,
    MetadataReview,
    PublicationReview,
    VersionConformance,
    utcnow,
)
from beffroi.catalog.reviews import (
    ReviewStatus,
    decided_by,
    decision_fields,
    narrowed,
    needs_review,
    record_decision,
    require_reason,
    require_signed_in,
    reviewing_organizations,
)
from beffroi.catalog.schemas import DatasetUpdate
from beffroi.errors import ConflictError, InvalidInputError, PermissionDeniedError
from beffroi.publish.check import Readiness, check_dataset

#: Metadata fields the form edits and a proposal may change (the slug is never proposed:
#: identifiers are stable).
FIELDS: Final = (
    "title",
    "description",
    "keywords",
    "themes",
    "license",
    "frequency",
    "spatial",
    "spatial_granularity",
    "temporal_start",
    "temporal_end",
    "contact_name",
    "contact_email",
    "access_level",
    "schema_ref",
    "hvd_category",
    "applicable_legislation",
)


class MetadataReviewPublic(BaseModel):
    """A proposed metadata change and its decision."""

    id: int
    kind: str = "metadata"
    dataset: str
    status: ReviewStatus
    changes: dict[str, Any]
    before: dict[str, Any]
    proposed_by: str
    proposed_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    comment: str


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What :func:`change_metadata` did: applied, proposed for review, or nothing."""

    dataset: Dataset
    changed: dict[str, Any]
    review: MetadataReview | None = None

    @property
    def applied(self) -> bool:
        """The change is in the catalogue now."""
        return bool(self.changed) and self.review is None


def _json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def current_values(dataset: Dataset) -> dict[str, Any]:
    """The dataset's editable metadata, as JSON values."""
    return {name: _json(getattr(dataset, name)) for name in FIELDS}


def _differences(dataset: Dataset, data: DatasetUpdate) -> dict[str, Any]:
    asked = data.model_dump(exclude_unset=True, mode="json")
    now = current_values(dataset)
    return {k: v for k, v in asked.items() if k in FIELDS and v != now[k]}


def change_metadata(
    session: Session, actor: Actor, slug: str, data: DatasetUpdate
) -> ChangeOutcome:
    """Apply a metadata change, or propose it when the owner requires review (editors)."""
    dataset = services.get_dataset(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    if data.slug is not None and data.slug != dataset.slug:
        raise InvalidInputError(
            "L'identifiant d'un jeu de données ne se change pas par ce formulaire",
            hint="renommez-le par l'API (PATCH /api/v1/datasets/<slug>) : une redirection "
            "est gardée",
            message_en="A dataset's identifier is not changed through this form",
            hint_en="rename it with the API (PATCH /api/v1/datasets/<slug>): a redirect is kept",
        )
    changes = _differences(dataset, data)
    if not changes:
        return ChangeOutcome(dataset, {})
    if not needs_review(session, actor, dataset):
        services.update_dataset(session, actor, dataset.slug, DatasetUpdate.model_validate(changes))
        return ChangeOutcome(dataset, changes)
    now = current_values(dataset)
    review = MetadataReview(
        dataset_id=dataset.id,
        status=ReviewStatus.PENDING.value,
        changes=changes,
        before={k: now[k] for k in changes},
        proposed_by=actor.label,
        proposed_by_user_id=actor.user_id,
        proposed_at=utcnow(),
        comment="",
    )
    session.add(review)
    session.flush()
    audit.record(
        session,
        actor,
        "metadata_review.propose",
        "dataset",
        dataset.slug,
        {"review": review.id, "fields": sorted(changes)},
    )
    return ChangeOutcome(dataset, changes, review)


def update_or_propose(
    session: Session, actor: Actor, slug: str, data: DatasetUpdate
) -> ChangeOutcome:
    """The API's metadata update: applied at once, or a proposal where review is required.

    Stewards (and organisations without review) change everything, the slug included (a
    redirect is kept); an editor of an organisation that requires review proposes the
    change, and may not rename the dataset.
    """
    dataset = services.get_dataset(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    if not needs_review(session, actor, dataset):
        asked = data.model_dump(exclude_unset=True, mode="json")
        updated = services.update_dataset(session, actor, slug, data)
        return ChangeOutcome(updated, asked)
    if data.slug is not None and data.slug != dataset.slug:
        raise PermissionDeniedError(
            "Seul un référent qui relit les publications peut renommer ce jeu de données",
            hint="demandez le renommage à un référent de l'organisation ; les autres "
            "changements sont proposés à sa relecture",
            message_en="Only a steward who reviews publications may rename this dataset",
            hint_en="ask a steward of the organisation to rename it; other changes are "
            "proposed for review",
        )
    return change_metadata(session, actor, dataset.slug, data)


def is_reviewer(actor: Actor) -> bool:
    """Whether the actor decides reviews anywhere (the review queue page is theirs)."""
    return actor.is_authenticated and (
        actor.is_platform_admin or bool(reviewing_organizations(actor))
    )


def _decided_here(actor: Actor) -> ColumnElement[bool]:
    return decided_by(actor, MetadataReview.dataset_id)


def _visible(actor: Actor) -> ColumnElement[bool]:
    """Proposals the actor may see: those it decides on, and its own."""
    conditions = [_decided_here(actor)]
    if actor.user_id is not None:
        conditions.append(MetadataReview.proposed_by_user_id == actor.user_id)
    return or_(*conditions)


def list_proposals(
    session: Session,
    actor: Actor,
    *,
    status: ReviewStatus | None = ReviewStatus.PENDING,
    dataset: str | None = None,
    deciding_only: bool = False,
) -> list[MetadataReview]:
    """Proposals the actor may see, oldest first (pending by default; ``None``: all);
    ``deciding_only``: only those it decides on."""
    require_signed_in(actor)
    visible = _decided_here(actor) if deciding_only else _visible(actor)
    query = select(MetadataReview).join(Dataset).where(visible, Dataset.deleted_at.is_(None))
    query = narrowed(query, MetadataReview.status, status, dataset)
    return list(session.scalars(query.order_by(MetadataReview.id)))


def get_proposal(session: Session, actor: Actor, review_id: int) -> MetadataReview:
    """One proposal the actor may see (404 otherwise)."""
    require_signed_in(actor)
    found = session.scalar(
        select(MetadataReview).where(MetadataReview.id == review_id, _visible(actor))
    )
    if found is None:
        raise not_found("Proposition de modification", str(review_id))
    return found


def _decide(
    session: Session, actor: Actor, review_id: int, status: ReviewStatus, comment: str
) -> MetadataReview:
    review = get_proposal(session, actor, review_id)
    record_decision(
        session,
        actor,
        review,
        status,
        comment,
        pending_url="/api/v1/metadata-reviews",
        event="metadata_review",
        details={"fields": sorted(review.changes)},
    )
    return review


def approve_proposal(
    session: Session, actor: Actor, review_id: int, comment: str = ""
) -> MetadataReview:
    """Approve a proposal: its changes are applied in the same transaction."""
    review = get_proposal(session, actor, review_id)
    now = current_values(review.dataset)
    stale = sorted(k for k, v in review.before.items() if now.get(k) != v)
    if stale and review.status == ReviewStatus.PENDING.value:
        raise ConflictError(
            f"La fiche a changé depuis la proposition {review.id} : {', '.join(stale)}",
            hint="refusez cette proposition et demandez-en une nouvelle sur la fiche à jour",
            message_en=f"The record changed since proposal {review.id}: {', '.join(stale)}",
            hint_en="reject this proposal and ask for a new one on the current record",
        )
    review = _decide(session, actor, review_id, ReviewStatus.APPROVED, comment.strip())
    services.update_dataset(
        session, actor, review.dataset.slug, DatasetUpdate.model_validate(review.changes)
    )
    return review


def reject_proposal(session: Session, actor: Actor, review_id: int, comment: str) -> MetadataReview:
    """Reject a proposal, saying why (the comment is required)."""
    return _decide(session, actor, review_id, ReviewStatus.REJECTED, require_reason(comment))


def pending_count(session: Session, actor: Actor) -> int:
    """Pending requests the actor decides on: versions and metadata changes (header badge)."""
    if not is_reviewer(actor):
        return 0
    pending = ReviewStatus.PENDING.value
    versions = session.scalar(
        select(func.count(PublicationReview.id)).where(
            PublicationReview.status == pending,
            decided_by(actor, PublicationReview.dataset_id),
        )
    )
    metadata = session.scalar(
        select(func.count(MetadataReview.id)).where(
            MetadataReview.status == pending, _decided_here(actor)
        )
    )
    return int(versions or 0) + int(metadata or 0)


@dataclass(frozen=True, slots=True)
class VersionItem:
    """A version publication request as the review queue shows it."""

    review: PublicationReview
    rows: int
    published_rows: int | None  # the version online now, if any
    published_number: int | None
    conformance: VersionConformance | None
    decides: bool


@dataclass(frozen=True, slots=True)
class MetadataItem:
    """A metadata proposal as the review queue shows it."""

    review: MetadataReview
    decides: bool


@dataclass(slots=True)
class ReviewQueue:
    """A steward's review queue: pending requests, then decided ones (latest first)."""

    versions: list[VersionItem] = field(default_factory=list)
    metadata: list[MetadataItem] = field(default_factory=list)
    decided_versions: list[PublicationReview] = field(default_factory=list)
    decided_metadata: list[MetadataReview] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """How many requests wait for a decision."""
        return len(self.versions) + len(self.metadata)


def review_queue(session: Session, actor: Actor, history: int = 50) -> ReviewQueue:
    """The pending requests of the organisations the actor reviews for, with what they change,
    and the ``history`` latest decisions (404 for actors who review nowhere)."""
    if not is_reviewer(actor):
        raise not_found("Page", "/relecture")
    decider = decided_by(actor, PublicationReview.dataset_id)
    alive = Dataset.deleted_at.is_(None)
    queue = ReviewQueue()
    pending = session.scalars(
        select(PublicationReview)
        .join(Dataset, PublicationReview.dataset_id == Dataset.id)
        .where(decider, alive, PublicationReview.status == ReviewStatus.PENDING.value)
        .order_by(PublicationReview.id)
    )
    for review in pending:
        online = review.dataset.published_version
        queue.versions.append(
            VersionItem(
                review=review,
                rows=review.version.row_count,
                published_rows=online.row_count if online else None,
                published_number=online.number if online else None,
                conformance=session.get(VersionConformance, review.version_id),
                decides=can(actor, Action.REVIEW_DECIDE, review.dataset.publisher_id),
            )
        )
    queue.metadata = [
        MetadataItem(review, can(actor, Action.REVIEW_DECIDE, review.dataset.publisher_id))
        for review in list_proposals(session, actor, deciding_only=True)
    ]
    queue.decided_versions = list(
        session.scalars(
            select(PublicationReview)
            .join(Dataset, PublicationReview.dataset_id == Dataset.id)
            .where(decider, alive, PublicationReview.status != ReviewStatus.PENDING.value)
            .order_by(PublicationReview.decided_at.desc(), PublicationReview.id.desc())
            .limit(history)
        )
    )
    queue.decided_metadata = list(
        session.scalars(
            select(MetadataReview)
            .join(Dataset)
            .where(_decided_here(actor), alive, MetadataReview.status != ReviewStatus.PENDING.value)
            .order_by(MetadataReview.decided_at.desc(), MetadataReview.id.desc())
            .limit(history)
        )
    )
    return queue


def readiness(session: Session, dataset: Dataset) -> Readiness:
    """The data.gouv.fr quality checklist of a dataset (``beffroi publish check``'s checks)."""
    verdict = (
        session.get(VersionConformance, dataset.published_version_id)
        if dataset.published_version_id
        else None
    )
    return check_dataset(dataset, conformance=verdict)


def proposal_public(review: MetadataReview) -> MetadataReviewPublic:
    """The API view of a proposal."""
    return MetadataReviewPublic(
        id=review.id,
        dataset=review.dataset.slug,
        changes=review.changes,
        before=review.before,
        proposed_by=review.proposed_by,
        proposed_at=review.proposed_at,
        **decision_fields(review),
    )


__all__ = [
    "FIELDS",
    "ChangeOutcome",
    "MetadataItem",
    "MetadataReviewPublic",
    "ReviewQueue",
    "VersionItem",
    "approve_proposal",
    "change_metadata",
    "current_values",
    "get_proposal",
    "is_reviewer",
    "list_proposals",
    "pending_count",
    "proposal_public",
    "readiness",
    "reject_proposal",
    "review_queue",
    "reviewing_organizations",
]
