"""The audit log: one event for every change, written in the same transaction.

The log is append-only: triggers of the catalogue (migration 0007, on SQLite and
PostgreSQL) refuse every UPDATE and DELETE of ``audit_event``. Platform administrators read
it with :func:`list_audit` (filters, keyset pages) and :func:`audit_csv` (the whole
export, streamed).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from beffroi.access.actors import Actor
from beffroi.access.policy import Action, require
from beffroi.catalog.models import AuditEvent
from beffroi.errors import InvalidInputError


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    details: dict[str, Any] | None = None,
    /,
) -> AuditEvent:
    """Add an audit event to the current transaction (it commits or rolls back with it)."""
    event = AuditEvent(
        actor=actor.label,
        actor_user_id=actor.user_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        surface=actor.surface,
        details=details or {},
    )
    session.add(event)
    return event


# ---------------------------------------------------------------- reading the log (admins)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """Which events to list; every field is optional (None: no condition)."""

    actor: str | None = None
    """A username (its sessions and tokens) or an exact actor label (``system:cli``)."""
    dataset: str | None = None
    """A dataset slug: events about it (``object_type`` dataset)."""
    surface: str | None = None
    """``web``, ``api``, ``cli``…"""
    action: str | None = None
    """An exact action (``token.create``) or a prefix ending in ``*`` (``token.*``)."""
    since: dt.datetime | None = None
    """Events at or after this moment."""
    until: dt.datetime | None = None
    """Events strictly before this moment."""


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Events, newest first, and the cursor of the next (older) page."""

    events: list[AuditEvent]
    next_after: int | None


MAX_AUDIT_PAGE = 1000
CSV_COLUMNS = ("id", "at", "actor", "action", "object_type", "object_id", "surface", "details")


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(filters: AuditFilters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.actor:
        name = filters.actor
        found.append(
            or_(
                AuditEvent.actor == name,
                AuditEvent.actor == f"user:{name}",
                AuditEvent.actor.like(f"user:{_like_escape(name)} (token %", escape="\\"),
            )
        )
    if filters.dataset:
        found.append(
            and_(AuditEvent.object_type == "dataset", AuditEvent.object_id == filters.dataset)
        )
    if filters.surface:
        found.append(AuditEvent.surface == filters.surface)
    if filters.action:
        if filters.action.endswith("*"):
            prefix = _like_escape(filters.action[:-1])
            found.append(AuditEvent.action.like(f"{prefix}%", escape="\\"))
        else:
            found.append(AuditEvent.action == filters.action)
    for moment in (filters.since, filters.until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInputError(
                f"Date sans fuseau horaire : {moment.isoformat()}",
                hint="ajoutez le fuseau, par exemple 2026-12-01T00:00:00Z",
                message_en=f"Date without a time zone: {moment.isoformat()}",
                hint_en="add the time zone, for example 2026-12-01T00:00:00Z",
            )
    if filters.since is not None:
        found.append(AuditEvent.at >= filters.since)
    if filters.until is not None:
        found.append(AuditEvent.at < filters.until)
    return found


def list_audit(
    session: Session,
    actor: Actor,
    filters: AuditFilters | None = None,
    after: int | None = None,
    limit: int = 100,
) -> AuditPage:
    """A page of the audit log, newest first (platform administrators only).

    Keyset paging: ``after`` is the ``next_after`` of the previous page (events with a
    smaller id), so pages stay right while new events are written.
    """
    require(actor, Action.AUDIT_READ)
    limit = max(1, min(limit, MAX_AUDIT_PAGE))
    query = select(AuditEvent).where(*_conditions(filters or AuditFilters()))
    if after is not None:
        query = query.where(AuditEvent.id < after)
    events = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    more = len(events) > limit
    events = events[:limit]
    return AuditPage(events=events, next_after=events[-1].id if more else None)


def audit_csv(session: Session, actor: Actor, filters: AuditFilters | None = None) -> Iterator[str]:
    """The whole filtered log as CSV lines (header first), newest first, read page by page
    so that memory stays flat however long the log is."""
    require(actor, Action.AUDIT_READ)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    after: int | None = None
    while True:
        page = list_audit(session, actor, filters, after, MAX_AUDIT_PAGE)
        for e in page.events:
            details = json.dumps(e.details, ensure_ascii=False, sort_keys=True)
            row = (e.id, e.at.isoformat(), e.actor, e.action, e.object_type, e.object_id)
            writer.writerow((*row, e.surface, details))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if page.next_after is None:
            return
        after = page.next_after
        session.expunge_all()  # keep the session's identity map as small as one page
