"""Accounts: users, memberships, passwords (argon2), API tokens and web sessions."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from beffroi.access import clock, lockout
from beffroi.access.actors import Actor
from beffroi.access.lockout import LoginLimits
from beffroi.access.policy import Action, not_found, readable_datasets, require
from beffroi.catalog import audit
from beffroi.catalog.models import (
    ApiToken,
    ApiTokenScope,
    Dataset,
    Membership,
    TokenScope,
    User,
    WebSession,
    utcnow,
)
from beffroi.catalog.schemas import MembershipCreate, UserCreate
from beffroi.catalog.services import get_organization
from beffroi.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "bfr_"  # noqa: S105 - a public prefix, not a secret
DEFAULT_TOKEN_MAX_DAYS = 365
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


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    client: str | None = None,
    limits: LoginLimits | None = None,
    surface: str = "web",
) -> User:
    """The active user with these credentials, else AuthenticationError (same for any cause).

    Failures are rate limited (:mod:`beffroi.access.lockout`): too many for one account
    name, or from one ``client`` address, lock sign-in for a while, whether the account
    exists or not; the error then says when to retry.
    """
    limits = limits or LoginLimits()
    keys = [lockout.user_key(username)] + ([lockout.ip_key(client)] if client else [])
    lockout.check_not_locked(session, keys)
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
        counted = [(keys[0], limits.max_failures)]
        if client:
            counted.append((keys[1], limits.max_failures_per_ip))
        until = lockout.record_failure(session, counted, limits, surface=surface, client=client)
        if until is not None:
            raise lockout.locked_error(until, clock.now())
        raise AuthenticationError(
            "Identifiant ou mot de passe incorrect",
            hint="vérifiez la saisie ; un administrateur peut réinitialiser le mot de passe",
            message_en="Wrong username or password",
            hint_en="check what you typed; an administrator can reset the password",
        )
    lockout.clear(session, username)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


# ---------------------------------------------------------------- API tokens


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is shown of an API token (never its secret, which is not stored)."""

    id: int
    username: str
    name: str
    prefix: str
    scope: str
    datasets: list[str] | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > clock.now()
        )


def _limit_to(session: Session, user: User, slugs: Sequence[str]) -> list[int]:
    """Ids of the datasets a token is limited to: each must be readable by its user."""
    reader = Actor.for_user(user, surface="api")
    found = dict(
        session.execute(
            select(Dataset.slug, Dataset.id).where(
                Dataset.slug.in_(sorted(set(slugs))), readable_datasets(reader)
            )
        ).all()
    )
    for slug in slugs:
        if slug not in found:
            raise not_found("Jeu de données", slug)
    return sorted(set(found.values()))


def create_token(
    session: Session,
    actor: Actor,
    username: str,
    name: str,
    *,
    expires_in_days: int | None = None,
    scope: TokenScope | str = TokenScope.WRITE,
    datasets: Sequence[str] | None = None,
    max_days: int = DEFAULT_TOKEN_MAX_DAYS,
) -> tuple[ApiToken, str]:
    """A new API token for a user; the secret is returned once and never stored.

    ``scope``: ``read`` (no action at all) or ``write``; ``datasets``: slugs of the only
    datasets it reaches (each readable by the user; None: no limit). Every token expires:
    after ``expires_in_days`` (at most ``max_days``, the default).
    """
    if actor.token_id is not None and (actor.read_only or actor.token_datasets is not None):
        raise PermissionDeniedError(
            "Un jeton en lecture seule ou limité à des jeux de données ne crée pas de jeton",
            hint="connectez-vous, ou utilisez un jeton write sans limite",
            message_en="A read-only or dataset-limited token cannot create tokens",
            hint_en="sign in, or use a write token without a dataset limit",
        )
    user = get_user(session, username)
    if actor.user_id != user.id:
        require(actor, Action.USER_MANAGE)
    try:
        scope = TokenScope(scope)
    except ValueError:
        raise InvalidInputError(
            f"Portée de jeton inconnue : {scope}",
            hint="choisissez read ou write",
            message_en=f"Unknown token scope: {scope}",
            hint_en="choose read or write",
        ) from None
    days = max_days if expires_in_days is None else expires_in_days
    if not 1 <= days <= max_days:
        raise InvalidInputError(
            f"Durée de validité hors limites : {days} jours",
            hint=f"entre 1 et {max_days} jours (réglage BEFFROI_TOKEN_MAX_DAYS)",
            message_en=f"Lifetime out of bounds: {days} days",
            hint_en=f"between 1 and {max_days} days (setting BEFFROI_TOKEN_MAX_DAYS)",
        )
    dataset_ids = None if datasets is None else _limit_to(session, user, datasets)
    if dataset_ids == []:
        raise InvalidInputError(
            "Liste de jeux de données vide",
            hint="nommez au moins un jeu de données, ou aucun pour ne pas limiter le jeton",
            message_en="Empty dataset list",
            hint_en="name at least one dataset, or none for a token without a limit",
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=days)
    token = ApiToken(
        user=user, name=name, prefix=secret[:12], digest=_digest(secret), expires_at=expires
    )
    session.add(token)
    session.flush()
    session.add(ApiTokenScope(token_id=token.id, scope=scope.value, dataset_ids=dataset_ids))
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
            "expires_at": expires.isoformat(),
            "scope": scope.value,
            "datasets": list(datasets) if datasets is not None else None,
        },
    )
    return token, secret


def _token_of(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """A token its owner or a platform administrator may manage."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError(
            f"Jeton introuvable : {token_id}",
            hint="vérifiez son numéro (GET /api/v1/tokens, beffroi token list)",
            message_en=f"Token not found: {token_id}",
            hint_en="check its number (GET /api/v1/tokens, beffroi token list)",
        )
    if actor.user_id != token.user_id:
        require(actor, Action.USER_MANAGE)
    return token


def revoke_token(session: Session, actor: Actor, token_id: int) -> None:
    """Revoke a token at once (its owner or an administrator)."""
    token = _token_of(session, actor, token_id)
    if actor.read_only:
        require(actor, Action.USER_MANAGE)  # raises: a read token changes nothing
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    audit.record(
        session, actor, "token.revoke", "user", token.user.username, {"token_id": token_id}
    )


def list_tokens(
    session: Session, actor: Actor, *, username: str | None = None, all_users: bool = False
) -> list[TokenInfo]:
    """The actor's own tokens (or ``username``'s, or everyone's with ``all_users``: those
    two for platform administrators only), newest first."""
    query = (
        select(ApiToken, ApiTokenScope, User.username)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(ApiTokenScope, ApiTokenScope.token_id == ApiToken.id)
        .order_by(ApiToken.id.desc())
    )
    if all_users or (username is not None and username != actor.username):
        require(actor, Action.USER_MANAGE)
        if username is not None:
            query = query.where(User.id == get_user(session, username).id)
    elif actor.user_id is None:
        require(actor, Action.USER_MANAGE)
        return []
    else:
        query = query.where(ApiToken.user_id == actor.user_id)
    rows = session.execute(query).all()
    ids = {i for _, scope, _ in rows if scope and scope.dataset_ids for i in scope.dataset_ids}
    slugs = dict(session.execute(select(Dataset.id, Dataset.slug).where(Dataset.id.in_(ids))).all())
    return [
        TokenInfo(
            id=token.id,
            username=owner,
            name=token.name,
            prefix=token.prefix,
            scope=scope.scope if scope else TokenScope.WRITE.value,
            datasets=None
            if scope is None or scope.dataset_ids is None
            else [slugs.get(i, f"#{i}") for i in scope.dataset_ids],
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )
        for token, scope, owner in rows
    ]


def actor_from_token(session: Session, secret: str, *, surface: str = "api") -> Actor:
    """The actor a bearer token stands for, with the token's scope; AuthenticationError
    when invalid."""
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
            message_en="Invalid, expired or revoked API token",
            hint_en="create a new token: `beffroi token create <username>`",
        )
    token.last_used_at = now
    user = get_user(session, token.user.username)
    scope = session.get(ApiTokenScope, token.id)
    return Actor.for_user(
        user,
        surface=surface,
        token_id=token.id,
        token_scope=scope.scope if scope else TokenScope.WRITE.value,
        token_datasets=None
        if scope is None or scope.dataset_ids is None
        else frozenset(scope.dataset_ids),
    )


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
