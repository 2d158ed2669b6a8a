"""Scoped tokens, login lockout, licence acceptance, append-only audit log (both backends)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from beffroi.access import Actor, accounts, clock, dataset_visible, lockout, readable_datasets
from beffroi.access.licences import accept_licence, licence_pending
from beffroi.access.lockout import LoginLimits
from beffroi.access.policy import Action, can
from beffroi.access.reading import readable_table, readable_tables
from beffroi.catalog import audit
from beffroi.catalog.db import session_factory, transaction
from beffroi.catalog.models import (
    AccessLevel,
    AuditEvent,
    Dataset,
    LicenceAcceptance,
    LoginThrottle,
    Role,
    utcnow,
)
from beffroi.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from tests.factories import (
    DEFAULT_PASSWORD,
    actor_for,
    cheap_password_hashing,
    make_dataset,
    make_org,
    make_user,
)

LIMITS = LoginLimits(
    max_failures=3,
    max_failures_per_ip=5,
    window=dt.timedelta(minutes=10),
    lockout=dt.timedelta(minutes=15),
)


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_password_hashing():
        yield


def visible_slugs(session: Session, actor: Actor) -> set[str]:
    return set(session.scalars(select(Dataset.slug).where(readable_datasets(actor))))


# ---------------------------------------------------------------- scoped tokens


def test_read_token_performs_no_action(session: Session, system: Actor) -> None:
    org = make_org(session)
    user = make_user(session, memberships={org: Role.ADMIN}, is_platform_admin=True)
    dataset = make_dataset(session, publisher=org)
    _, secret = accounts.create_token(session, system, user.username, "lecture", scope="read")
    reader = accounts.actor_from_token(session, secret)
    assert reader.read_only
    assert dataset.slug in visible_slugs(session, reader)  # it reads everything the user does
    for action in Action:
        assert not can(reader, action, org.id), action
    with pytest.raises(PermissionDeniedError, match="lecture seule"):
        make_dataset(session, reader, publisher=org)
    _, write_secret = accounts.create_token(session, system, user.username, "écriture")
    writer = accounts.actor_from_token(session, write_secret)
    assert writer.token_scope == "write"
    assert can(writer, Action.DATASET_UPDATE, org.id)


def test_dataset_limited_token_sees_only_its_datasets(session: Session, system: Actor) -> None:
    org = make_org(session)
    user = make_user(session, memberships={org: Role.EDITOR})
    mine = make_dataset(session, publisher=org, access_level=AccessLevel.ORGANIZATION)
    other = make_dataset(session, publisher=org)
    public = make_dataset(session)
    token, secret = accounts.create_token(
        session, system, user.username, "un seul", datasets=[mine.slug]
    )
    limited = accounts.actor_from_token(session, secret)
    assert limited.token_datasets == frozenset({mine.id})
    seen = visible_slugs(session, limited)
    assert mine.slug in seen
    assert other.slug not in seen
    assert public.slug not in seen  # not even public datasets: the token is for one job
    assert dataset_visible(limited, mine)
    assert not dataset_visible(limited, other)
    assert not dataset_visible(limited, public)
    assert can(limited, Action.DATASET_UPDATE, org.id)  # on its dataset
    assert not can(limited, Action.DATASET_CREATE, org.id)
    assert not can(limited, Action.AGREEMENT_CREATE, org.id)
    [info] = [t for t in accounts.list_tokens(session, limited) if t.id == token.id]
    assert (info.scope, info.datasets, info.active) == ("write", [mine.slug], True)
    # A limited token cannot mint an unlimited one.
    with pytest.raises(PermissionDeniedError):
        accounts.create_token(session, limited, user.username, "évasion")


def test_token_datasets_must_be_readable_and_lifetime_bounded(
    session: Session, system: Actor
) -> None:
    user = make_user(session)
    hidden = make_dataset(session, access_level=AccessLevel.ORGANIZATION)
    with pytest.raises(NotFoundError, match=hidden.slug):
        accounts.create_token(session, system, user.username, "x", datasets=[hidden.slug])
    with pytest.raises(InvalidInputError, match="400 jours"):
        accounts.create_token(session, system, user.username, "x", expires_in_days=400)
    with pytest.raises(InvalidInputError, match="admin"):
        accounts.create_token(session, system, user.username, "x", scope="admin")
    token, _ = accounts.create_token(
        session, system, user.username, "court", expires_in_days=30, max_days=30
    )
    assert token.expires_at is not None
    assert dt.timedelta(days=29) < token.expires_at - utcnow() <= dt.timedelta(days=30)


def test_tokens_listed_and_revoked_by_owner_or_admin(session: Session, system: Actor) -> None:
    alice = make_user(session)
    bob = make_user(session)
    admin = actor_for(session, make_user(session, is_platform_admin=True))
    a_token, _ = accounts.create_token(session, system, alice.username, "a")
    b_token, b_secret = accounts.create_token(session, system, bob.username, "b", scope="read")
    alice_actor = actor_for(session, alice)
    assert [t.id for t in accounts.list_tokens(session, alice_actor)] == [a_token.id]
    with pytest.raises(PermissionDeniedError):
        accounts.list_tokens(session, alice_actor, all_users=True)
    everyone = {t.id for t in accounts.list_tokens(session, admin, all_users=True)}
    assert {a_token.id, b_token.id} <= everyone
    with pytest.raises(PermissionDeniedError):
        accounts.revoke_token(session, alice_actor, b_token.id)
    with pytest.raises(
        PermissionDeniedError, match="lecture seule"
    ):  # a read token changes nothing
        accounts.revoke_token(session, accounts.actor_from_token(session, b_secret), b_token.id)
    accounts.revoke_token(session, admin, b_token.id)
    with pytest.raises(AuthenticationError, match="révoqué"):
        accounts.actor_from_token(session, b_secret)
    [info] = accounts.list_tokens(session, admin, username=bob.username)
    assert not info.active
    assert info.revoked_at is not None


# ---------------------------------------------------------------- login lockout


def _fail(session: Session, username: str, client: str | None = "10.0.0.1") -> AuthenticationError:
    with pytest.raises(AuthenticationError) as raised:
        accounts.authenticate(session, username, "wrong password!", client=client, limits=LIMITS)
    return raised.value


def test_account_locked_after_failures_then_unlocked(session: Session, system: Actor) -> None:
    user = make_user(session)
    start = utcnow()
    with clock.frozen_at(start):
        assert lockout.retry_after(_fail(session, user.username)) is None
        assert lockout.retry_after(_fail(session, user.username)) is None
        third = _fail(session, user.username)  # the third failure locks
        assert lockout.retry_after(third) == 15 * 60
        assert "15 min" in third.message
        assert third.message_en is not None
        assert "Too many" in third.message_en
        # Locked: even the right password is refused, with the same message.
        with pytest.raises(AuthenticationError) as raised:
            accounts.authenticate(session, user.username, DEFAULT_PASSWORD, limits=LIMITS)
        assert lockout.retry_after(raised.value) == 15 * 60
    [event] = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "login.lockout",
            AuditEvent.object_id == lockout.user_key(user.username),
        )
    ).all()
    assert event.details["client"] == "10.0.0.1"
    with clock.frozen_at(start + dt.timedelta(minutes=5)):
        locked = _fail(session, user.username, client=None)
        assert lockout.retry_after(locked) == 10 * 60
        assert lockout.unlock(session, system, user.username) == 1
        assert accounts.authenticate(session, user.username, DEFAULT_PASSWORD, limits=LIMITS)
    assert session.scalars(select(AuditEvent.action).where(AuditEvent.action == "login.unlock"))
    with clock.frozen_at(start + dt.timedelta(minutes=31)):
        with pytest.raises(NotFoundError):  # nothing left to unlock
            lockout.unlock(session, system, user.username)
        with pytest.raises(PermissionDeniedError):
            lockout.unlock(session, actor_for(session, user), user.username)


def test_lock_expires_and_success_resets_the_count(session: Session) -> None:
    user = make_user(session)
    start = utcnow()
    with clock.frozen_at(start):
        _fail(session, user.username)
        _fail(session, user.username)
        accounts.authenticate(session, user.username, DEFAULT_PASSWORD, limits=LIMITS)
        assert session.get(LoginThrottle, lockout.user_key(user.username)) is None
        _fail(session, user.username)
        _fail(session, user.username)
        assert lockout.retry_after(_fail(session, user.username)) is not None
    with clock.frozen_at(start + dt.timedelta(minutes=16)):  # the lock is over
        accounts.authenticate(session, user.username, DEFAULT_PASSWORD, limits=LIMITS)
    with clock.frozen_at(start + dt.timedelta(minutes=20)):
        _fail(session, user.username)
        _fail(session, user.username)
    with clock.frozen_at(start + dt.timedelta(minutes=31)):  # the window slid: count anew
        assert lockout.retry_after(_fail(session, user.username)) is None


def test_unknown_accounts_lock_alike(session: Session) -> None:
    user = make_user(session)
    with clock.frozen_at(utcnow()):
        for _ in range(2):
            _fail(session, user.username, client=None)
            _fail(session, "personne-ici", client=None)
        real = _fail(session, user.username, client=None)
        ghost = _fail(session, "personne-ici", client=None)
    assert (real.message, real.hint, real.details) == (ghost.message, ghost.hint, ghost.details)
    assert user.username not in real.message


def test_client_address_is_limited_too(session: Session) -> None:
    users = [make_user(session) for _ in range(3)]
    with clock.frozen_at(utcnow()):
        for index in range(5):  # five different accounts, one failure each, same address
            error = _fail(session, users[index % 3].username if index < 3 else f"x{index}")
        assert lockout.retry_after(error) is not None
        with pytest.raises(AuthenticationError, match="Trop de tentatives"):
            accounts.authenticate(
                session, users[0].username, DEFAULT_PASSWORD, client="10.0.0.1", limits=LIMITS
            )
        # From another address the account still signs in.
        accounts.authenticate(
            session, users[0].username, DEFAULT_PASSWORD, client="10.0.0.2", limits=LIMITS
        )


def test_failures_survive_the_request_rollback(engine: Engine) -> None:
    """Failures are committed in a transaction of their own (several workers share them)."""
    factory = session_factory(engine)
    with transaction(factory) as session:
        username = make_user(session).username
    for _ in range(3):
        with factory() as session:  # a request that rolls back
            _fail(session, username)
            session.rollback()
    with factory() as session:
        row = session.get(LoginThrottle, lockout.user_key(username))
        assert row is not None
        assert row.locked_until is not None
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login.lockout")
        ).all()
        assert [e.object_id for e in events] == [lockout.user_key(username)]


# ---------------------------------------------------------------- licence acceptance


def test_registered_data_needs_the_licence_accepted(session: Session, system: Actor) -> None:
    org = make_org(session)
    dataset = make_dataset(session, publisher=org, access_level=AccessLevel.REGISTERED)
    reader = actor_for(session, make_user(session), surface="api")
    insider = actor_for(session, make_user(session, memberships={org: Role.VIEWER}))
    assert dataset.slug in visible_slugs(session, reader)  # the metadata is visible
    assert licence_pending(session, reader, dataset)
    assert not licence_pending(session, insider, dataset)
    assert not licence_pending(session, system, dataset)
    with pytest.raises(PermissionDeniedError, match="licence") as raised:
        readable_table(session, reader, dataset.slug)
    assert raised.value.details["accept"].endswith("/licence-acceptance")
    assert dataset.slug not in {t.slug for t in readable_tables(session, reader)}

    acceptance = accept_licence(session, reader, dataset.slug)
    assert (acceptance.licence, acceptance.surface) == (dataset.license, "api")
    assert accept_licence(session, reader, dataset.slug).id == acceptance.id  # idempotent
    assert not licence_pending(session, reader, dataset)
    with pytest.raises(NotFoundError):  # no published version yet: past the licence gate
        readable_table(session, reader, dataset.slug)
    [event] = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "licence.accept", AuditEvent.object_id == dataset.slug
        )
    ).all()
    assert event.details["licence"] == dataset.license

    # A new licence asks for a new acceptance.
    dataset.license = "odc-odbl"
    session.flush()
    assert licence_pending(session, reader, dataset)
    stored = session.scalars(
        select(LicenceAcceptance.licence).where(LicenceAcceptance.dataset_id == dataset.id)
    ).all()
    assert stored == [acceptance.licence]


def test_licence_acceptance_refusals(session: Session, system: Actor) -> None:
    registered = make_dataset(session, access_level=AccessLevel.REGISTERED)
    public = make_dataset(session)
    hidden = make_dataset(session, access_level=AccessLevel.ORGANIZATION)
    user = make_user(session)
    reader = actor_for(session, user)
    with pytest.raises(AuthenticationError):
        accept_licence(session, Actor.anonymous(), public.slug)
    with pytest.raises(NotFoundError):  # invisible: like a missing one
        accept_licence(session, Actor.anonymous(), registered.slug)
    with pytest.raises(NotFoundError):
        accept_licence(session, reader, hidden.slug)
    with pytest.raises(ConflictError):
        accept_licence(session, reader, public.slug)
    with pytest.raises(PermissionDeniedError):
        accept_licence(session, system, registered.slug)  # the operator has no account
    _, secret = accounts.create_token(session, system, user.username, "r", scope="read")
    with pytest.raises(PermissionDeniedError, match="lecture seule"):
        accept_licence(session, accounts.actor_from_token(session, secret), registered.slug)


# ---------------------------------------------------------------- append-only audit log


def test_audit_log_refuses_update_and_delete(engine: Engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as session:
        user = make_user(session)
        event = audit.record(session, actor_for(session, user), "test.event", "user", "x")
        session.flush()
        event_id, user_id = event.id, user.id
    for statement in (
        "UPDATE audit_event SET action = 'forged' WHERE id = :id",
        "UPDATE audit_event SET actor_user_id = 999 WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
        "DELETE FROM audit_event",
    ):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement), {"id": event_id})
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT action, actor_user_id FROM audit_event WHERE id = :id"),
            {"id": event_id},
        ).one()
        assert tuple(row) == ("test.event", user_id)
    # Deleting the user keeps the event (its actor label) and unlinks it, as the schema says.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM membership WHERE user_id = :id"), {"id": user_id})
        connection.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user_id})
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT action, actor_user_id, actor FROM audit_event WHERE id = :id"),
            {"id": event_id},
        ).one()
        assert tuple(row)[:2] == ("test.event", None)
        assert user.username in tuple(row)[2]


def test_list_audit_filters_and_pages(session: Session, system: Actor) -> None:
    user = make_user(session)
    token, secret = accounts.create_token(session, system, user.username, "t")
    by_token = accounts.actor_from_token(session, secret)
    dataset = make_dataset(session)
    audit.record(session, by_token, "test.read", "dataset", dataset.slug)
    audit.record(session, actor_for(session, user), "test.web", "dataset", dataset.slug)
    audit.record(session, actor_for(session, user), "other.web", "user", user.username)
    session.flush()
    admin = actor_for(session, make_user(session, is_platform_admin=True))
    mine = audit.list_audit(session, admin, audit.AuditFilters(actor=user.username))
    assert [e.action for e in mine.events] == ["other.web", "test.web", "test.read"]
    assert mine.events[-1].actor == f"user:{user.username} (token {token.id})"
    about = audit.list_audit(
        session, admin, audit.AuditFilters(dataset=dataset.slug, action="test.*")
    )
    assert [e.action for e in about.events] == ["test.web", "test.read"]
    assert {e.action for e in about.events} >= {"test.read"}
    api = audit.list_audit(session, admin, audit.AuditFilters(actor=user.username, surface="api"))
    assert [e.action for e in api.events] == ["test.read"]
    # Keyset pages: two, then one, then the end.
    first = audit.list_audit(session, admin, audit.AuditFilters(actor=user.username), limit=2)
    assert [e.action for e in first.events] == ["other.web", "test.web"]
    second = audit.list_audit(
        session, admin, audit.AuditFilters(actor=user.username), first.next_after, 2
    )
    assert ([e.action for e in second.events], second.next_after) == (["test.read"], None)
    later = audit.list_audit(session, admin, audit.AuditFilters(since=utcnow()))
    assert later.events == []
    with pytest.raises(InvalidInputError, match="fuseau"):
        audit.list_audit(session, admin, audit.AuditFilters(until=dt.datetime(2026, 1, 1)))  # noqa: DTZ001
    with pytest.raises(PermissionDeniedError):
        audit.list_audit(session, actor_for(session, user))
    lines = "".join(audit.audit_csv(session, admin, audit.AuditFilters(dataset=dataset.slug)))
    assert lines.splitlines()[0] == ",".join(audit.CSV_COLUMNS)
    assert len(lines.splitlines()) == 1 + len(
        audit.list_audit(session, admin, audit.AuditFilters(dataset=dataset.slug)).events
    )
