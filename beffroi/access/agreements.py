"""Sharing agreements: an owner opens some of its datasets to grantee organisations.

An agreement is created as a draft by an editor (or stronger) of the owner, approved —
which activates it — by a steward of the owner, and may be suspended, resumed (approved
again) or ended by a steward. Whether it opens anything is decided at read time against
:func:`beffroi.access.clock.now`: active, started, not ended. Suspension and expiry
therefore take effect on the very next read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from beffroi.access import clock
from beffroi.access.actors import Actor
from beffroi.access.grants import in_force_clause
from beffroi.access.policy import Action, can, dataset_visible, not_found, require
from beffroi.access.rowfilter import columns_of, conditions
from beffroi.catalog import audit
from beffroi.catalog.models import (
    AgreementStatus,
    Dataset,
    DatasetVersion,
    Organization,
    SharingAgreement,
    agreement_dataset,
    agreement_grantee,
)
from beffroi.errors import AuthenticationError, ConflictError, InvalidInputError


class AgreementCreate(BaseModel):
    """What a new sharing agreement says."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)
    owner: str = Field(description="Slug of the organisation that owns the datasets.")
    grantees: list[str] = Field(min_length=1, description="Slugs of the grantee organisations.")
    datasets: list[str] = Field(min_length=1, description="Slugs of the datasets shared.")
    purpose: str = Field(min_length=1)
    legal_basis: str = Field(min_length=1, max_length=300)
    row_filter: dict[str, Any] | None = None
    columns: list[str] | None = Field(default=None, description="Column subset; none: all.")
    starts_at: dt.datetime
    ends_at: dt.datetime

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            msg = "date et heure avec fuseau attendues (ex. 2026-01-01T00:00:00Z)"
            raise ValueError(msg)
        return value.astimezone(dt.UTC)

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not c.strip() for c in value)):
            msg = "liste non vide de noms de colonnes attendue (ou aucune : toutes)"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _dates(self) -> AgreementCreate:
        if self.ends_at <= self.starts_at:
            msg = "la date de fin doit suivre la date de début"
            raise ValueError(msg)
        return self


class AgreementPublic(BaseModel):
    """An agreement as its parties see it."""

    id: int
    title: str
    owner: str
    grantees: list[str]
    datasets: list[str]
    purpose: str
    legal_basis: str
    row_filter: dict[str, Any] | None
    columns: list[str] | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: AgreementStatus
    stored_status: AgreementStatus
    in_force: bool
    approver: str | None
    approved_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime


def effective_status(agreement: SharingAgreement, at: dt.datetime | None = None) -> AgreementStatus:
    """The status at ``at`` (default: now): an active agreement past its end is expired."""
    moment = at or clock.now()
    status = AgreementStatus(agreement.status)
    if status is AgreementStatus.ACTIVE and moment >= agreement.ends_at:
        return AgreementStatus.EXPIRED
    return status


def in_force(agreement: SharingAgreement, at: dt.datetime | None = None) -> bool:
    """Whether the agreement opens its datasets at ``at`` (default: now)."""
    moment = at or clock.now()
    return (
        agreement.status == AgreementStatus.ACTIVE.value
        and agreement.starts_at <= moment < agreement.ends_at
    )


def agreements_in_force(
    session: Session, actor: Actor, dataset_id: int
) -> list[tuple[SharingAgreement, list[Organization]]]:
    """Agreements in force now that open ``dataset_id`` to the actor, each with the grantee
    organisations the actor belongs to (oldest agreement first)."""
    if not actor.roles:
        return []
    found = session.scalars(
        select(SharingAgreement)
        .join(agreement_dataset, agreement_dataset.c.agreement_id == SharingAgreement.id)
        .where(
            agreement_dataset.c.dataset_id == dataset_id,
            SharingAgreement.id.in_(
                select(agreement_grantee.c.agreement_id).where(
                    agreement_grantee.c.organization_id.in_(sorted(actor.roles))
                )
            ),
            in_force_clause(clock.now()),
        )
        .order_by(SharingAgreement.id)
    ).all()
    return [(a, [g for g in a.grantees if g.id in actor.roles]) for a in found]


# ---------------------------------------------------------------- services


def _organization(session: Session, slug: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise not_found("Organisation", slug)
    return org


def create_agreement(session: Session, actor: Actor, data: AgreementCreate) -> SharingAgreement:
    """A new agreement, as a draft (editors of the owner and stronger)."""
    owner = _organization(session, data.owner)
    require(actor, Action.AGREEMENT_CREATE, owner.id)
    grantees = [_organization(session, slug) for slug in dict.fromkeys(data.grantees)]
    datasets = []
    for slug in dict.fromkeys(data.datasets):
        dataset = session.scalar(
            select(Dataset).where(Dataset.slug == slug, Dataset.deleted_at.is_(None))
        )
        if dataset is None or not dataset_visible(actor, dataset):
            raise not_found("Jeu de données", slug)
        if dataset.publisher_id != owner.id:
            raise InvalidInputError(
                f"Le jeu de données {slug} n'appartient pas à {owner.slug}",
                hint="une convention ne partage que des jeux de données de son propriétaire",
                message_en=f"Dataset {slug} does not belong to {owner.slug}",
                hint_en="an agreement shares only datasets of its owner",
            )
        datasets.append(dataset)
    if data.row_filter is not None:
        conditions(data.row_filter)
        _check_columns(session, datasets, columns_of(data.row_filter), "filtre de lignes")
    if data.columns is not None:
        _check_columns(session, datasets, set(data.columns), "colonnes")
    agreement = SharingAgreement(
        owner=owner,
        title=data.title,
        purpose=data.purpose,
        legal_basis=data.legal_basis,
        row_filter=data.row_filter,
        columns=list(dict.fromkeys(data.columns)) if data.columns is not None else None,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        status=AgreementStatus.DRAFT.value,
        created_by=actor.label,
        grantees=grantees,
        datasets=datasets,
    )
    session.add(agreement)
    session.flush()
    audit.record(
        session,
        actor,
        "agreement.create",
        "agreement",
        agreement.id,
        {
            "owner": owner.slug,
            "grantees": [g.slug for g in grantees],
            "datasets": [d.slug for d in datasets],
            "row_filter": data.row_filter,
            "columns": agreement.columns,
            "starts_at": agreement.starts_at.isoformat(),
            "ends_at": agreement.ends_at.isoformat(),
        },
    )
    return agreement


def _check_columns(session: Session, datasets: list[Dataset], names: set[str], what: str) -> None:
    """Refuse column names absent from a dataset's latest version (when it has one)."""
    for dataset in datasets:
        latest = session.scalar(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset.id)
            .order_by(DatasetVersion.number.desc())
            .limit(1)
        )
        if latest is None:
            continue
        known = {str(c.get("name")) for c in latest.columns}
        missing = sorted(names - known)
        if missing:
            raise InvalidInputError(
                f"{what} : colonne(s) {', '.join(missing)} absente(s) de {dataset.slug}",
                hint=f"colonnes de {dataset.slug} : {', '.join(sorted(known))}",
                message_en=f"column(s) {', '.join(missing)} missing from {dataset.slug}",
                hint_en=f"columns of {dataset.slug}: {', '.join(sorted(known))}",
            )


def _visible_agreements(actor: Actor) -> ColumnElement[bool]:
    """Agreements the actor may know of: its owner's members and its grantees' members."""
    if actor.is_platform_admin:
        return SharingAgreement.id.is_not(None)
    orgs = sorted(actor.roles)
    return or_(
        SharingAgreement.owner_id.in_(orgs),
        SharingAgreement.id.in_(
            select(agreement_grantee.c.agreement_id).where(
                agreement_grantee.c.organization_id.in_(orgs)
            )
        ),
    )


def get_agreement(session: Session, actor: Actor, agreement_id: int) -> SharingAgreement:
    """One agreement the actor may know of (404 otherwise)."""
    found = session.scalar(
        select(SharingAgreement).where(
            SharingAgreement.id == agreement_id, _visible_agreements(actor)
        )
    )
    if found is None:
        raise not_found("Convention de partage", str(agreement_id))
    return found


def list_agreements(
    session: Session, actor: Actor, *, status: AgreementStatus | None = None
) -> list[SharingAgreement]:
    """Agreements the actor may know of, newest first (optionally by effective status)."""
    if not actor.is_authenticated:
        raise AuthenticationError(
            "Connexion requise pour lister les conventions de partage",
            hint="connectez-vous ou passez un jeton : Authorization: Bearer <jeton>",
            message_en="Sign in to list sharing agreements",
            hint_en="sign in or send a token: Authorization: Bearer <token>",
        )
    found = list(
        session.scalars(
            select(SharingAgreement)
            .where(_visible_agreements(actor))
            .order_by(SharingAgreement.id.desc())
        )
    )
    if status is not None:
        found = [a for a in found if effective_status(a) is status]
    return found


def _transition(
    session: Session,
    actor: Actor,
    agreement_id: int,
    action: str,
    allowed_from: set[AgreementStatus],
    target: AgreementStatus,
) -> SharingAgreement:
    agreement = get_agreement(session, actor, agreement_id)
    require(actor, Action.AGREEMENT_APPROVE, agreement.owner_id)
    current = effective_status(agreement)
    if current not in allowed_from:
        raise ConflictError(
            f"Convention {agreement.id} : « {action} » impossible depuis l'état {current.value}",
            hint=f"états possibles pour « {action} » : "
            + ", ".join(sorted(s.value for s in allowed_from)),
            message_en=f"Agreement {agreement.id}: cannot {action} from status {current.value}",
            hint_en=f"statuses allowing {action}: "
            + ", ".join(sorted(s.value for s in allowed_from)),
        )
    moment = clock.now()
    before = agreement.status
    agreement.status = target.value
    agreement.modified_at = moment
    if target is AgreementStatus.ACTIVE:
        agreement.approver_id = actor.user_id
        agreement.approved_at = moment
    if target is AgreementStatus.EXPIRED and agreement.ends_at > moment:
        agreement.ends_at = moment
    session.flush()
    audit.record(
        session,
        actor,
        f"agreement.{action}",
        "agreement",
        agreement.id,
        {"before": before, "after": target.value},
    )
    return agreement


def approve_agreement(session: Session, actor: Actor, agreement_id: int) -> SharingAgreement:
    """Approve (activate) a draft, or resume a suspended agreement (stewards of the owner)."""
    return _transition(
        session,
        actor,
        agreement_id,
        "approve",
        {AgreementStatus.DRAFT, AgreementStatus.SUSPENDED},
        AgreementStatus.ACTIVE,
    )


def suspend_agreement(session: Session, actor: Actor, agreement_id: int) -> SharingAgreement:
    """Suspend an active agreement: it opens nothing from the next read on."""
    return _transition(
        session, actor, agreement_id, "suspend", {AgreementStatus.ACTIVE}, AgreementStatus.SUSPENDED
    )


def end_agreement(session: Session, actor: Actor, agreement_id: int) -> SharingAgreement:
    """End an agreement now (its end date becomes now; status expired)."""
    return _transition(
        session,
        actor,
        agreement_id,
        "end",
        {AgreementStatus.DRAFT, AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED},
        AgreementStatus.EXPIRED,
    )


def agreement_public(agreement: SharingAgreement, actor: Actor) -> AgreementPublic:
    """The view of an agreement for ``actor`` (datasets it cannot read are left out)."""
    return AgreementPublic(
        id=agreement.id,
        title=agreement.title,
        owner=agreement.owner.slug,
        grantees=[g.slug for g in agreement.grantees],
        datasets=[d.slug for d in agreement.datasets if dataset_visible(actor, d)],
        purpose=agreement.purpose,
        legal_basis=agreement.legal_basis,
        row_filter=agreement.row_filter,
        columns=agreement.columns,
        starts_at=agreement.starts_at,
        ends_at=agreement.ends_at,
        status=effective_status(agreement),
        stored_status=AgreementStatus(agreement.status),
        in_force=in_force(agreement),
        approver=agreement.approver.username if agreement.approver else None,
        approved_at=agreement.approved_at,
        created_by=agreement.created_by,
        created_at=agreement.created_at,
    )


def may_manage(actor: Actor, agreement: SharingAgreement) -> bool:
    """Whether the actor may approve, suspend or end this agreement."""
    return can(actor, Action.AGREEMENT_APPROVE, agreement.owner_id)


__all__ = [
    "AgreementCreate",
    "AgreementPublic",
    "agreement_public",
    "agreements_in_force",
    "approve_agreement",
    "create_agreement",
    "effective_status",
    "end_agreement",
    "get_agreement",
    "in_force",
    "list_agreements",
    "suspend_agreement",
]
