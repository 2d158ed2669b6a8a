"""Login rate limiting: failed passwords lock an account name, and a client address.

Failures are counted in the catalogue (table ``login_throttle``), so that every web worker
sees the same counts, per *account name as typed* (``user:<name>``, lower-cased, whether or
not such an account exists: the answer never tells which names exist) and per *client
address* (``ip:<address>``). ``max_failures`` failures within ``window`` lock the name (or
the address) for ``lockout``; while locked, even the right password is refused, with a
message saying when to retry. A successful sign-in clears the name's counter (not the
address's: one valid account must not let an address guess the passwords of others).
Failures are written in a transaction of their own, so that they survive the failed
request's rollback; each lock is written to the audit log (``login.lockout``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from contextlib import nullcontext
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from beffroi.access import clock
from beffroi.access.actors import Actor
from beffroi.access.policy import Action, require
from beffroi.catalog import audit
from beffroi.catalog.models import LoginThrottle
from beffroi.errors import AuthenticationError, NotFoundError, TooManyAttemptsError


@dataclasses.dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failures, counted over which window, lock for how long."""

    max_failures: int = 5
    max_failures_per_ip: int = 50
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout: dt.timedelta = dt.timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Any) -> LoginLimits:
        """The limits an instance's settings ask for."""
        return cls(
            max_failures=settings.login_max_failures,
            max_failures_per_ip=settings.login_max_failures_per_ip,
            window=dt.timedelta(minutes=settings.login_window_minutes),
            lockout=dt.timedelta(minutes=settings.login_lockout_minutes),
        )


def user_key(username: str) -> str:
    """The throttle key of an account name as typed."""
    return f"user:{username.strip().lower()[:190]}"


def ip_key(address: str) -> str:
    """The throttle key of a client address."""
    return f"ip:{address[:190]}"


def locked_error(until: dt.datetime, now: dt.datetime) -> TooManyAttemptsError:
    """The error answered while locked (identical for existing and unknown accounts).

    A :class:`~beffroi.errors.TooManyAttemptsError` (HTTP 429, ``too-many-attempts``; an
    :class:`AuthenticationError` still, for callers catching those): its message says when
    to retry, ``details['retry_after']`` holds the seconds (:func:`retry_after`), which the
    web layer sends as ``Retry-After``.
    """
    seconds = max(1, math.ceil((until - now).total_seconds()))
    minutes = max(1, math.ceil(seconds / 60))
    when = until.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return TooManyAttemptsError(
        "Trop de tentatives de connexion échouées : connexion bloquée pendant "
        f"{minutes} min (réessayez après {when})",
        hint="patientez, ou demandez à un administrateur de débloquer le compte "
        "(beffroi user unlock <identifiant>)",
        message_en=f"Too many failed sign-in attempts: sign-in blocked for {minutes} min "
        f"(try again after {when})",
        hint_en="wait, or ask an administrator to unlock the account "
        "(beffroi user unlock <username>)",
        details={"retry_after": seconds, "locked_until": until.isoformat()},
    )


def retry_after(error: AuthenticationError) -> int | None:
    """Seconds until a locked sign-in may be tried again (None: not a lock)."""
    value = error.details.get("retry_after")
    return value if isinstance(value, int) else None


def check_not_locked(session: Session, keys: list[str]) -> None:
    """Raise the lock's :class:`AuthenticationError` when any of ``keys`` is locked now."""
    now = clock.now()
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    until = max(
        (r.locked_until for r in rows if r.locked_until is not None and r.locked_until > now),
        default=None,
    )
    if until is not None:
        raise locked_error(until, now)


def record_failure(
    session: Session,
    keys: list[tuple[str, int]],
    limits: LoginLimits,
    *,
    surface: str,
    client: str | None,
) -> dt.datetime | None:
    """Count one failure for each ``(key, maximum)``, in a transaction of its own; the end of
    the lock this failure starts, if it starts one."""
    now = clock.now()
    started: dt.datetime | None = None
    bind = session.get_bind()
    # Inside a caller's transaction (tests, scripts), count in it; else in one of our own,
    # committed even though the failed request rolls back.
    with nullcontext(session) if isinstance(bind, Connection) else Session(bind=bind) as own:
        for key, maximum in keys:
            row = own.get(LoginThrottle, key, with_for_update=True)
            if row is None:
                row = LoginThrottle(key=key, failures=0, window_started_at=now, last_failure_at=now)
                own.add(row)
                try:
                    with own.begin_nested():
                        own.flush()
                except IntegrityError:  # another worker counted the first failure meanwhile
                    row = own.get(LoginThrottle, key, with_for_update=True)
                    assert row is not None  # noqa: S101 - it was just inserted
            if now - row.window_started_at > limits.window:
                row.failures, row.window_started_at = 0, now
            # An atomic increment: failures of concurrent workers all count.
            own.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(failures=LoginThrottle.failures + 1, last_failure_at=now)
            )
            own.refresh(row)
            if row.failures >= maximum and (row.locked_until is None or row.locked_until <= now):
                row.locked_until = now + limits.lockout
                row.failures, row.window_started_at = 0, now
                started = row.locked_until
                audit.record(
                    own,
                    Actor.anonymous(surface=surface),
                    "login.lockout",
                    "login",
                    key,
                    {
                        "failures": maximum,
                        "locked_until": row.locked_until.isoformat(),
                        "client": client,
                    },
                )
        if own is not session:
            own.commit()
        else:
            own.flush()
    return started


def clear(session: Session, username: str) -> None:
    """A successful sign-in: the account name's counter starts again from zero."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == user_key(username)))


def unlock(
    session: Session, actor: Actor, username: str | None = None, *, ip: str | None = None
) -> int:
    """Lift the lock (and the count) of an account name or a client address (platform
    administrators); how many locks were lifted."""
    require(actor, Action.USER_MANAGE)
    keys = [k for k in (username and user_key(username), ip and ip_key(ip)) if k]
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    if not rows:
        raise NotFoundError(
            f"Aucun échec de connexion enregistré pour {', '.join(keys) or '?'}",
            hint="rien à débloquer : vérifiez l'identifiant ou l'adresse",
            message_en=f"No failed sign-in recorded for {', '.join(keys) or '?'}",
            hint_en="nothing to unlock: check the username or the address",
        )
    now = clock.now()
    lifted = sum(1 for r in rows if r.locked_until is not None and r.locked_until > now)
    for row in rows:
        audit.record(
            session,
            actor,
            "login.unlock",
            "login",
            row.key,
            {"was_locked": row.locked_until is not None and row.locked_until > now},
        )
        session.delete(row)
    return lifted


__all__ = [
    "LoginLimits",
    "check_not_locked",
    "clear",
    "ip_key",
    "record_failure",
    "retry_after",
    "unlock",
    "user_key",
]
