"""FastAPI dependencies: settings, database session, the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Actor
from beffroi.access.accounts import actor_from_token, actor_from_web_session
from beffroi.errors import AuthenticationError
from beffroi.jobs import JobRunner
from beffroi.settings import Settings
from beffroi.web.security import SESSION_COOKIE


def get_settings(request: Request) -> Settings:
    """The instance settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A database session per request; writes commit explicitly, the rest is rolled back."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


@contextmanager
def short_session(request: Request) -> Iterator[Session]:
    """A session of its own, for template globals that read outside the request's handler."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_actor(request: Request, session: SessionDep) -> Actor:
    """Who is calling: bearer token (API), session cookie (browser), else anonymous."""
    surface = "api" if request.url.path.startswith("/api/") else "web"
    header = request.headers.get("authorization")
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthenticationError(
                "En-tête Authorization mal formé",
                hint="écrivez : Authorization: Bearer <jeton>",
            )
        actor = actor_from_token(session, credentials.strip(), surface=surface)
        session.commit()  # records last_used_at
        return actor
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        actor_or_none = actor_from_web_session(session, cookie)
        if actor_or_none is not None:
            return actor_or_none
    return Actor.anonymous(surface=surface)


ActorDep = Annotated[Actor, Depends(get_actor)]


def get_jobs(request: Request) -> JobRunner:
    """The background job runner of the application."""
    runner: JobRunner = request.app.state.jobs
    return runner


JobsDep = Annotated[JobRunner, Depends(get_jobs)]
