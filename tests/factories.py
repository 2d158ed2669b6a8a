"""Factories: catalogue objects created through the real services, with sensible defaults.

Every helper goes through :mod:`beffroi.catalog.services` or :mod:`beffroi.access.accounts`
(validation with :func:`beffroi.catalog.schemas.parse`, permission checks, audit events),
so what a test builds is what the platform would have built. Slugs, usernames, SIREN and
INSEE codes are unique within the test run. The acting :class:`Actor` defaults to the
local operator.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from beffroi.access import Actor, accounts
from beffroi.catalog import services
from beffroi.catalog.models import AccessLevel, Dataset, Organization, OrgKind, Role, User
from beffroi.catalog.schemas import (
    DatasetCreate,
    MembershipCreate,
    OrganizationCreate,
    UserCreate,
    parse,
)

DEFAULT_PASSWORD = "correct horse battery staple"
_sequence = itertools.count(1)


def unique(prefix: str) -> str:
    """``prefix-<n>``, never the same twice in a test run (a valid slug for a slug prefix)."""
    return f"{prefix}-{next(_sequence)}"


def luhn_key(digits: str) -> str:
    """The check digit that makes ``digits + key`` pass the Luhn test."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # these positions are doubled once the key is appended
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def new_siren() -> str:
    """A fresh, Luhn-valid SIREN (prefix 9: no real organisation in the demo uses it)."""
    base = f"9{next(_sequence):07d}"
    return base + luhn_key(base)


def new_insee_code() -> str:
    """A code of the INSEE commune code form, département 98 (not in the demo territory)."""
    return f"98{next(_sequence) % 1000:03d}"


def _operator(actor: Actor | None) -> Actor:
    return actor if actor is not None else Actor.system(name="factory")


def make_org(
    session: Session,
    actor: Actor | None = None,
    *,
    kind: OrgKind | str = OrgKind.SERVICE,
    name: str | None = None,
    slug: str | None = None,
    parent: Organization | str | None = None,
    **fields: Any,
) -> Organization:
    """An organisation; a commune gets a fresh INSEE code unless one is given."""
    kind = OrgKind(kind)
    slug = slug or unique(f"org-{kind.value}")
    data: dict[str, Any] = {"name": name or f"Organisation {slug}", "kind": kind, "slug": slug}
    if kind is OrgKind.COMMUNE:
        data["insee_code"] = new_insee_code()
    if parent is not None:
        data["parent"] = parent.slug if isinstance(parent, Organization) else parent
    data.update(fields)
    return services.create_organization(session, _operator(actor), parse(OrganizationCreate, data))


def make_user(
    session: Session,
    actor: Actor | None = None,
    *,
    username: str | None = None,
    password: str = DEFAULT_PASSWORD,
    memberships: Mapping[Organization | str, Role | str] | None = None,
    **fields: Any,
) -> User:
    """A user (password :data:`DEFAULT_PASSWORD`) holding the given roles, by organisation."""
    operator = _operator(actor)
    username = username or unique("user")
    data = {"username": username, "email": f"{username}@example.org", "password": password}
    data.update(fields)
    user = accounts.create_user(session, operator, parse(UserCreate, data))
    for org, role in (memberships or {}).items():
        organization = org.slug if isinstance(org, Organization) else org
        accounts.add_member(
            session,
            operator,
            parse(
                MembershipCreate,
                {"username": username, "organization": organization, "role": role},
            ),
        )
    if memberships:
        session.refresh(user, ["memberships"])
    return user


def make_dataset(
    session: Session,
    actor: Actor | None = None,
    *,
    publisher: Organization | str | None = None,
    title: str | None = None,
    slug: str | None = None,
    access_level: AccessLevel | str = AccessLevel.PUBLIC,
    **fields: Any,
) -> Dataset:
    """A dataset record; a fresh publishing organisation is created when none is given."""
    operator = _operator(actor)
    if publisher is None:
        publisher = make_org(session, operator)
    slug = slug or unique("dataset")
    data: dict[str, Any] = {
        "title": title or f"Jeu de données {slug}",
        "slug": slug,
        "publisher": publisher.slug if isinstance(publisher, Organization) else publisher,
        "access_level": AccessLevel(access_level),
    }
    data.update(fields)
    return services.create_dataset(session, operator, parse(DatasetCreate, data))


def actor_for(session: Session, user: User, *, surface: str = "web") -> Actor:
    """The actor of a signed-in user, with the memberships as stored in the database."""
    return Actor.for_user(accounts.get_user(session, user.username), surface=surface)


@contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 with minimal cost parameters while the block runs.

    The real parameters cost ~0.1 s per hash: fine for the tests of passwords themselves
    (``test_accounts`` keeps them), too slow for tests that merely need many users.
    The hashes are still genuine argon2id hashes, verified by the real code.
    """
    original = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        accounts._hasher = original
