"""Uploads and versions of a dataset's data."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from beffroi.access import Action, require
from beffroi.catalog import reviews, services
from beffroi.catalog import versions as version_services
from beffroi.catalog.models import DatasetVersion
from beffroi.errors import InvalidInputError
from beffroi.ingest.fetch import check_url
from beffroi.ingest.model import parse_widths
from beffroi.jobs import job_view
from beffroi.privacy import flags as privacy_flags
from beffroi.validate.conformance import conformance_of
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, JobsDep, SessionDep, SettingsDep
from beffroi.web.uploads import save_upload

router = APIRouter(prefix="/datasets/{slug}", tags=["versions"], responses=ERROR_RESPONSES)


class VersionPublic(BaseModel):
    """A version of a dataset's data."""

    number: int
    published: bool
    upload_id: str
    rows: int
    mode: str
    columns: list[dict[str, Any]]
    dialect: dict[str, Any]
    source_name: str
    source_bytes: int
    created_by: str
    created_at: dt.datetime
    published_at: dt.datetime | None


class VersionDetail(VersionPublic):
    """A version with its column profile and, for a dataset bound to a schema, its
    conformance (schema, version, verdict, error counts)."""

    profile: list[dict[str, Any]]
    conformance: dict[str, Any] | None = None


def _view(version: DatasetVersion, published_id: int | None, *, detail: bool = False) -> Any:
    fields: dict[str, Any] = {
        "number": version.number,
        "published": version.id == published_id,
        "upload_id": version.upload_id,
        "rows": version.row_count,
        "mode": version.mode,
        "columns": version.columns,
        "dialect": version.dialect,
        "source_name": version.source_name,
        "source_bytes": version.source_bytes,
        "created_by": version.created_by,
        "created_at": version.created_at,
        "published_at": version.published_at,
    }
    if detail:
        return VersionDetail(**fields, profile=version.profile)
    return VersionPublic(**fields)


@router.post("/uploads", status_code=status.HTTP_202_ACCEPTED)
def upload(
    slug: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    jobs: JobsDep,
    file: Annotated[
        UploadFile | None, File(description="The file: CSV, XLSX, ODS, JSON, GeoJSON…")
    ] = None,
    url: Annotated[
        str | None, Form(description="Or the http(s) URL to download it from (in the job).")
    ] = None,
    publish: Annotated[bool, Form()] = False,
    mode: Annotated[Literal["replace", "append", "upsert"], Form()] = "replace",
    key: Annotated[
        str | None, Form(description="Key column(s) for mode=upsert, comma-separated.")
    ] = None,
    encoding: Annotated[str | None, Form()] = None,
    delimiter: Annotated[str | None, Form()] = None,
    sheet: Annotated[str | None, Form()] = None,
    format: Annotated[str | None, Form()] = None,  # noqa: A002
    widths: Annotated[
        str | None, Form(description="Fixed-width file: column widths, e.g. 5,4,8,38.")
    ] = None,
) -> JSONResponse:
    """Upload a file — or give the URL to fetch it from — as the next version (ingested in
    the background: follow the job).

    ``mode=upsert`` updates the rows whose ``key`` is known and adds the others. A plain
    (threadpool) endpoint: it does blocking catalogue and disk work.
    """
    dataset = services.get_dataset(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    primary_key = _upload_key(mode, key)
    if (file is None) == (url is None or not url.strip()):
        raise InvalidInputError(
            "Donnez soit un fichier (file), soit une adresse (url)",
            hint="envoyez le fichier en multipart dans le champ « file », ou son adresse "
            "http(s) dans le champ « url »",
            message_en="Give either a file (file) or an address (url)",
            hint_en="send the file as multipart in the « file » field, or its http(s) address in "
            "the « url » field",
        )
    job_id, directory = jobs.new_upload_dir()
    try:
        if file is not None:
            # The original name is only a label (kept for the version); on disk the file has
            # a fixed name: no traversal, no overlong or odd names, only its extension is kept.
            name = (PurePath(file.filename or "upload").name or "upload")[:200]
            suffix = "".join(c for c in PurePath(name).suffix.lower() if c.isalnum() or c == ".")
            target = directory / f"source{suffix[:10]}"
            save_upload(file, target, settings.upload_max_mb)
        else:
            assert url is not None  # noqa: S101 - checked above
            url = url.strip()
            check_url(url, allow_private=settings.fetch_allow_private_networks)
            name, target = url, directory / "pending"  # downloaded by the job
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    params = {
        "url": url,
        "key": primary_key,
        "publish": publish,
        "mode": mode,
        "encoding": encoding,
        "delimiter": delimiter,
        "sheet": sheet,
        "format": "fwf" if widths else format,
        "widths": list(parse_widths(widths) or ()) or None,
    }
    job = jobs.submit_ingest(
        actor,
        dataset.slug,
        dataset.id,
        job_id,
        target,
        {k: v for k, v in params.items() if v is not None},
        source_name=name,
    )
    location = str(request.url_for("show_job", job_id=job.id))
    return JSONResponse(job_view(job), status_code=202, headers={"Location": location})


def _upload_key(mode: str, key: str | None) -> list[str] | None:
    names = [name.strip() for name in (key or "").split(",") if name.strip()]
    if mode == "upsert" and not names:
        raise InvalidInputError(
            "Le mode upsert demande une clé",
            hint="indiquez key=colonne (ou plusieurs : key=code_insee,annee)",
            message_en="The upsert mode needs a key",
            hint_en="give key=column (or several: key=code_insee,annee)",
        )
    if names and mode != "upsert":
        raise InvalidInputError(
            "La clé (key) ne sert qu'avec mode=upsert",
            hint="ajoutez mode=upsert ou retirez key",
            message_en="The key only applies to mode=upsert",
            hint_en="add mode=upsert or remove key",
        )
    return names or None


@router.get("/versions", response_model=list[VersionPublic])
def list_versions(slug: str, session: SessionDep, actor: ActorDep) -> list[VersionPublic]:
    """Versions, newest first (unpublished ones only for the publisher's editors)."""
    dataset, found = version_services.list_versions(session, actor, slug)
    return [_view(v, dataset.published_version_id) for v in found]


@router.get("/versions/{number}", response_model=VersionDetail)
def show_version(slug: str, number: int, session: SessionDep, actor: ActorDep) -> VersionDetail:
    """One version with its column profile."""
    version = version_services.get_version(session, actor, slug, number)
    dataset = services.get_dataset(session, actor, slug)
    detail: VersionDetail = _view(version, dataset.published_version_id, detail=True)
    # Personal columns: outsiders see their name and type, never their values.
    detail.profile = privacy_flags.redact_profile(session, actor, dataset, detail.profile)
    detail.conformance = conformance_of(session, version)
    return detail


@router.post(
    "/versions/{number}/publish",
    response_model=VersionPublic,
    responses={202: {"description": "Review required: a pending publication request"}},
)
def publish(slug: str, number: int, session: SessionDep, actor: ActorDep) -> Any:
    """Publish this version (an older one too: rollback), atomically — or, where the
    publisher requires review, request it (202 with the pending review)."""
    version = version_services.publish_version(session, actor, slug, number)
    pending = reviews.pending_review(session, version)
    session.commit()
    if pending is not None and version.dataset.published_version_id != version.id:
        body = reviews.review_public(pending).model_dump(mode="json")
        return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED)
    view: VersionPublic = _view(version, version.id)
    return view


@router.get("/diff")
def diff(
    slug: str,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    from_: Annotated[int, Query(alias="from", ge=1)],
    to: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    """Rows added, removed and changed between two versions (counts and samples)."""
    from beffroi.store import store_for  # noqa: PLC0415 - heavy, on demand

    dataset = services.get_dataset(session, actor, slug)
    # A whole-table comparison: for the publisher's editors (costly, and it would bypass
    # the row and column filters the access layer will apply to readers).
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    old = version_services.get_version(session, actor, slug, from_)
    new = version_services.get_version(session, actor, slug, to)
    result = store_for(settings).diff(dataset.store_key, old.store_version, new.store_version)
    return {
        "from": from_,
        "to": to,
        "key": result.key,
        "added": result.added,
        "removed": result.removed,
        "changed": result.changed,
        "samples": {
            "added": result.sample_added.to_pylist(),
            "removed": result.sample_removed.to_pylist(),
            "changed": result.sample_changed.to_pylist(),
        },
    }
