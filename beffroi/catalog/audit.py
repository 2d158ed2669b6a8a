"""The audit log: one event for every change, written in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from beffroi.access.actors import Actor
from beffroi.catalog.models import AuditEvent


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
