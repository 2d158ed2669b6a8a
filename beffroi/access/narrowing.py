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


def narrow(session: Session, actor: Actor, table: T) -> T:
    """``table`` with the row filter and column subset ``actor`` is held to."""
    if actor.is_platform_admin:
        return table
    dataset = session.get(Dataset, table.dataset_id)
    if dataset is None or is_insider(actor, dataset):
        return table
    version = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.number == table.version
        )
    )
    names = [str(c.get("name")) for c in (version.columns if version else [])]
    hidden = personal_columns(session, dataset.id)
    allowed: list[str] = names
    row_filter: str | None = None
    if not level_opens(actor, dataset):
        grants = agreements_in_force(session, actor, dataset.id)
        if not grants:
            return dataclasses.replace(table, row_filter="FALSE", columns=())  # type: ignore[type-var]
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
        _log_reads(session, actor, dataset, table.version, version, [a for a, _ in grants])
    visible = [n for n in allowed if n not in hidden]
    columns = None if visible == names else tuple(visible)
    privacy = session.get(DatasetPrivacy, dataset.id)
    cell = privacy.min_cell_size if privacy else None
    if row_filter is None and columns is None and cell is None:
        return table
    return dataclasses.replace(  # type: ignore[type-var]
        table, row_filter=row_filter, columns=columns, min_cell_size=cell
    )


def _log_reads(
    session: Session,
    actor: Actor,
    dataset: Dataset,
    number: int,
    version: DatasetVersion | None,
    agreements: list[SharingAgreement],
) -> None:
    """One ``agreement.read`` audit event per agreement, kept even if the request rolls back."""
    for agreement in agreements:
        details: dict[str, Any] = {
            "dataset": dataset.slug,
            "version": number,
            "agreement": agreement.id,
            "rows_stored": version.row_count if version else None,
        }
        bind = session.get_bind()
        if isinstance(bind, Connection):
            # The session runs inside a caller's transaction (tests, scripts): log in it.
            audit.record(session, actor, "agreement.read", "dataset", dataset.slug, details)
            continue
        with bind.begin() as connection:
            connection.execute(
                insert(AuditEvent).values(
                    at=clock.now(),
                    actor=actor.label,
                    actor_user_id=actor.user_id,
                    action="agreement.read",
                    object_type="dataset",
                    object_id=dataset.slug,
                    surface=actor.surface,
                    details=details,
                )
            )


__all__ = ["hiding_clause", "is_insider", "level_opens", "narrow", "personal_columns"]
