"""The policy: readable datasets as a SQL filter, and permission checks for actions.

Rules of this first version (the full model — sharing agreements, row and column
filters — extends these same functions):

* ``public`` datasets: everyone;
* ``registered``: any signed-in actor;
* ``internal``: members of the organisations of the EPCI (the EPCI, its communes, their
  services) — not partners;
* ``organization`` and ``restricted``: members of the publishing organisation;
* any non-public level also opens to the members of the grantee organisations of a
  sharing agreement in force now (active, started, not ended: evaluated at each read
  against :func:`beffroi.access.clock.now`) — typically ``restricted`` datasets;
* platform administrators and the local operator see everything;
* deleted datasets are seen by no one;
* an API token limited to some datasets reaches only those (whoever its user is), and a
  ``read`` token may perform no action at all; a dataset-limited ``write`` token only acts
  on its datasets (update, versions, privacy, reviews), never on organisations, users,
  agreements or new datasets.

The *data* of a ``registered`` dataset (records, exports, SQL) also needs its licence
accepted: :mod:`beffroi.access.licences`; its metadata does not.
"""

from __future__ import annotations

import enum

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import object_session

from beffroi.access.actors import Actor
from beffroi.access.grants import granted_dataset_ids
from beffroi.catalog.models import AccessLevel, Dataset, Role
from beffroi.errors import AuthenticationError, NotFoundError, PermissionDeniedError


class Action(enum.StrEnum):
    """Actions that need a permission."""

    ORG_CREATE = "organization.create"
    ORG_UPDATE = "organization.update"
    MEMBER_MANAGE = "membership.manage"
    USER_MANAGE = "user.manage"
    DATASET_CREATE = "dataset.create"
    DATASET_UPDATE = "dataset.update"
    DATASET_DELETE = "dataset.delete"
    AUDIT_READ = "audit.read"
    AGREEMENT_CREATE = "agreement.create"
    AGREEMENT_APPROVE = "agreement.approve"
    REVIEW_DECIDE = "review.decide"
    ORG_GOVERNANCE = "organization.governance"
    PRIVACY_MANAGE = "privacy.manage"
    HARVEST_MANAGE = "harvest.manage"  # harvest sources and file feeds
    REFERENCE_UPDATE = "reference.update"  # a new vintage of the COG (platform admins only)


# Minimum role in the organisation concerned, for actions an organisation member may do.
_ORG_ACTIONS: dict[Action, Role] = {
    Action.ORG_UPDATE: Role.ADMIN,
    Action.MEMBER_MANAGE: Role.ADMIN,
    Action.DATASET_CREATE: Role.EDITOR,
    Action.DATASET_UPDATE: Role.EDITOR,
    Action.DATASET_DELETE: Role.STEWARD,
    Action.AGREEMENT_CREATE: Role.EDITOR,
    Action.AGREEMENT_APPROVE: Role.STEWARD,
    Action.REVIEW_DECIDE: Role.STEWARD,
    Action.PRIVACY_MANAGE: Role.STEWARD,
    Action.HARVEST_MANAGE: Role.STEWARD,
    # ORG_GOVERNANCE (review required or not) and REFERENCE_UPDATE (the reference data is
    # the whole platform's) are for platform administrators only.
}

# What a token limited to some datasets may still do (on those datasets only: the others
# are invisible to it, so every dataset-level action finds nothing else).
_DATASET_ACTIONS = frozenset(
    {Action.DATASET_UPDATE, Action.DATASET_DELETE, Action.REVIEW_DECIDE, Action.PRIVACY_MANAGE}
)


def _token_limit(actor: Actor) -> ColumnElement[bool] | None:
    if actor.token_datasets is None:
        return None
    return Dataset.id.in_(sorted(actor.token_datasets))


def readable_datasets(actor: Actor) -> ColumnElement[bool]:
    """SQL filter on :class:`Dataset` rows the actor may read (the one read-path gate)."""
    alive: ColumnElement[bool] = Dataset.deleted_at.is_(None)
    limit = _token_limit(actor)
    if limit is not None:
        alive = and_(alive, limit)
    if actor.is_platform_admin:
        return alive
    levels: list[ColumnElement[bool]] = [Dataset.access_level == AccessLevel.PUBLIC.value]
    if actor.is_authenticated:
        levels.append(Dataset.access_level == AccessLevel.REGISTERED.value)
    if actor.is_territory_member:
        levels.append(Dataset.access_level == AccessLevel.INTERNAL.value)
    if actor.roles:
        levels.append(Dataset.publisher_id.in_(sorted(actor.roles)))
        levels.append(Dataset.id.in_(granted_dataset_ids(actor)))
    return and_(alive, or_(*levels))


def dataset_visible(actor: Actor, dataset: Dataset) -> bool:
    """Python twin of :func:`readable_datasets` for one loaded row (kept in sync by tests)."""
    if dataset.deleted_at is not None or (
        actor.token_datasets is not None and dataset.id not in actor.token_datasets
    ):
        return False
    if actor.is_platform_admin:
        return True
    level = AccessLevel(dataset.access_level)
    if level is AccessLevel.PUBLIC:
        return True
    if level is AccessLevel.REGISTERED:
        return actor.is_authenticated
    if (level is AccessLevel.INTERNAL and actor.is_territory_member) or (
        dataset.publisher_id in actor.roles
    ):
        return True
    return _granted(actor, dataset)


def _granted(actor: Actor, dataset: Dataset) -> bool:
    """Whether an agreement in force opens this (loaded) dataset to the actor."""
    session = object_session(dataset)
    if not actor.roles or session is None:
        return False
    query = select(granted_dataset_ids(actor, dataset.id).exists())
    return bool(session.scalar(query))


def can(actor: Actor, action: Action, organization_id: int | None = None) -> bool:
    """Whether the actor may perform ``action`` (on behalf of ``organization_id``)."""
    if actor.read_only:
        return False
    if actor.token_datasets is not None and action not in _DATASET_ACTIONS:
        return False
    if actor.is_platform_admin:
        return True
    needed = _ORG_ACTIONS.get(action)
    if needed is None or organization_id is None:
        return False
    role = actor.role_in(organization_id)
    return role is not None and role.rank >= needed.rank


def require(actor: Actor, action: Action, organization_id: int | None = None) -> None:
    """Raise unless the actor may perform ``action``."""
    if can(actor, action, organization_id):
        return
    if not actor.is_authenticated:
        raise AuthenticationError(
            "Connexion requise pour cette action",
            hint="connectez-vous ou passez un jeton : Authorization: Bearer <jeton>",
        )
    if actor.read_only:
        raise PermissionDeniedError(
            f"Jeton d'API en lecture seule : action « {action.value} » refusée",
            hint="créez un jeton de portée write (beffroi token create --scope write)",
            message_en=f"Read-only API token: action “{action.value}” refused",
            hint_en="create a token with scope write (beffroi token create --scope write)",
        )
    if actor.token_datasets is not None and action not in _DATASET_ACTIONS:
        raise PermissionDeniedError(
            f"Jeton d'API limité à certains jeux de données : action « {action.value} » refusée",
            hint="utilisez un jeton sans limite de jeux de données",
            message_en=f"API token limited to some datasets: action “{action.value}” refused",
            hint_en="use a token without a dataset limit",
        )
    raise PermissionDeniedError(
        f"Action « {action.value} » non autorisée pour {actor.label}",
        hint="demandez le rôle nécessaire à un administrateur de l'organisation",
    )


def not_found(kind: str, key: str) -> NotFoundError:
    """The error for an absent *or invisible* object: the two must be indistinguishable."""
    return NotFoundError(
        f"{kind} introuvable : {key}",
        hint="vérifiez l'identifiant ; connectez-vous si le jeu de données n'est pas public",
    )


__all__ = ["Action", "can", "dataset_visible", "not_found", "readable_datasets", "require"]
