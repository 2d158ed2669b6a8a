"""Accounts: argon2 passwords, authentication, API tokens and web sessions (both backends).

These tests keep the real argon2 parameters: they are what is under test.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from beffroi.access import Actor, ActorKind, accounts
from beffroi.catalog.models import ApiToken, AuditEvent, Role, User, WebSession, utcnow
from beffroi.catalog.schemas import MembershipCreate, UserCreate, parse
from beffroi.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from tests.factories import DEFAULT_PASSWORD, actor_for, make_org, make_user

HOUR = dt.timedelta(hours=1)


def dump_database(session: Session) -> str:
    """Every value of every row of the token and session tables, as one string."""
    session.flush()
    rows: list[str] = []
    for table in ("api_token", "web_session", "audit_event"):
        rows += [repr(tuple(row)) for row in session.execute(text(f"SELECT * FROM {table}"))]  # noqa: S608
    return "\n".join(rows)


# ---------------------------------------------------------------- passwords


def test_password_is_stored_as_argon2_hash(session: Session) -> None:
    user = make_user(session, password=DEFAULT_PASSWORD)
    assert DEFAULT_PASSWORD not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    PasswordHasher().verify(user.password_hash, DEFAULT_PASSWORD)
    other = make_user(session, password=DEFAULT_PASSWORD)
    assert other.password_hash != user.password_hash  # salted


def test_authenticate(session: Session) -> None:
    user = make_user(session)
    assert user.last_login_at is None
    assert accounts.authenticate(session, user.username, DEFAULT_PASSWORD).id == user.id
    assert user.last_login_at is not None


def _auth_error(session: Session, username: str, password: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as raised:
        accounts.authenticate(session, username, password)
    return raised.value


def test_authentication_failures_look_alike(session: Session) -> None:
    user = make_user(session)
    inactive = make_user(session)
    inactive.is_active = False
    session.flush()
    errors = [
        _auth_error(session, user.username, "wrong password!"),
        _auth_error(session, "nobody-here", DEFAULT_PASSWORD),
        _auth_error(session, inactive.username, DEFAULT_PASSWORD),
    ]
    assert {(e.message, e.hint) for e in errors} == {(errors[0].message, errors[0].hint)}
    assert user.username not in errors[0].message


def test_set_password(session: Session, system: Actor) -> None:
    user = make_user(session)
    accounts.open_web_session(session, user, HOUR)
    accounts.set_password(session, system, user.username, "another long password")
    accounts.authenticate(session, user.username, "another long password")
    with pytest.raises(AuthenticationError):
        accounts.authenticate(session, user.username, DEFAULT_PASSWORD)
    session.flush()
    count = select(func.count()).select_from(WebSession).where(WebSession.user_id == user.id)
    assert session.scalar(count) == 0  # signed out everywhere
    with pytest.raises(InvalidInputError, match="court"):
        accounts.set_password(session, system, user.username, "short")
    with pytest.raises(PermissionDeniedError):
        accounts.set_password(session, actor_for(session, user), user.username, "x" * 20)


def test_create_user_conflicts_and_permissions(session: Session, system: Actor) -> None:
    user = make_user(session)
    with pytest.raises(ConflictError):
        make_user(session, username=user.username, email="autre@example.org")
    with pytest.raises(ConflictError):
        make_user(session, email=user.email)
    data = parse(
        UserCreate, {"username": "nouvelle", "email": "n@example.org", "password": "x" * 12}
    )
    with pytest.raises(PermissionDeniedError):
        accounts.create_user(session, actor_for(session, user), data)
    with pytest.raises(NotFoundError):
        accounts.get_user(session, "nouvelle")


def test_add_member_replaces_role(session: Session, system: Actor) -> None:
    org = make_org(session)
    user = make_user(session, memberships={org: Role.VIEWER})
    org_admin = actor_for(session, make_user(session, memberships={org: Role.ADMIN}))
    membership = accounts.add_member(
        session,
        org_admin,
        parse(
            MembershipCreate,
            {"username": user.username, "organization": org.slug, "role": "steward"},
        ),
    )
    assert membership.role == "steward"
    assert actor_for(session, user).roles == {org.id: Role.STEWARD}
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "membership.set").order_by(AuditEvent.id)
    ).all()[-1]
    assert event.details == {"user": user.username, "role": "steward", "previous": "viewer"}
    with pytest.raises(PermissionDeniedError):  # a steward does not manage members
        accounts.add_member(
            session,
            actor_for(session, user),
            parse(
                MembershipCreate,
                {"username": user.username, "organization": org.slug, "role": "admin"},
            ),
        )


# ---------------------------------------------------------------- API tokens


def test_token_secret_is_never_stored(session: Session, system: Actor) -> None:
    user = make_user(session)
    token, secret = accounts.create_token(session, system, user.username, "intégration")
    assert secret.startswith("bfr_")
    assert len(secret) > 40
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    assert token.expires_at is not None  # every token expires: the maximum by default
    assert 364 * 24 * HOUR < token.expires_at - utcnow() <= 365 * 24 * HOUR
    stored = dump_database(session)
    assert token.digest in stored
    assert secret not in stored
    assert secret[12:] not in stored  # nor the part after the displayed prefix


def test_actor_from_token(session: Session, system: Actor) -> None:
    org = make_org(session)
    user = make_user(session, memberships={org: Role.EDITOR})
    token, secret = accounts.create_token(session, system, user.username, "script")
    actor = accounts.actor_from_token(session, secret)
    assert (actor.kind, actor.user_id, actor.token_id, actor.surface) == (
        ActorKind.TOKEN,
        user.id,
        token.id,
        "api",
    )
    assert actor.roles == {org.id: Role.EDITOR}
    assert actor.label == f"user:{user.username} (token {token.id})"
    assert token.last_used_at is not None


def test_unknown_token_fails(session: Session) -> None:
    with pytest.raises(AuthenticationError):
        accounts.actor_from_token(session, "bfr_" + "x" * 43)


def test_revoked_token_fails(session: Session, system: Actor) -> None:
    user = make_user(session)
    token, secret = accounts.create_token(session, system, user.username, "jetable")
    accounts.actor_from_token(session, secret)
    accounts.revoke_token(session, actor_for(session, user), token.id)  # its owner may
    assert token.revoked_at is not None
    with pytest.raises(AuthenticationError, match="révoqué"):
        accounts.actor_from_token(session, secret)


def test_expired_token_fails(session: Session, system: Actor) -> None:
    user = make_user(session)
    token, secret = accounts.create_token(
        session, system, user.username, "court", expires_in_days=1
    )
    assert token.expires_at is not None
    assert HOUR * 23 < token.expires_at - utcnow() <= HOUR * 24
    accounts.actor_from_token(session, secret)
    token.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    with pytest.raises(AuthenticationError):
        accounts.actor_from_token(session, secret)


def test_token_of_inactive_user_fails(session: Session, system: Actor) -> None:
    user = make_user(session)
    _, secret = accounts.create_token(session, system, user.username, "ancien")
    user.is_active = False
    session.flush()
    with pytest.raises(AuthenticationError):
        accounts.actor_from_token(session, secret)


def test_token_for_someone_else_needs_admin(session: Session) -> None:
    org = make_org(session)
    alice = make_user(session, memberships={org: Role.ADMIN})
    bob = make_user(session)
    alice_actor = actor_for(session, alice)
    token, _ = accounts.create_token(session, alice_actor, alice.username, "le mien")
    with pytest.raises(PermissionDeniedError):
        accounts.create_token(session, alice_actor, bob.username, "pour bob")
    with pytest.raises(PermissionDeniedError):  # nor revoke someone else's
        accounts.revoke_token(session, actor_for(session, bob), token.id)
    with pytest.raises(AuthenticationError):
        accounts.create_token(session, Actor.anonymous(), bob.username, "anonyme")
    admin = actor_for(session, make_user(session, is_platform_admin=True))
    _, secret = accounts.create_token(session, admin, bob.username, "par l'admin")
    assert accounts.actor_from_token(session, secret).user_id == bob.id
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == bob.id)).all()
    assert len(tokens) == 1
    with pytest.raises(NotFoundError):
        accounts.revoke_token(session, admin, 999_999)


# ---------------------------------------------------------------- web sessions


def test_web_session_lifecycle(session: Session) -> None:
    org = make_org(session)
    user = make_user(session, memberships={org: Role.VIEWER})
    secret = accounts.open_web_session(session, user, HOUR)
    session.flush()
    stored = session.scalars(select(WebSession).where(WebSession.user_id == user.id)).one()
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in dump_database(session)
    assert HOUR - dt.timedelta(minutes=1) < stored.expires_at - utcnow() <= HOUR

    actor = accounts.actor_from_web_session(session, secret)
    assert actor is not None
    assert (actor.kind, actor.user_id, actor.surface) == (ActorKind.USER, user.id, "web")
    assert actor.roles == {org.id: Role.VIEWER}
    assert accounts.actor_from_web_session(session, secret + "x") is None

    accounts.close_web_session(session, secret)
    session.flush()
    assert accounts.actor_from_web_session(session, secret) is None
    accounts.close_web_session(session, secret)  # closing twice is harmless
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == user.username)
    ).all()
    assert "session.open" in actions
    assert "session.close" in actions


def test_web_session_expires(session: Session) -> None:
    user = make_user(session)
    secret = accounts.open_web_session(session, user, HOUR)
    session.flush()
    assert accounts.actor_from_web_session(session, secret) is not None
    stored = session.scalars(select(WebSession).where(WebSession.user_id == user.id)).one()
    stored.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    assert accounts.actor_from_web_session(session, secret) is None


def test_web_session_of_deactivated_user(session: Session) -> None:
    user: User = make_user(session)
    secret = accounts.open_web_session(session, user, HOUR)
    user.is_active = False
    session.flush()
    assert accounts.actor_from_web_session(session, secret) is None
