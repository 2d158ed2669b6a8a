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

Decisions are remembered (:mod:`beffroi.access.cache`): a request whose catalogue's access
epoch has not moved since the same actor asked the same question costs one query; reads
through sharing agreements are logged at every request all the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import clock
from beffroi.access.actors import Actor
from beffroi.access.cache import DecisionCache, Entry, isolated, window
from beffroi.access.licences import licence_clause, require_licence
from beffroi.access.narrowing import (  # agreements' rows/columns, personal columns
    AgreementReads,
    agreement_dates,
    decide,
    log_reads,
)
from beffroi.access.policy import Action, can, not_found, readable_datasets
from beffroi.catalog.models import Dataset, DatasetVersion
from beffroi.errors import NotFoundError

V = TypeVar("V")


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


def _table_of(dataset: Dataset, version: DatasetVersion) -> ReadableTable:
    return ReadableTable(
        slug=dataset.slug,
        dataset_id=dataset.id,
        store_key=dataset.store_key,
        store_version=version.store_version,
        version=version.number,
        published=dataset.published_version_id == version.id,
    )


Decided = tuple[ReadableTable, AgreementReads | None]

_tables: DecisionCache[tuple[Decided, ...]] = DecisionCache()
_table: DecisionCache[Decided] = DecisionCache()


def clear_cache() -> None:
    """Forget every remembered decision (tests; never needed for correctness)."""
    _tables.clear()
    _table.clear()


def _entry(session: Session, actor: Actor, value: V, dataset_id: int | None) -> Entry[V]:
    """``value`` with the window in which the agreements' dates leave it true (only actors
    with an organisation are opened anything by an agreement)."""
    if not actor.roles:
        return Entry(value)
    since, until = window(clock.now(), agreement_dates(session, dataset_id))
    return Entry(value, since, until)


def readable_tables(
    session: Session, actor: Actor, *, slugs: Iterable[str] | None = None
) -> list[ReadableTable]:
    """The published versions of every dataset the actor may read (optionally among
    ``slugs``), by slug. Datasets without a published version are left out."""
    wanted = None if slugs is None else tuple(sorted(set(slugs)))
    decided = _tables.get_or_compute(
        session,
        actor,
        (wanted,),
        lambda: isolated(session, lambda fresh: _decide_tables(fresh, actor, wanted)),
    )
    for _, reads in decided:
        log_reads(session, actor, reads)
    return [table for table, _reads in decided]


def _decide_tables(
    session: Session, actor: Actor, slugs: tuple[str, ...] | None
) -> Entry[tuple[Decided, ...]]:
    query = (
        select(Dataset, DatasetVersion)
        .join(DatasetVersion, DatasetVersion.id == Dataset.published_version_id)
        .where(readable_datasets(actor), licence_clause(actor))
        .order_by(Dataset.slug)
    )
    if slugs is not None:
        query = query.where(Dataset.slug.in_(slugs))
    found = [decide(session, actor, _table_of(d, v)) for d, v in session.execute(query)]
    # Aggregate-only tables (minimum cell size) are not offered to SQL: no suppression there.
    kept = tuple((t, reads) for t, reads in found if t.min_cell_size is None)
    return _entry(session, actor, kept, None)


def readable_table(
    session: Session, actor: Actor, slug: str, *, version: int | None = None
) -> ReadableTable:
    """One readable dataset's published version, or version number ``version``.

    A dataset the actor may not read answers exactly like a missing one; so does a
    dataset without a published version (nothing to read yet).
    """
    table, reads = _table.get_or_compute(
        session,
        actor,
        (slug, version),
        lambda: isolated(session, lambda fresh: _decide_table(fresh, actor, slug, version)),
    )
    log_reads(session, actor, reads)
    return table


def _decide_table(session: Session, actor: Actor, slug: str, version: int | None) -> Entry[Decided]:
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
        return _entry(
            session, actor, decide(session, actor, _table_of(dataset, current)), dataset.id
        )
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
    return _entry(session, actor, decide(session, actor, _table_of(dataset, found)), dataset.id)


__all__ = ["ReadableTable", "clear_cache", "readable_table", "readable_tables"]
