"""Access decisions of the crossings (derived datasets): what a view may read and show.

* A view reads its sources with its creator's authority (:func:`source_tables`): the
  published versions the creator may read now, through the same narrowing as any read
  (agreements' rows and columns), and **never the columns flagged personal** — a view is
  a new dataset whose readers are not the sources' readers.
* A view is never more open than its most restrictive source (:func:`required_level`;
  ``public`` < ``registered`` < ``internal`` < ``organization`` < ``restricted``); an
  ``organization`` or ``restricted`` source of another organisation cannot feed a view at
  all (its members are not the source's readers). Only a steward of the view's owner may
  lift both rules, by marking the view a published aggregate (:func:`may_publish_aggregate`;
  who and when is recorded).
* Lineage lists only the datasets the reader may see (:func:`visible_ids`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access.actors import Actor
from beffroi.access.narrowing import personal_columns
from beffroi.access.policy import readable_datasets
from beffroi.access.reading import ReadableTable, readable_tables
from beffroi.catalog.models import AccessLevel, Dataset, DatasetVersion, Role, User
from beffroi.errors import InvalidInputError, PermissionDeniedError

LEVELS: tuple[AccessLevel, ...] = (
    AccessLevel.PUBLIC,
    AccessLevel.REGISTERED,
    AccessLevel.INTERNAL,
    AccessLevel.ORGANIZATION,
    AccessLevel.RESTRICTED,
)
"""Access levels, most open first."""

OWNER_LEVELS = frozenset({AccessLevel.ORGANIZATION, AccessLevel.RESTRICTED})


def rank(level: str) -> int:
    """Position of a level from the most open (0: public) to the most closed."""
    return LEVELS.index(AccessLevel(level))


def required_level(sources: Iterable[Dataset]) -> AccessLevel:
    """The most restrictive access level among the sources (public without any)."""
    return max((AccessLevel(d.access_level) for d in sources), key=rank, default=LEVELS[0])


def creator_actor(session: Session, user_id: int | None, label: str) -> Actor:
    """The actor a view is computed as: its creator with today's memberships (the local
    operator for views created on the command line; nobody if the account is gone)."""
    if user_id is None:
        if label.startswith("system:"):
            return Actor.system(name=label.removeprefix("system:"), surface="job")
        return Actor.anonymous(surface="job")
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return Actor.anonymous(surface="job")
    return Actor.for_user(user, surface="job")


def may_publish_aggregate(actor: Actor, owner_id: int) -> bool:
    """Whether the actor may open a view wider than its sources: a steward of the owner
    (or a platform administrator)."""
    if actor.read_only:
        return False
    if actor.is_platform_admin:
        return True
    role = actor.role_in(owner_id)
    return role is not None and role.rank >= Role.STEWARD.rank


def check_level(
    view_level: str,
    owner_id: int,
    sources: Sequence[Dataset],
    *,
    published_aggregate: bool,
) -> None:
    """Refuse a view more open than its sources allow (unless a published aggregate)."""
    if published_aggregate:
        return
    needed = required_level(sources)
    if rank(view_level) < rank(needed):
        strictest = sorted(d.slug for d in sources if AccessLevel(d.access_level) is needed)
        names = ", ".join(strictest)
        raise InvalidInputError(
            f"Niveau d'accès « {view_level} » plus ouvert que la source la plus restreinte "
            f"({names} : « {needed.value} »)",
            hint=f"choisissez le niveau « {needed.value} » ou plus restreint ; seul un "
            "référent de l'organisation propriétaire peut publier un agrégat plus ouvert "
            "(published_aggregate)",
            message_en=f"Access level '{view_level}' is more open than the most restrictive "
            f"source ({names}: '{needed.value}')",
            hint_en=f"choose level '{needed.value}' or stricter; only a steward of the owner "
            "may publish a more open aggregate (published_aggregate)",
            details={"errors": [{"field": "access_level", "message": needed.value}]},
        )
    foreign = sorted(
        d.slug
        for d in sources
        if AccessLevel(d.access_level) in OWNER_LEVELS and d.publisher_id != owner_id
    )
    if foreign:
        names = ", ".join(foreign)
        raise InvalidInputError(
            f"Source(s) réservée(s) à une autre organisation : {names}",
            hint="une vue sur une source de niveau organization ou restricted appartient à "
            "l'organisation de cette source (owner), sauf agrégat publié par un référent",
            message_en=f"Source(s) reserved to another organisation: {names}",
            hint_en="a view over an organization or restricted source belongs to that "
            "source's organisation (owner), unless a steward publishes an aggregate",
            details={"errors": [{"field": "owner", "message": names}]},
        )


def require_aggregate_right(actor: Actor, owner_id: int) -> None:
    """Raise unless the actor may mark a view of ``owner_id`` as a published aggregate."""
    if not may_publish_aggregate(actor, owner_id):
        raise PermissionDeniedError(
            "Seul un référent (steward) de l'organisation propriétaire peut publier un "
            "agrégat plus ouvert que ses sources",
            hint="retirez published_aggregate ou demandez à un référent de créer la vue",
            message_en="Only a steward of the owner may publish an aggregate more open than "
            "its sources",
            hint_en="drop published_aggregate or ask a steward to create the view",
        )


def source_tables(session: Session, creator: Actor, slugs: Sequence[str]) -> list[ReadableTable]:
    """The published source versions the creator may read, personal columns removed.

    Raises :class:`InvalidInputError` naming the sources that are unknown, unreadable by
    the creator or without a published version (indistinguishable on purpose).
    """
    wanted = sorted(set(slugs))
    tables = readable_tables(session, creator, slugs=wanted)
    missing = sorted(set(wanted) - {t.slug for t in tables})
    if missing:
        names = ", ".join(missing)
        raise InvalidInputError(
            f"Source(s) introuvable(s), illisible(s) ou sans version publiée : {names}",
            hint="vérifiez les identifiants ; chaque source doit être lisible par le créateur "
            "de la vue et avoir une version publiée (beffroi version publish SLUG N)",
            message_en=f"Source(s) unknown, unreadable or without a published version: {names}",
            hint_en="check the identifiers; each source must be readable by the view's "
            "creator and have a published version",
            details={"errors": [{"field": "sources", "message": m} for m in missing]},
        )
    return [_without_personal(session, table) for table in tables]


def _without_personal(session: Session, table: ReadableTable) -> ReadableTable:
    hidden = personal_columns(session, table.dataset_id)
    if not hidden:
        return table
    names = table.columns
    if names is None:
        version = session.scalar(
            select(DatasetVersion).where(
                DatasetVersion.dataset_id == table.dataset_id,
                DatasetVersion.number == table.version,
            )
        )
        names = tuple(str(c.get("name")) for c in (version.columns if version else []))
    return dataclasses.replace(table, columns=tuple(n for n in names if n not in hidden))


def hidden_personal(session: Session, dataset_id: int) -> set[str]:
    """The personal columns of a source, which no view reads (named in errors)."""
    return personal_columns(session, dataset_id)


def visible_ids(session: Session, actor: Actor, dataset_ids: Iterable[int]) -> set[int]:
    """Which of these datasets the actor may see (lineage shows nothing else)."""
    ids = sorted(set(dataset_ids))
    if not ids:
        return set()
    query = select(Dataset.id).where(Dataset.id.in_(ids), readable_datasets(actor))
    return set(session.scalars(query))


__all__ = [
    "LEVELS",
    "check_level",
    "creator_actor",
    "hidden_personal",
    "may_publish_aggregate",
    "rank",
    "require_aggregate_right",
    "required_level",
    "source_tables",
    "visible_ids",
]
