"""Accounts: users, memberships, passwords (argon2), API tokens and web sessions."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from beffroi.access.actors import Actor
from beffroi.access.policy import Action, require
from beffroi.catalog import audit
from beffroi.catalog.models import ApiToken, Membership, User, WebSession, utcnow
from beffroi.catalog.schemas import MembershipCreate, UserCreate
from beffroi.catalog.services import get_organization
from beffroi.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError

MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "bfr_"  # noqa: S105 - a public prefix, not a secret
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A valid hash of a random password, verified when the user does not exist so that
    timing does not reveal which usernames exist (computed on first use: hashing is slow)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def _digest(secret: str) -> str:
    # Tokens and session ids are 256-bit random values: a plain SHA-256 is enough to
    # make a stolen database useless, and lets us look them up by digest.
    return hashlib.sha256(secret.encode()).hexdigest()


def get_user(session: Session, username: str) -> User:
    """A user by username."""
    user = session.scalar(
        select(User)
        .where(User.username == username)
        .options(selectinload(User.memberships).selectinload(Membership.organization))
    )
    if user is None:
        raise NotFoundError(
            f"Utilisateur introuvable : {username}", hint="`beffroi user list` liste les comptes"
        )
    return user


def list_users(session: Session) -> list[User]:
    """All users, by username."""
    query = (
        select(User)
        .order_by(User.username)
        .options(selectinload(User.memberships).selectinload(Membership.organization))
    )
    return list(session.scalars(query))


def create_user(session: Session, actor: Actor, data: UserCreate) -> User:
    """Create an account (platform administrators only)."""
    require(actor, Action.USER_MANAGE)
    clash = session.scalar(
        select(User.username).where((User.username == data.username) | (User.email == data.email))
    )
    if clash is not None:
        raise ConflictError(
            f"Un compte existe déjà avec l'identifiant ou l'e-mail demandé ({clash})",
            hint="choisissez un autre identifiant ou e-mail",
        )
    user = User(
        username=data.username,
        email=str(data.email),
        full_name=data.full_name,
        password_hash=hash_password(data.password),
        is_platform_admin=data.is_platform_admin,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.username,
        {"is_platform_admin": user.is_platform_admin},
    )
    return user


def set_password(session: Session, actor: Actor, username: str, password: str) -> None:
    """Replace a user's password (platform administrators only)."""
    require(actor, Action.USER_MANAGE)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"Mot de passe trop court ({len(password)} caractères)",
            hint=f"choisissez au moins {MIN_PASSWORD_LENGTH} caractères",
        )
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    # A new password signs the user out everywhere.
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit.record(session, actor, "user.password", "user", username)


def add_member(session: Session, actor: Actor, data: MembershipCreate) -> Membership:
    """Give a user a role in an organisation (replaces a previous role there)."""
    org = get_organization(session, data.organization)
    require(actor, Action.MEMBER_MANAGE, org.id)
    user = get_user(session, data.username)
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organization_id == org.id
        )
    )
    previous = membership.role if membership else None
    if membership is None:
        membership = Membership(user=user, organization=org, role=data.role.value)
        session.add(membership)
    else:
        membership.role = data.role.value
    session.flush()
    audit.record(
        session,
        actor,
        "membership.set",
        "organization",
        org.slug,
        {"user": user.username, "role": data.role.value, "previous": previous},
    )
    return membership


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials, else AuthenticationError (same for any cause)."""
    user = session.scalar(
        select(User)
        .where(User.username == username)
        .options(selectinload(User.memberships).selectinload(Membership.organization))
    )
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.is_active:
        raise AuthenticationError(
            "Identifiant ou mot de passe incorrect",
            hint="vérifiez la saisie ; un administrateur peut réinitialiser le mot de passe",
        )
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


# ---------------------------------------------------------------- API tokens


def create_token(
    session: Session,
    actor: Actor,
    username: str,
    name: str,
    *,
    expires_in_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A new API token for a user; the secret is returned once and never stored."""
    user = get_user(session, username)
    if actor.user_id != user.id:
        require(actor, Action.USER_MANAGE)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken(
        user=user, name=name, prefix=secret[:12], digest=_digest(secret), expires_at=expires
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "token.create",
        "user",
        user.username,
        {
            "token_id": token.id,
            "name": name,
            "expires_at": expires.isoformat() if expires else None,
        },
    )
    return token, secret


def revoke_token(session: Session, actor: Actor, token_id: int) -> None:
    """Revoke a token at once (its owner or an administrator)."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError(f"Jeton introuvable : {token_id}", hint="vérifiez son numéro")
    if actor.user_id != token.user_id:
        require(actor, Action.USER_MANAGE)
    token.revoked_at = utcnow()
    audit.record(
        session, actor, "token.revoke", "user", token.user.username, {"token_id": token_id}
    )


def actor_from_token(session: Session, secret: str, *, surface: str = "api") -> Actor:
    """The actor a bearer token stands for; AuthenticationError when invalid."""
    token = session.scalar(select(ApiToken).where(ApiToken.digest == _digest(secret)))
    now = utcnow()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or not token.user.is_active
    ):
        raise AuthenticationError(
            "Jeton d'API invalide, expiré ou révoqué",
            hint="créez un nouveau jeton : `beffroi token create <utilisateur>`",
        )
    token.last_used_at = now
    user = get_user(session, token.user.username)
    return Actor.for_user(user, surface=surface, token_id=token.id)


# ---------------------------------------------------------------- web sessions


def open_web_session(session: Session, user: User, lifetime: dt.timedelta) -> str:
    """Start a browser session; returns the cookie value (stored only hashed)."""
    secret = secrets.token_urlsafe(32)
    session.add(WebSession(digest=_digest(secret), user_id=user.id, expires_at=utcnow() + lifetime))
    audit.record(
        session, Actor.for_user(user, surface="web"), "session.open", "user", user.username
    )
    return secret


def actor_from_web_session(session: Session, secret: str) -> Actor | None:
    """The signed-in actor of a session cookie, or None when absent or expired."""
    web_session = session.scalar(select(WebSession).where(WebSession.digest == _digest(secret)))
    if web_session is None or web_session.expires_at <= utcnow():
        return None
    user = get_user(session, web_session.user.username)
    if not user.is_active:
        return None
    return Actor.for_user(user, surface="web")


def close_web_session(session: Session, secret: str) -> None:
    """Sign out: the session id stops working at once."""
    web_session = session.scalar(select(WebSession).where(WebSession.digest == _digest(secret)))
    if web_session is not None:
        audit.record(
            session,
            Actor.for_user(web_session.user, surface="web"),
            "session.close",
            "user",
            web_session.user.username,
        )
        session.delete(web_session)
