"""Dataset versions in the catalogue: record an upload, list, publish (the one pointer move)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import Action, Actor, can, require
from beffroi.catalog import audit, reviews
from beffroi.catalog.models import Dataset, DatasetVersion, utcnow
from beffroi.catalog.services import get_dataset
from beffroi.errors import NotFoundError
from beffroi.privacy import flags as privacy_flags


def record_version(
    session: Session,
    actor: Actor,
    dataset: Dataset,
    *,
    upload_id: str,
    store_version: int,
    mode: str,
    row_count: int,
    columns: list[dict[str, Any]],
    profile: list[dict[str, Any]],
    dialect: dict[str, Any],
    source_name: str,
    source_bytes: int,
) -> DatasetVersion:
    """Register a committed store version as the dataset's next (unpublished) version."""
    version = DatasetVersion(
        dataset_id=dataset.id,
        number=store_version + 1,  # store versions count from 0, one per commit
        upload_id=upload_id,
        store_version=store_version,
        mode=mode,
        row_count=row_count,
        columns=columns,
        profile=profile,
        dialect=dialect,
        source_name=source_name,
        source_bytes=source_bytes,
        created_by=actor.label,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor,
        "version.create",
        "dataset",
        dataset.slug,
        {
            "version": version.number,
            "rows": row_count,
            "upload_id": upload_id,
            "source": source_name,
        },
    )
    privacy_flags.suggest(session, actor, dataset, version)  # personal columns (RGPD)
    return version


def list_versions(
    session: Session, actor: Actor, slug: str
) -> tuple[Dataset, list[DatasetVersion]]:
    """A readable dataset and its versions, newest first.

    Readers of the dataset see only the published version and older ones; editors of the
    publisher also see staged (unpublished) versions.
    """
    dataset = get_dataset(session, actor, slug)
    query = (
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset.id)
        .order_by(DatasetVersion.number.desc())
    )
    versions = list(session.scalars(query))
    if not _may_see_unpublished(actor, dataset):
        # Readers see only versions that were published at some point (the current one and
        # those it replaced): a staged version may hold what its editor chose not to publish.
        versions = [v for v in versions if v.published_at is not None]
    return dataset, versions


def get_version(session: Session, actor: Actor, slug: str, number: int) -> DatasetVersion:
    """One version of a readable dataset (unpublished ones only for its editors)."""
    _dataset, versions = list_versions(session, actor, slug)
    for version in versions:
        if version.number == number:
            return version
    raise NotFoundError(
        f"Version {number} introuvable pour le jeu de données {slug}",
        hint=f"la liste des versions est sur /api/v1/datasets/{slug}/versions",
    )


def publish_version(session: Session, actor: Actor, slug: str, number: int) -> DatasetVersion:
    """Make a version the published one (also an older one: rollback), in one transaction.

    Where the publisher requires review and the actor is no steward of it, records a
    pending review instead (see :mod:`beffroi.catalog.reviews`) and leaves the version
    unpublished: callers tell the two apart with :func:`reviews.pending_review`."""
    dataset = get_dataset(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    version = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.number == number
        )
    )
    if version is None:
        raise NotFoundError(
            f"Version {number} introuvable pour le jeu de données {slug}",
            hint=f"`beffroi version list {slug}` liste les versions",
        )
    if reviews.needs_review(session, actor, dataset):
        # Review required and the actor is no steward: a pending request, nothing moves.
        reviews.request_review(session, actor, dataset, version)
        return version
    previous = dataset.published_version.number if dataset.published_version else None
    dataset.published_version = version
    if version.published_at is None:
        version.published_at = utcnow()
    dataset.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "version.publish",
        "dataset",
        dataset.slug,
        {"version": number, "previous": previous},
    )
    from beffroi.indicators.stale import mark_sources_changed  # noqa: PLC0415 - issue 9

    mark_sources_changed(session, dataset)  # its indicators are recomputed before next read
    from beffroi.crossings.refresh import queue_dependents  # noqa: PLC0415 - issue 5

    queue_dependents(session, dataset)  # views reading it are recomputed (jobs)
    return version


def _may_see_unpublished(actor: Actor, dataset: Dataset) -> bool:
    return can(actor, Action.DATASET_UPDATE, dataset.publisher_id)
