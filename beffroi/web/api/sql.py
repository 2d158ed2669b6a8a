"""Read-only SQL (DuckDB dialect) over the tables the actor may read, and ``ref.*``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from beffroi.catalog.usage import record_use
from beffroi.query import service
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(tags=["sql"], responses=ERROR_RESPONSES)


class SqlRequest(BaseModel):
    """A SQL query."""

    sql: str = Field(
        description="One SELECT statement (DuckDB dialect); tables are dataset slugs "
        '(double-quoted when they contain a dash: "my-dataset") and ref.*.',
        max_length=100_000,
    )
    limit: int | None = Field(
        default=None, ge=1, description="Most rows returned (capped by BEFFROI_SQL_MAX_ROWS)."
    )


@router.post("/sql")
def run_sql(
    body: SqlRequest, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> JSONResponse:
    """Run a read-only query. Refused statements answer 422 with which statement, why, and
    what is allowed; the answer says when rows were cut at the limit."""
    result = service.run_sql(session, actor, settings, body.sql, limit=body.limit)
    for slug in result.read:
        record_use(session, slug, "api")  # in memory: flushed in batches
    payload: dict[str, Any] = {
        "fields": service.fields_of(result.columns),
        "data": result.rows,
        "meta": {"rows": len(result.rows), "truncated": result.truncated, "limit": result.limit},
        "tables": result.tables,
        "links": {"self": str(request.url)},
    }
    return JSONResponse(payload)


@router.post("/sql/export.{fmt}", response_class=StreamingResponse)
def export_sql(
    fmt: str,
    body: SqlRequest,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    excel_fr: bool = False,
) -> StreamingResponse:
    """The whole result of a read-only query as a file (no row limit), streamed."""
    from beffroi.query.exports import export_format  # noqa: PLC0415
    from beffroi.web.api.exports import download  # noqa: PLC0415

    result = service.export_sql(
        session, actor, settings, body.sql, export_format(fmt, excel_fr=excel_fr)
    )
    for slug in result.read:
        record_use(session, slug, "download")
    return download(result)
