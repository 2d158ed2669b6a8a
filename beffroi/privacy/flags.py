"""Personal-data flags of a dataset's columns and its minimum cell size (services).

Detection (:mod:`beffroi.privacy.detect`) runs when a version is recorded and adds
``suggested`` flags; the référent (a steward of the publisher) confirms or clears them,
or flags a column detection missed. A decision sticks to the column name across later
versions. Which flags hide a column: :func:`hiding_clause`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import Action, Actor, require
from beffroi.access.narrowing import is_insider, personal_columns
from beffroi.access.policy import dataset_visible
from beffroi.catalog import audit
from beffroi.catalog.models import ColumnFlag, Dataset, DatasetPrivacy, DatasetVersion, utcnow
from beffroi.errors import InvalidInputError
from beffroi.privacy.detect import HIDE_CONFIDENCE, detect


class FlagStatus(enum.StrEnum):
    """Where a flag stands."""

    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    CLEARED = "cleared"


class FlagPublic(BaseModel):
    """A column flagged (or once flagged) as personal."""

    column: str
    category: str
    confidence: float
    status: FlagStatus
    hidden: bool = Field(description="Hidden from readers outside the owner.")
    detected_in_version: int | None
    decided_by: str | None
    decided_at: dt.datetime | None


class PrivacyPublic(BaseModel):
    """Privacy settings of a dataset."""

    dataset: str
    min_cell_size: int | None
    flags: list[FlagPublic]


class FlagDecision(BaseModel):
    """Confirm or clear a flag; ``category`` names what a newly flagged column holds."""

    status: FlagStatus
    category: str | None = Field(default=None, max_length=40)


def is_hiding(flag: ColumnFlag) -> bool:
    """Python twin of :func:`hiding_clause`."""
    return flag.status == FlagStatus.CONFIRMED.value or (
        flag.status == FlagStatus.SUGGESTED.value and flag.confidence >= HIDE_CONFIDENCE
    )


def suggest(session: Session, actor: Actor, dataset: Dataset, version: DatasetVersion) -> None:
    """Record the suggestions of a new version's profile (decisions already made stay)."""
    known = {
        f.column_name: f
        for f in session.scalars(select(ColumnFlag).where(ColumnFlag.dataset_id == dataset.id))
    }
    added = []
    for found in detect(version.profile):
        flag = known.get(found.column)
        if flag is None:
            session.add(
                ColumnFlag(
                    dataset_id=dataset.id,
                    column_name=found.column,
                    category=found.category,
                    confidence=found.confidence,
                    status=FlagStatus.SUGGESTED.value,
                    detected_in_version=version.number,
                )
            )
            added.append({"column": found.column, "category": found.category})
        elif flag.status == FlagStatus.SUGGESTED.value and found.confidence > flag.confidence:
            flag.confidence = found.confidence
            flag.detected_in_version = version.number
    if added:
        session.flush()
        audit.record(
            session,
            actor,
            "privacy.suggest",
            "dataset",
            dataset.slug,
            {"version": version.number, "columns": added},
        )


def flag_public(flag: ColumnFlag) -> FlagPublic:
    return FlagPublic(
        column=flag.column_name,
        category=flag.category,
        confidence=flag.confidence,
        status=FlagStatus(flag.status),
        hidden=is_hiding(flag),
        detected_in_version=flag.detected_in_version,
        decided_by=flag.decided_by,
        decided_at=flag.decided_at,
    )


def privacy_public(session: Session, dataset: Dataset) -> PrivacyPublic:
    """The privacy settings of a dataset (for its publisher's members)."""
    flags = session.scalars(
        select(ColumnFlag).where(ColumnFlag.dataset_id == dataset.id).order_by(ColumnFlag.id)
    )
    return PrivacyPublic(
        dataset=dataset.slug,
        min_cell_size=min_cell_size(session, dataset.id),
        flags=[flag_public(f) for f in flags],
    )


def show_privacy(session: Session, actor: Actor, dataset: Dataset) -> PrivacyPublic:
    """Privacy settings of a readable dataset, for editors of its publisher and stronger."""
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    return privacy_public(session, dataset)


def decide(
    session: Session, actor: Actor, dataset: Dataset, column: str, decision: FlagDecision
) -> ColumnFlag:
    """Confirm, clear or add the personal flag of a column (stewards of the publisher)."""
    require(actor, Action.PRIVACY_MANAGE, dataset.publisher_id)
    flag = session.scalar(
        select(ColumnFlag).where(
            ColumnFlag.dataset_id == dataset.id, ColumnFlag.column_name == column
        )
    )
    before = flag.status if flag else None
    if flag is None:
        if decision.status is not FlagStatus.CONFIRMED:
            raise InvalidInputError(
                f"Aucun signalement pour la colonne {column}",
                hint="pour signaler une colonne personnelle, envoyez status=confirmed",
                message_en=f"No flag for column {column}",
                hint_en="to flag a personal column, send status=confirmed",
            )
        flag = ColumnFlag(
            dataset_id=dataset.id,
            column_name=column,
            category=decision.category or "other",
            confidence=1.0,
            status=FlagStatus.CONFIRMED.value,
        )
        session.add(flag)
    flag.status = decision.status.value
    if decision.category:
        flag.category = decision.category
    flag.decided_by = actor.label
    flag.decided_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "privacy.flag",
        "dataset",
        dataset.slug,
        {"column": column, "before": before, "after": flag.status, "category": flag.category},
    )
    return flag


def min_cell_size(session: Session, dataset_id: int) -> int | None:
    """The dataset's minimum cell size (statistical secrecy), if set."""
    setting = session.get(DatasetPrivacy, dataset_id)
    return setting.min_cell_size if setting else None


def set_min_cell_size(
    session: Session, actor: Actor, dataset: Dataset, size: int | None
) -> DatasetPrivacy:
    """Set (or remove, ``None``) the minimum size of publicly served groups (stewards)."""
    require(actor, Action.PRIVACY_MANAGE, dataset.publisher_id)
    if size is not None and not 2 <= size <= 1000:
        raise InvalidInputError(
            f"Taille minimale de cellule hors bornes : {size}",
            hint="donnez un entier entre 2 et 1000 (le secret statistique retient souvent 11)",
            message_en=f"Minimum cell size out of bounds: {size}",
            hint_en="give an integer between 2 and 1000 (statistical secrecy often uses 11)",
        )
    setting = session.get(DatasetPrivacy, dataset.id)
    before = setting.min_cell_size if setting else None
    if setting is None:
        setting = DatasetPrivacy(dataset_id=dataset.id)
        session.add(setting)
    setting.min_cell_size = size
    setting.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "privacy.min_cell_size",
        "dataset",
        dataset.slug,
        {"before": before, "after": size},
    )
    return setting


def redact_profile(
    session: Session, actor: Actor, dataset: Dataset, profile: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A version's column profile as ``actor`` may see it: for readers outside the owner,
    hidden columns keep their name and type only (no examples, min, max, distinct count)."""
    if not dataset_visible(actor, dataset) or is_insider(actor, dataset):
        return profile
    hidden = personal_columns(session, dataset.id)
    return [
        {"name": p.get("name"), "type": p.get("type"), "personal": True}
        if p.get("name") in hidden
        else p
        for p in profile
    ]


__all__ = [
    "FlagDecision",
    "FlagPublic",
    "FlagStatus",
    "PrivacyPublic",
    "decide",
    "flag_public",
    "min_cell_size",
    "privacy_public",
    "redact_profile",
    "set_min_cell_size",
    "show_privacy",
    "suggest",
]
