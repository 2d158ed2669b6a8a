"""SQL of the grants made by sharing agreements in force (used by the policy)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Select, and_, select

from beffroi.access import clock
from beffroi.access.actors import Actor
from beffroi.catalog.models import (
    AgreementStatus,
    SharingAgreement,
    agreement_dataset,
    agreement_grantee,
)


def in_force_clause(moment: dt.datetime) -> ColumnElement[bool]:
    """SQL: the agreement is active, started and not ended at ``moment``."""
    return and_(
        SharingAgreement.status == AgreementStatus.ACTIVE.value,
        SharingAgreement.starts_at <= moment,
        SharingAgreement.ends_at > moment,
    )


def granted_dataset_ids(actor: Actor, dataset_id: int | None = None) -> Select[tuple[int]]:
    """SQL: ids of the datasets opened to the actor by agreements in force now (only
    ``dataset_id``, when given)."""
    query = (
        select(agreement_dataset.c.dataset_id)
        .join(SharingAgreement, SharingAgreement.id == agreement_dataset.c.agreement_id)
        .join(agreement_grantee, agreement_grantee.c.agreement_id == SharingAgreement.id)
        .where(
            agreement_grantee.c.organization_id.in_(sorted(actor.roles)),
            in_force_clause(clock.now()),
        )
    )
    if dataset_id is not None:
        query = query.where(agreement_dataset.c.dataset_id == dataset_id)
    return query


__all__ = ["granted_dataset_ids", "in_force_clause"]
