"""API tokens: the caller's own (list, create — the secret shown once — revoke); all of
them for platform administrators (``?all=1``).

``POST /api/v1/tokens`` also accepts the account's password (``Authorization: Basic``), so
that a script can get its first token; those sign-ins are rate limited like the form's
(while locked: 429 Too Many Requests with ``Retry-After``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from beffroi.access import Actor, accounts
from beffroi.access.accounts import TokenInfo
from beffroi.access.lockout import LoginLimits, retry_after
from beffroi.access.policy import Action, require
from beffroi.catalog.models import TokenScope
from beffroi.errors import AuthenticationError, TooManyAttemptsError
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep, get_actor
from beffroi.web.errors import render_error

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERROR_RESPONSES)


class TokenCreate(BaseModel):
    """What a new token may do, and for how long."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="What the token is for.")
    scope: TokenScope = Field(
        default=TokenScope.WRITE, description="`read` (changes nothing) or `write`."
    )
    datasets: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Slugs of the only datasets the token reaches (absent: no limit).",
    )
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        description="Lifetime in days (absent: the instance's maximum, BEFFROI_TOKEN_MAX_DAYS).",
    )


class TokenPublic(BaseModel):
    """A token as listed (its secret is never stored, so never shown again)."""

    id: int
    user: str
    name: str
    prefix: str
    scope: str
    datasets: list[str] | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    active: bool


class TokenCreated(TokenPublic):
    """A new token, with its secret: shown this once."""

    secret: str


def _public(info: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=info.id,
        user=info.username,
        name=info.name,
        prefix=info.prefix,
        scope=info.scope,
        datasets=info.datasets,
        created_at=info.created_at,
        expires_at=info.expires_at,
        last_used_at=info.last_used_at,
        revoked_at=info.revoked_at,
        active=info.active,
    )


def _basic_credentials(header: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        raise AuthenticationError(
            "En-tête Authorization Basic mal formé",
            hint="écrivez : Authorization: Basic base64(identifiant:mot de passe)",
            message_en="Malformed Authorization Basic header",
            hint_en="write: Authorization: Basic base64(username:password)",
        )
    return username, password


def _caller(request: Request, session: SessionDep, settings: SettingsDep) -> Actor:
    """Bearer token or session as everywhere, or the account's password (Basic)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return get_actor(request, session)
    username, password = _basic_credentials(credentials)
    user = accounts.authenticate(
        session,
        username,
        password,
        client=request.client.host if request.client else None,
        limits=LoginLimits.from_settings(settings),
        surface="api",
    )
    return Actor.for_user(accounts.get_user(session, user.username), surface="api")


@router.get("", response_model=list[TokenPublic])
def list_tokens(
    session: SessionDep,
    actor: ActorDep,
    all_: Annotated[
        bool, Query(alias="all", description="Every user's tokens (administrators).")
    ] = False,
    user: Annotated[str | None, Query(description="This user's tokens (administrators).")] = None,
) -> list[TokenPublic]:
    """The caller's tokens, newest first (revoked and expired ones too, marked inactive)."""
    found = accounts.list_tokens(session, actor, username=user, all_users=all_)
    return [_public(info) for info in found]


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenCreate, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenCreated | Response:
    """A new token of the caller: the secret is in this answer only."""
    try:
        actor = _caller(request, session, settings)
    except TooManyAttemptsError as exc:  # 429, same for unknown accounts: says when to retry
        locked = render_error(request, exc)
        locked.headers["Retry-After"] = str(retry_after(exc) or 1)
        return locked
    if actor.username is None or actor.user_id is None:
        require(actor, Action.USER_MANAGE)  # anonymous: 401, sign in first
    token, secret = accounts.create_token(
        session,
        actor,
        str(actor.username),
        body.name,
        expires_in_days=body.expires_in_days,
        scope=body.scope,
        datasets=body.datasets,
        max_days=settings.token_max_days,
    )
    session.commit()
    [info] = [t for t in accounts.list_tokens(session, actor) if t.id == token.id]
    return TokenCreated(**_public(info).model_dump(), secret=secret)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: int, session: SessionDep, actor: ActorDep) -> Response:
    """Revoke a token at once (its owner, or a platform administrator)."""
    accounts.revoke_token(session, actor, token_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
