"""Licence acceptance: the data of a ``registered`` dataset is read after accepting it.

A signed-in user sees the metadata of a ``registered`` dataset at once, but reads its data
(records, exports, SQL, Data Package) only once they have accepted the dataset's *current*
licence: the acceptance records who, when, from which surface and which licence, and a
change of licence asks for a new one. Members of the publishing organisation and platform
administrators need none. An acceptance is the user's: their API tokens inherit it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.orm import Session

from beffroi.access.actors import Actor
from beffroi.access.policy import Action, not_found, readable_datasets, require
from beffroi.catalog import audit
from beffroi.catalog.models import AccessLevel, Dataset, LicenceAcceptance
from beffroi.errors import ConflictError, PermissionDeniedError


def licence_clause(actor: Actor) -> ColumnElement[bool]:
    """SQL on :class:`Dataset`: the licence does not stand between the actor and the data
    (not ``registered``, an insider, or the current licence accepted)."""
    if actor.is_platform_admin:
        return true()
    open_: list[ColumnElement[bool]] = [Dataset.access_level != AccessLevel.REGISTERED.value]
    if actor.roles:
        open_.append(Dataset.publisher_id.in_(sorted(actor.roles)))
    if actor.user_id is not None:
        open_.append(
            exists().where(
                LicenceAcceptance.user_id == actor.user_id,
                LicenceAcceptance.dataset_id == Dataset.id,
                LicenceAcceptance.licence == Dataset.license,
            )
        )
    return or_(*open_)


def licence_pending(session: Session, actor: Actor, dataset: Dataset) -> bool:
    """True when the actor must accept the dataset's licence before reading its data."""
    if dataset.access_level != AccessLevel.REGISTERED.value or actor.is_platform_admin:
        return False
    if dataset.publisher_id in actor.roles:
        return False
    if actor.user_id is None:
        return True
    accepted = session.scalar(
        select(
            exists().where(
                LicenceAcceptance.user_id == actor.user_id,
                LicenceAcceptance.dataset_id == dataset.id,
                LicenceAcceptance.licence == dataset.license,
            )
        )
    )
    return not accepted


def licence_required_error(dataset: Dataset) -> PermissionDeniedError:
    """The answer to a data read before acceptance (the dataset's metadata is visible, so
    naming it leaks nothing)."""
    path = f"/api/v1/datasets/{dataset.slug}/licence-acceptance"
    return PermissionDeniedError(
        f"Acceptez la licence du jeu de données {dataset.slug} ({dataset.license}) avant "
        "d'en lire les données",
        hint=f"acceptez-la sur la page du jeu de données, ou : POST {path}",
        message_en=f"Accept the licence of dataset {dataset.slug} ({dataset.license}) before "
        "reading its data",
        hint_en=f"accept it on the dataset's page, or: POST {path}",
        details={"licence": dataset.license, "accept": path},
    )


def require_licence(session: Session, actor: Actor, dataset: Dataset) -> None:
    """Raise unless the actor may read the dataset's data as far as its licence goes."""
    if licence_pending(session, actor, dataset):
        raise licence_required_error(dataset)


def accept_licence(session: Session, actor: Actor, slug: str) -> LicenceAcceptance:
    """Record that the signed-in user accepts the current licence of a ``registered``
    dataset they may see (idempotent: a second acceptance returns the first)."""
    dataset = session.scalar(
        select(Dataset).where(and_(Dataset.slug == slug, readable_datasets(actor)))
    )
    if dataset is None:
        raise not_found("Jeu de données", slug)
    if not actor.is_authenticated or actor.read_only:
        require(actor, Action.DATASET_UPDATE)  # raises: sign in / a read token changes nothing
    if actor.user_id is None:
        raise PermissionDeniedError(
            "Seul un compte utilisateur accepte une licence",
            hint="connectez-vous avec votre compte",
            message_en="Only a user account accepts a licence",
            hint_en="sign in with your account",
        )
    if dataset.access_level != AccessLevel.REGISTERED.value:
        raise ConflictError(
            f"Le jeu de données {slug} n'est pas réservé aux utilisateurs inscrits : "
            "aucune licence à accepter",
            hint="ses données se lisent sans acceptation",
            message_en=f"Dataset {slug} is not for registered users only: no licence to accept",
            hint_en="its data is read without acceptance",
        )
    found = session.scalar(
        select(LicenceAcceptance).where(
            LicenceAcceptance.user_id == actor.user_id,
            LicenceAcceptance.dataset_id == dataset.id,
            LicenceAcceptance.licence == dataset.license,
        )
    )
    if found is not None:
        return found
    acceptance = LicenceAcceptance(
        user_id=actor.user_id,
        dataset_id=dataset.id,
        licence=dataset.license,
        surface=actor.surface,
    )
    session.add(acceptance)
    session.flush()
    audit.record(
        session,
        actor,
        "licence.accept",
        "dataset",
        dataset.slug,
        {"licence": dataset.license, "acceptance": acceptance.id},
    )
    return acceptance


__all__ = [
    "accept_licence",
    "licence_clause",
    "licence_pending",
    "licence_required_error",
    "require_licence",
]
