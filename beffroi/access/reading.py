"""What an actor may read, down to the stored version: the query engine's one source of truth.

Every query surface (records API, SQL, exports) asks :func:`readable_tables` or
:func:`readable_table` which dataset versions an actor may read, and reads nothing else.
Each :class:`ReadableTable` names the store table and version, and may carry a row filter
(a DuckDB SQL boolean expression) and a column subset: the engine applies both when it
builds the views. This first version grants whole tables (no filter, every column); the
sharing agreements of the access model will fill those two fields in here, and only here.

Licences: the data of a ``registered`` dataset is read only after its licence was accepted
(:mod:`beffroi.access.licences`): SQL does not see it before, the records and exports
answer 403 with how to accept it.

Versions: the published version of each readable dataset; a past version only if it was
published at some point (the history readers already see in ``/versions``), and a staged
(never published) version only for the publisher's editors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access.actors import Actor
from beffroi.access.licences import licence_clause, require_licence
from beffroi.access.narrowing import narrow  # agreements' rows/columns, personal columns
from beffroi.access.policy import Action, can, not_found, readable_datasets
from beffroi.catalog.models import Dataset, DatasetVersion
from beffroi.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class ReadableTable:
    """One dataset version an actor may read, and how much of it."""

    slug: str
    dataset_id: int
    store_key: str
    store_version: int
    version: int  # catalogue version number (1, 2, …)
    published: bool  # True when this is the dataset's current published version
    row_filter: str | None = None
    """DuckDB SQL boolean expression over the table's columns; None: every row."""
    columns: tuple[str, ...] | None = None
    """Columns the actor may see, in order; None: every column."""
    min_cell_size: int | None = None
    """Statistical secrecy for this reader: groups (and facet values) of fewer rows are not
    served, and SQL does not see the table (None: no secrecy). Set by
    :mod:`beffroi.access.narrowing`."""

    @property
    def cache_key(self) -> tuple[object, ...]:
        """What the engine's view of this table depends on (equal keys: same view)."""
        return (
            self.slug,
            self.store_key,
            self.store_version,
            self.version,
            self.published,
            self.row_filter,
            self.columns,
            self.min_cell_size,
        )


def _table(dataset: Dataset, version: DatasetVersion) -> ReadableTable:
    return ReadableTable(
        slug=dataset.slug,
        dataset_id=dataset.id,
        store_key=dataset.store_key,
        store_version=version.store_version,
        version=version.number,
        published=dataset.published_version_id == version.id,
    )


def readable_tables(
    session: Session, actor: Actor, *, slugs: Iterable[str] | None = None
) -> list[ReadableTable]:
    """The published versions of every dataset the actor may read (optionally among
    ``slugs``), by slug. Datasets without a published version are left out."""
    query = (
        select(Dataset, DatasetVersion)
        .join(DatasetVersion, DatasetVersion.id == Dataset.published_version_id)
        .where(readable_datasets(actor), licence_clause(actor))
        .order_by(Dataset.slug)
    )
    if slugs is not None:
        query = query.where(Dataset.slug.in_(sorted(set(slugs))))
    found = [narrow(session, actor, _table(d, v)) for d, v in session.execute(query)]
    # Aggregate-only tables (minimum cell size) are not offered to SQL: no suppression there.
    return [t for t in found if t.min_cell_size is None]


def readable_table(
    session: Session, actor: Actor, slug: str, *, version: int | None = None
) -> ReadableTable:
    """One readable dataset's published version, or version number ``version``.

    A dataset the actor may not read answers exactly like a missing one; so does a
    dataset without a published version (nothing to read yet).
    """
    found_row = session.execute(
        select(Dataset, DatasetVersion)
        .outerjoin(DatasetVersion, DatasetVersion.id == Dataset.published_version_id)
        .where(Dataset.slug == slug, readable_datasets(actor))
    ).first()
    if found_row is None:
        raise not_found("Jeu de données", slug)
    dataset, current = found_row
    require_licence(session, actor, dataset)
    if version is None:
        if current is None:
            raise NotFoundError(
                f"Le jeu de données {slug} n'a pas encore de version publiée",
                hint=f"publiez une version (beffroi version publish {slug} <n>)",
            )
        return narrow(session, actor, _table(dataset, current))
    found = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.number == version
        )
    )
    if found is None or (
        found.published_at is None and not can(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    ):
        raise NotFoundError(
            f"Version {version} introuvable pour le jeu de données {slug}",
            hint=f"la liste des versions est sur /api/v1/datasets/{slug}/versions",
        )
    return narrow(session, actor, _table(dataset, found))


__all__ = ["ReadableTable", "readable_table", "readable_tables"]
