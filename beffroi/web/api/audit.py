"""The audit log, for platform administrators: filtered keyset pages, and a streamed CSV.

To anyone else these addresses answer exactly like addresses that do not exist (404).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from beffroi.access.policy import Action, can
from beffroi.catalog import audit
from beffroi.catalog.audit import AuditFilters
from beffroi.errors import NotFoundError
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)


class AuditEventPublic(BaseModel):
    """One event of the log."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    surface: str
    details: dict[str, Any]


class AuditLinks(BaseModel):
    """Link to the next (older) page."""

    next: str | None = None


class AuditPagePublic(BaseModel):
    """Events, newest first."""

    data: list[AuditEventPublic]
    links: AuditLinks


def _hidden(request: Request) -> NotFoundError:
    """Not an administrator: the same answer as for an address that does not exist."""
    return NotFoundError(
        f"Aucune ressource à l'adresse {request.url.path}",
        hint="vérifiez l'adresse ; la liste des routes est dans /api/openapi.json",
        message_en=f"No resource at {request.url.path}",
        hint_en="check the address; the routes are listed in /api/openapi.json",
    )


def _filters(
    actor: Annotated[str | None, Query(description="Username or actor label.")] = None,
    dataset: Annotated[str | None, Query(description="Dataset slug.")] = None,
    surface: Annotated[str | None, Query(description="web, api, cli…")] = None,
    action: Annotated[
        str | None, Query(description="Action, or a prefix ending in `*` (`token.*`).")
    ] = None,
    from_: Annotated[
        dt.datetime | None, Query(alias="from", description="At or after (ISO 8601, with zone).")
    ] = None,
    to: Annotated[
        dt.datetime | None, Query(description="Strictly before (ISO 8601, with zone).")
    ] = None,
) -> AuditFilters:
    """The filters of the query string."""
    return AuditFilters(
        actor=actor, dataset=dataset, surface=surface, action=action, since=from_, until=to
    )


FiltersDep = Annotated[AuditFilters, Depends(_filters)]


@router.get("/audit", response_model=AuditPagePublic)
def list_audit(
    request: Request,
    session: SessionDep,
    caller: ActorDep,
    filters: FiltersDep,
    after: Annotated[
        int | None, Query(ge=1, description="Cursor: the `next` link gives it.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_AUDIT_PAGE)] = 100,
) -> AuditPagePublic:
    """Events of the audit log, newest first, by keyset pages (platform administrators)."""
    if not can(caller, Action.AUDIT_READ):
        raise _hidden(request)
    page = audit.list_audit(session, caller, filters, after, limit)
    link = (
        str(request.url.include_query_params(after=page.next_after))
        if page.next_after is not None
        else None
    )
    return AuditPagePublic(
        data=[AuditEventPublic.model_validate(e, from_attributes=True) for e in page.events],
        links=AuditLinks(next=link),
    )


@router.get("/audit.csv", response_class=StreamingResponse)
def export_audit(
    request: Request,
    caller: ActorDep,
    filters: FiltersDep,
) -> StreamingResponse:
    """The whole filtered audit log as CSV (UTF-8), streamed (platform administrators)."""
    if not can(caller, Action.AUDIT_READ):
        raise _hidden(request)
    factory = request.app.state.session_factory

    def lines() -> Iterator[str]:
        with factory() as own:  # the request's session is closed while this streams
            yield from audit.audit_csv(own, caller, filters)

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
