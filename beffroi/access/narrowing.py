"""Rows and columns an actor may read of one dataset version (agreements, personal data).

:mod:`beffroi.access.reading` hands every table it grants through :func:`narrow`:

* platform administrators, the local operator and members of the owner read everything;
* other readers never see columns flagged personal (confirmed, or suggested with a high
  confidence: :func:`hiding_clause`; see :mod:`beffroi.privacy.flags`);
* a reader to whom only sharing agreements open the dataset reads the rows of their row
  filters (OR across several agreements) and the columns of their column subsets
  (intersection across several: never more than each agreement grants), and each such
  read is written to the audit log (``agreement.read``) in a transaction of its own, so
  that read-only requests, which roll back, keep it;
* for a dataset with a minimum cell size (statistical secrecy), other readers get the table
  with ``min_cell_size`` set: the records API leaves out groups and facet values of fewer
  rows, and SQL does not see the table at all (arbitrary SQL cannot be suppressed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Connection, and_, insert, or_, select
from sqlalchemy.orm import Session

from beffroi.access import clock
from beffroi.access.actors import Actor
from beffroi.access.agreements import agreements_in_force
from beffroi.access.rowfilter import columns_of, compile_filter, conditions
from beffroi.catalog import audit
from beffroi.catalog.models import (
    AccessLevel,
    AuditEvent,
    ColumnFlag,
    Dataset,
    DatasetPrivacy,
    DatasetVersion,
    SharingAgreement,
    agreement_dataset,
)
from beffroi.errors import InvalidInputError
from beffroi.privacy.detect import HIDE_CONFIDENCE

FLAG_CONFIRMED = "confirmed"
FLAG_SUGGESTED = "suggested"


class _Table(Protocol):
    @property
    def dataset_id(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def row_filter(self) -> str | None: ...
    @property
    def columns(self) -> tuple[str, ...] | None: ...
    @property
    def min_cell_size(self) -> int | None: ...


T = TypeVar("T", bound=_Table)


def hiding_clause() -> ColumnElement[bool]:
    """SQL: the flag hides its column — confirmed by the référent, or suggested by detection
    with a confidence of at least :data:`beffroi.privacy.detect.HIDE_CONFIDENCE`."""
    return or_(
        ColumnFlag.status == FLAG_CONFIRMED,
        and_(ColumnFlag.status == FLAG_SUGGESTED, ColumnFlag.confidence >= HIDE_CONFIDENCE),
    )


def personal_columns(session: Session, dataset_id: int) -> set[str]:
    """Columns of a dataset hidden as personal from readers outside the owner."""
    return set(
        session.scalars(
            select(ColumnFlag.column_name).where(
                ColumnFlag.dataset_id == dataset_id, hiding_clause()
            )
        )
    )


def is_insider(actor: Actor, dataset: Dataset) -> bool:
    """Administrators, the local operator and members of the owner: read everything."""
    return actor.is_platform_admin or dataset.publisher_id in actor.roles


def level_opens(actor: Actor, dataset: Dataset) -> bool:
    """Whether the dataset's access level alone (no agreement) opens it to the actor."""
    level = AccessLevel(dataset.access_level)
    return (
        level is AccessLevel.PUBLIC
        or (level is AccessLevel.REGISTERED and actor.is_authenticated)
        or (level is AccessLevel.INTERNAL and actor.is_territory_member)
        or is_insider(actor, dataset)
    )


def _agreement_filter(agreement: SharingAgreement, communes: set[str], names: set[str]) -> str:
    spec = agreement.row_filter
    if spec is None:
        return "TRUE"
    try:
        conditions(spec)
    except InvalidInputError:
        return "FALSE"  # a stored filter that no longer parses grants nothing
    if not columns_of(spec) <= names:
        return "FALSE"  # the filter's column is gone from this version: fail closed
    return compile_filter(spec, grantee_communes=communes)


@dataclass(frozen=True, slots=True)
class AgreementReads:
    """The reads a decision must log each time it is applied (``agreement.read``)."""

    slug: str
    version: int
    rows_stored: int | None
    agreements: tuple[int, ...]


def narrow(session: Session, actor: Actor, table: T) -> T:
    """``table`` with the row filter and column subset ``actor`` is held to (reads through
    agreements logged)."""
    narrowed, reads = decide(session, actor, table)
    log_reads(session, actor, reads)
    return narrowed


def agreement_dates(session: Session, dataset_id: int | None = None) -> list[dt.datetime]:
    """Start and end dates of the agreements sharing a dataset (any dataset: None): what
    opens or closes it with no write at all (the access cache's decisions hold between two
    of them)."""
    query = select(SharingAgreement.starts_at, SharingAgreement.ends_at)
    if dataset_id is not None:
        query = query.join(
            agreement_dataset, agreement_dataset.c.agreement_id == SharingAgreement.id
        ).where(agreement_dataset.c.dataset_id == dataset_id)
    found = session.execute(query).all()
    return [moment for row in found for moment in row]


def decide(session: Session, actor: Actor, table: T) -> tuple[T, AgreementReads | None]:
    """``table`` narrowed for ``actor``, and the agreement reads to log (none: no log)."""
    if actor.is_platform_admin:
        return table, None
    dataset = session.get(Dataset, table.dataset_id)
    if dataset is None or is_insider(actor, dataset):
        return table, None
    version = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.number == table.version
        )
    )
    names = [str(c.get("name")) for c in (version.columns if version else [])]
    hidden = personal_columns(session, dataset.id)
    allowed: list[str] = names
    row_filter: str | None = None
    reads: AgreementReads | None = None
    if not level_opens(actor, dataset):
        grants = agreements_in_force(session, actor, dataset.id)
        if not grants:
            return dataclasses.replace(table, row_filter="FALSE", columns=()), None  # type: ignore[type-var]
        filters = []
        for agreement, grantees in grants:
            communes = {g.insee_code for g in grantees if g.insee_code}
            filters.append(_agreement_filter(agreement, communes, set(names)))
            if agreement.columns is not None:
                granted = set(agreement.columns)
                allowed = [n for n in allowed if n in granted]
        row_filter = filters[0] if len(filters) == 1 else " OR ".join(f"({f})" for f in filters)
        if row_filter == "TRUE":
            row_filter = None
        reads = AgreementReads(
            slug=dataset.slug,
            version=table.version,
            rows_stored=version.row_count if version else None,
            agreements=tuple(a.id for a, _ in grants),
        )
    visible = [n for n in allowed if n not in hidden]
    columns = None if visible == names else tuple(visible)
    privacy = session.get(DatasetPrivacy, dataset.id)
    cell = privacy.min_cell_size if privacy else None
    if row_filter is None and columns is None and cell is None:
        return table, reads
    narrowed = dataclasses.replace(  # type: ignore[type-var]
        table, row_filter=row_filter, columns=columns, min_cell_size=cell
    )
    return narrowed, reads


def log_reads(session: Session, actor: Actor, reads: AgreementReads | None) -> None:
    """One ``agreement.read`` audit event per agreement, kept even if the request rolls back."""
    if reads is None:
        return
    for agreement_id in reads.agreements:
        details: dict[str, Any] = {
            "dataset": reads.slug,
            "version": reads.version,
            "agreement": agreement_id,
            "rows_stored": reads.rows_stored,
        }
        bind = session.get_bind()
        if isinstance(bind, Connection):
            # The session runs inside a caller's transaction (tests, scripts): log in it.
            audit.record(session, actor, "agreement.read", "dataset", reads.slug, details)
            continue
        with bind.begin() as connection:
            connection.execute(
                insert(AuditEvent).values(
                    at=clock.now(),
                    actor=actor.label,
                    actor_user_id=actor.user_id,
                    action="agreement.read",
                    object_type="dataset",
                    object_id=reads.slug,
                    surface=actor.surface,
                    details=details,
                )
            )


__all__ = [
    "AgreementReads",
    "agreement_dates",
    "decide",
    "hiding_clause",
    "is_insider",
    "level_opens",
    "log_reads",
    "narrow",
    "personal_columns",
]
