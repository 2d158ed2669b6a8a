"""A dataset's Frictionless Data Package: ``/api/v1/datasets/{slug}/datapackage.json``, and
zipped with its data: ``…/datapackage.zip``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from beffroi.catalog import services
from beffroi.catalog.usage import record_use
from beffroi.publish.datapackage import datapackage_for, zipped_datapackage
from beffroi.web.api.common import ERROR_RESPONSES, renamed
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=ERROR_RESPONSES)


@router.get(
    "/{slug}/datapackage.json",
    response_model=dict[str, Any],
    responses={308: {"description": "Renamed"}},
)
def show_datapackage(
    slug: str, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> Response:
    """The dataset as a Data Package (Table Schema of the published version, licence)."""
    dataset, redirected = services.resolve_dataset(session, actor, slug)
    if redirected:
        return renamed(request, "show_datapackage", dataset.slug)
    described = datapackage_for(session, actor, dataset, settings.base_url)
    record_use(session, dataset.id, "api")  # in memory: flushed in batches
    return JSONResponse(described)


@router.get(
    "/{slug}/datapackage.zip",
    response_class=StreamingResponse,
    responses={308: {"description": "Renamed"}},
)
def download_datapackage(
    slug: str, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> Response:
    """The published version as a zipped Data Package (``datapackage.json`` and the CSV)."""
    dataset, redirected = services.resolve_dataset(session, actor, slug)
    if redirected:
        return renamed(request, "download_datapackage", dataset.slug)
    filename, chunks = zipped_datapackage(session, actor, settings, dataset)
    record_use(session, dataset.id, "download")  # in memory: flushed in batches
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
