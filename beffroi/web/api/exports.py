"""Exports of a dataset's records (a records query, or the whole version) as files."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote as url_quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from beffroi.catalog.usage import record_use
from beffroi.query import service
from beffroi.query.exports import FORMATS, export_format
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.api.records import FILTER_HELP, version_param
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(prefix="/datasets/{slug}", tags=["exports"], responses=ERROR_RESPONSES)


def download(export: service.ExportFile) -> StreamingResponse:
    """The streamed file, with its name in Content-Disposition."""
    disposition = (
        f"attachment; filename=\"{export.filename}\"; filename*=UTF-8''{url_quote(export.filename)}"
    )
    return StreamingResponse(
        export.chunks,
        media_type=export.media_type,
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/export.{fmt}",
    description=f"Formats: {', '.join(FORMATS)}. {FILTER_HELP} Also `q`, `sort`, `select`.",
    response_class=StreamingResponse,
)
def export_records(
    slug: str,
    fmt: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    excel_fr: Annotated[
        bool, Query(description="CSV for French Excel: Windows-1252, `;`, decimal comma.")
    ] = False,
    version: Annotated[str | None, Query(description="A past version number.")] = None,
) -> StreamingResponse:
    """The records of a query (or of the whole version) as a file, streamed."""
    export = service.export_records(
        session,
        actor,
        settings,
        slug,
        request.query_params.multi_items(),
        export_format(fmt, excel_fr=excel_fr),
        version=version_param(version),
    )
    record_use(session, slug, "download")  # in memory: flushed in batches
    return download(export)
