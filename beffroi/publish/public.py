"""The public datasets of the instance, as the anonymous actor may read them.

The DCAT catalogue, the CKAN API and the readiness check list exactly these: the access layer
(:func:`beffroi.access.readable_datasets` for :meth:`Actor.anonymous`) decides, never this
module. Datasets are ordered by their immutable id so that pages stay stable.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from beffroi.access import Actor, readable_datasets
from beffroi.access.policy import not_found
from beffroi.catalog.models import Dataset, Organization, OrgKind
from beffroi.catalog.services import resolve_dataset

SURFACE = "publish"
_KEY = re.compile(r"^ds-(\d{1,18})$")


def anonymous() -> Actor:
    """The actor every open-data surface reads as."""
    return Actor.anonymous(surface=SURFACE)


def count_public(session: Session) -> int:
    """How many datasets the anonymous actor may read."""
    query = select(func.count()).select_from(Dataset).where(readable_datasets(anonymous()))
    return session.scalar(query) or 0


def public_datasets(
    session: Session, *, offset: int = 0, limit: int | None = None
) -> list[Dataset]:
    """Public datasets by id, with their publisher and published version loaded."""
    query = (
        select(Dataset)
        .where(readable_datasets(anonymous()))
        .options(selectinload(Dataset.publisher), selectinload(Dataset.published_version))
        .order_by(Dataset.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def public_slugs(session: Session) -> list[str]:
    """Slugs of the public datasets, by id (no object loaded)."""
    query = select(Dataset.slug).where(readable_datasets(anonymous())).order_by(Dataset.id)
    return list(session.scalars(query))


def public_dataset_by_key(session: Session, key: str) -> Dataset:
    """A public dataset by its store key (``ds-<id>``), by its current or a former slug, or
    a NotFoundError."""
    match = _KEY.match(key)
    if match is None:
        return resolve_dataset(session, anonymous(), key)[0]
    dataset = session.scalar(
        select(Dataset)
        .where(Dataset.id == int(match.group(1)), readable_datasets(anonymous()))
        .options(selectinload(Dataset.publisher), selectinload(Dataset.published_version))
    )
    if dataset is None:
        raise not_found("Jeu de données", key)
    return dataset


def platform_epci(session: Session) -> Organization | None:
    """The EPCI running the platform (the first top-level organisation of kind ``epci``)."""
    return session.scalar(
        select(Organization)
        .where(Organization.kind == OrgKind.EPCI.value, Organization.parent_id.is_(None))
        .order_by(Organization.id)
        .limit(1)
    )
