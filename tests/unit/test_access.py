"""The access policy: who reads which dataset (SQL filter and Python twin), who may act.

The visibility matrix is written out by hand below (it is the specification, see
``beffroi.access.policy`` and docs/DESIGN §5), and checked three ways for every actor:
the SQL filter run against the database (both backends), the Python twin, and the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import (
    Action,
    Actor,
    ActorKind,
    can,
    dataset_visible,
    readable_datasets,
    require,
)
from beffroi.catalog import services
from beffroi.catalog.models import AccessLevel, Dataset, Organization, OrgKind, Role
from beffroi.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from tests.factories import actor_for, cheap_password_hashing, make_dataset, make_org, make_user

PUBLIC, REGISTERED, INTERNAL, ORGANIZATION, RESTRICTED = (
    AccessLevel.PUBLIC,
    AccessLevel.REGISTERED,
    AccessLevel.INTERNAL,
    AccessLevel.ORGANIZATION,
    AccessLevel.RESTRICTED,
)
EVERY_LEVEL = frozenset(AccessLevel)

# actor → (levels readable among datasets of the EPCI's service, among the partner's).
# The service belongs to the territory (EPCI, communes, services); the partner does not.
VISIBILITY: dict[str, tuple[frozenset[AccessLevel], frozenset[AccessLevel]]] = {
    "anonymous": (frozenset({PUBLIC}), frozenset({PUBLIC})),
    "user without membership": (
        frozenset({PUBLIC, REGISTERED}),
        frozenset({PUBLIC, REGISTERED}),
    ),
    **{
        f"{role.value} of the service": (EVERY_LEVEL, frozenset({PUBLIC, REGISTERED, INTERNAL}))
        for role in Role
    },
    "token of a viewer of the service": (
        EVERY_LEVEL,
        frozenset({PUBLIC, REGISTERED, INTERNAL}),
    ),
    "viewer of a member commune": (
        frozenset({PUBLIC, REGISTERED, INTERNAL}),
        frozenset({PUBLIC, REGISTERED, INTERNAL}),
    ),
    "admin of the partner": (frozenset({PUBLIC, REGISTERED}), EVERY_LEVEL),
    "platform admin": (EVERY_LEVEL, EVERY_LEVEL),
    "system": (EVERY_LEVEL, EVERY_LEVEL),
}


@dataclass
class World:
    service: Organization
    partner: Organization
    datasets: list[Dataset]
    actors: dict[str, Actor]


@pytest.fixture
def world(session: Session, system: Actor) -> World:
    """An EPCI, a commune, a service, a partner; a live and a deleted dataset per publisher
    and access level; an actor per row of :data:`VISIBILITY`."""
    with cheap_password_hashing():
        epci = make_org(session, kind=OrgKind.EPCI)
        commune = make_org(session, kind=OrgKind.COMMUNE, parent=epci)
        service = make_org(session, kind=OrgKind.SERVICE, parent=epci)
        partner = make_org(session, kind=OrgKind.PARTNER)
        datasets = []
        for publisher in (service, partner):
            for level in AccessLevel:
                datasets.append(make_dataset(session, publisher=publisher, access_level=level))
                gone = make_dataset(session, publisher=publisher, access_level=level)
                services.delete_dataset(session, system, gone.slug)
                datasets.append(gone)
        session.flush()

        def member(org: Organization, role: Role) -> Actor:
            return actor_for(session, make_user(session, memberships={org: role}))

        viewer = make_user(session, memberships={service: Role.VIEWER})
        actors = {
            "anonymous": Actor.anonymous(),
            "user without membership": actor_for(session, make_user(session)),
            **{f"{role.value} of the service": member(service, role) for role in Role},
            "token of a viewer of the service": Actor.for_user(viewer, surface="api", token_id=1),
            "viewer of a member commune": member(commune, Role.VIEWER),
            "admin of the partner": member(partner, Role.ADMIN),
            "platform admin": actor_for(session, make_user(session, is_platform_admin=True)),
            "system": system,
        }
    return World(service, partner, datasets, actors)


def test_matrix_covers_every_actor_kind_and_role() -> None:
    assert len(VISIBILITY) == 11
    assert all(f"{role.value} of the service" in VISIBILITY for role in Role)


@pytest.mark.parametrize("who", sorted(VISIBILITY))
def test_visibility_matrix(session: Session, world: World, who: str) -> None:
    actor = world.actors[who]
    of_service, of_partner = VISIBILITY[who]
    expected = {
        d.slug
        for d in world.datasets
        if d.deleted_at is None
        and d.access_level in (of_service if d.publisher_id == world.service.id else of_partner)
    }
    by_sql = set(session.scalars(select(Dataset.slug).where(readable_datasets(actor))))
    by_python = {d.slug for d in world.datasets if dataset_visible(actor, d)}

    assert by_sql == by_python, "readable_datasets and dataset_visible disagree"
    assert by_sql == expected
    # Deleted datasets are seen by no one, administrators included.
    assert not any(d.deleted_at is not None and d.slug in by_sql for d in world.datasets)


def test_actor_kinds(world: World) -> None:
    kinds = {name: actor.kind for name, actor in world.actors.items()}
    assert kinds["anonymous"] is ActorKind.ANONYMOUS
    assert kinds["system"] is ActorKind.SYSTEM
    assert kinds["token of a viewer of the service"] is ActorKind.TOKEN
    assert kinds["viewer of the service"] is ActorKind.USER
    territory = {name for name, actor in world.actors.items() if actor.is_territory_member}
    assert territory == {
        *(f"{role.value} of the service" for role in Role),
        "token of a viewer of the service",
        "viewer of a member commune",
    }


def test_invisible_dataset_looks_absent(session: Session, world: World) -> None:
    """An unreadable dataset gives exactly the error of a dataset that does not exist."""
    hidden = next(
        d for d in world.datasets if d.access_level == ORGANIZATION and d.deleted_at is None
    )
    anonymous = world.actors["anonymous"]
    with pytest.raises(NotFoundError) as invisible:
        services.get_dataset(session, anonymous, hidden.slug)
    with pytest.raises(NotFoundError) as absent:
        services.get_dataset(session, anonymous, "n-existe-pas")
    assert invisible.value.message.replace(hidden.slug, "?") == absent.value.message.replace(
        "n-existe-pas", "?"
    )
    assert invisible.value.hint == absent.value.hint


# ---------------------------------------------------------------- actions

ORG_ID, OTHER_ORG_ID = 1, 2
# Minimum role in the organisation concerned; None: platform administrators only.
MINIMUM_ROLE: dict[Action, Role | None] = {
    Action.ORG_CREATE: None,
    Action.USER_MANAGE: None,
    Action.AUDIT_READ: None,
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
    Action.ORG_GOVERNANCE: None,
    Action.REFERENCE_UPDATE: None,  # platform administrators only
}
ORDER = [Role.VIEWER, Role.EDITOR, Role.STEWARD, Role.ADMIN]


def member_of(role: Role) -> Actor:
    return Actor(ActorKind.USER, user_id=5, username="membre", roles={ORG_ID: role})


def test_every_action_has_an_expectation() -> None:
    assert set(MINIMUM_ROLE) == set(Action)


def test_role_ranks_are_ordered() -> None:
    assert [role.rank for role in ORDER] == sorted(role.rank for role in Role)
    assert len({role.rank for role in Role}) == len(Role)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", ORDER)
def test_can_by_role_rank(action: Action, role: Role) -> None:
    needed = MINIMUM_ROLE[action]
    allowed = needed is not None and ORDER.index(role) >= ORDER.index(needed)
    actor = member_of(role)
    assert can(actor, action, ORG_ID) is allowed
    assert can(actor, action, OTHER_ORG_ID) is False  # a role counts in its organisation only
    assert can(actor, action) is False  # nor for platform-wide actions
    if allowed:
        require(actor, action, ORG_ID)
    else:
        with pytest.raises(PermissionDeniedError, match=action.value) as raised:
            require(actor, action, ORG_ID)
        assert raised.value.hint


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(
    "make",
    [
        lambda: Actor.system(name="ops"),
        lambda: Actor(ActorKind.USER, user_id=1, username="root", is_platform_admin=True),
    ],
    ids=["system", "platform-admin"],
)
def test_platform_admins_may_do_anything(action: Action, make: Callable[[], Actor]) -> None:
    actor = make()
    assert can(actor, action) is True
    assert can(actor, action, OTHER_ORG_ID) is True
    require(actor, action, OTHER_ORG_ID)


@pytest.mark.parametrize("action", list(Action))
def test_require_anonymous_asks_for_authentication(action: Action) -> None:
    anonymous = Actor.anonymous()
    assert can(anonymous, action, ORG_ID) is False
    with pytest.raises(AuthenticationError) as raised:
        require(anonymous, action, ORG_ID)
    assert "Bearer" in (raised.value.hint or "")


@pytest.mark.parametrize("action", list(Action))
def test_require_user_without_role_is_denied(action: Action) -> None:
    user = Actor(ActorKind.USER, user_id=3, username="personne")
    with pytest.raises(PermissionDeniedError, match="user:personne"):
        require(user, action, ORG_ID)
