"""``POST /api/v1/validate``: check a file against a schema, nothing stored."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from beffroi.errors import InvalidInputError, NotFoundError
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.uploads import save_upload

router = APIRouter(tags=["validation"], responses=ERROR_RESPONSES)


@router.post("/validate")
def validate_upload(
    settings: SettingsDep,
    background: BackgroundTasks,
    file: Annotated[UploadFile, File(description="The file to check: CSV, XLSX, ODS…")],
    schema_ref: Annotated[
        str | None,
        Form(
            alias="schema",
            description="A registry name (scdl/subventions, …@2.1.0) or an https URL.",
        ),
    ] = None,
    schema_text: Annotated[
        str | None, Form(alias="schema_json", description="The Table Schema itself (JSON).")
    ] = None,
    encoding: Annotated[str | None, Form()] = None,
    delimiter: Annotated[str | None, Form()] = None,
    sheet: Annotated[str | None, Form()] = None,
    max_errors: Annotated[int, Form(ge=0, le=100_000)] = 1000,
    invalid_rows: Annotated[
        Literal["csv"] | None,
        Query(description="csv: answer with the rows that have errors (CSV), not the report"),
    ] = None,
    bom: Annotated[
        bool, Query(description="With invalid_rows=csv: a UTF-8 BOM, for Excel")
    ] = False,
) -> Any:
    """Validate an uploaded file; the report (``valid``, ``stats``, ``errors``…), or with
    ``?invalid_rows=csv`` the rows that have at least one error, as written, with their row
    number (``ligne``) and their errors (``erreurs``), streamed as CSV.

    A plain (threadpool) endpoint: reading and checking the file is blocking work.
    """
    from beffroi.ingest.model import ReadOptions  # noqa: PLC0415 - heavy, on demand
    from beffroi.validate import Options, validate  # noqa: PLC0415
    from beffroi.validate.service import web_schema  # noqa: PLC0415

    parsed = web_schema(schema_ref, schema_text, settings.data_dir / "schemas")
    name = PurePath(file.filename or "upload").name or "upload"
    suffix = "".join(c for c in PurePath(name).suffix.lower() if c.isalnum() or c == ".")[:10]
    directory = Path(tempfile.mkdtemp(prefix="beffroi-validate-"))
    rows = directory / "lignes-en-erreur.csv" if invalid_rows == "csv" else None
    try:
        target = directory / f"source{suffix}"
        _save(file, target, settings.upload_max_mb)
        options = Options(
            max_errors=max_errors,
            read=ReadOptions(encoding=encoding, delimiter=delimiter, sheet=sheet),
            invalid_rows=rows,
            invalid_rows_bom=bom,
        )
        report = validate(target, parsed, options)
        target.unlink()
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    if rows is not None:
        from beffroi.validate.export import file_chunks  # noqa: PLC0415

        background.add_task(shutil.rmtree, directory, ignore_errors=True)
        stem = PurePath(name).stem or "fichier"
        return StreamingResponse(
            file_chunks(rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{_safe(stem)}-lignes-en-erreur.csv"',
                "X-Validation-Valid": "true" if report.valid else "false",
                "X-Validation-Errors": str(report.stats.get("errors", 0)),
            },
            background=background,
        )
    shutil.rmtree(directory, ignore_errors=True)
    out = report.as_dict()
    out["path"] = name
    result: dict[str, Any] = json.loads(json.dumps(out, default=str))
    return result


def _safe(stem: str) -> str:
    """A file name for Content-Disposition (no quote, no control character, ASCII)."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in stem)
    return cleaned[:80] or "fichier"


def _save(file: UploadFile, target: Path, limit_mb: int) -> None:
    if not save_upload(file, target, limit_mb):
        raise InvalidInputError(
            "Fichier vide (0 octet).",
            hint="vérifiez que le bon fichier a été envoyé",
            message_en="Empty file (0 bytes).",
            hint_en="check that the right file was sent",
        )


class ConformancePolicy(BaseModel):
    """The Table Schema a dataset's uploads must follow, and what an invalid upload does."""

    schema_ref: str = Field(
        alias="schema", description="Registry name (scdl/subventions@2.1.1) or https URL."
    )
    on_invalid: Literal["block", "flag"] = Field(
        "flag", description="block: refuse invalid uploads; flag: keep them « non conforme »."
    )

    model_config = {"populate_by_name": True}


def _policy_view(row: Any) -> dict[str, Any]:
    return {
        "schema": row.schema_ref,
        "on_invalid": row.on_invalid,
        "modified_by": row.modified_by,
        "modified_at": row.modified_at,
    }


@router.put("/datasets/{slug}/conformance")
def set_conformance(
    slug: str,
    body: ConformancePolicy,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Bind the dataset to a schema: every upload is then validated against it."""
    from beffroi.validate.conformance import bindable_dataset, set_policy  # noqa: PLC0415
    from beffroi.validate.service import web_schema  # noqa: PLC0415

    bindable_dataset(session, actor, slug)  # who may, before looking at the schema
    # A registry name or an allowed https URL: never a path on the server.
    schema = web_schema(body.schema_ref, None, settings.data_dir / "schemas")
    row = set_policy(session, actor, slug, body.schema_ref, body.on_invalid, schema)
    view = _policy_view(row)
    session.commit()
    return view


@router.get("/datasets/{slug}/conformance")
def show_conformance(slug: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """The dataset's schema binding (404 when it has none)."""
    from beffroi.validate.conformance import get_policy  # noqa: PLC0415

    row = get_policy(session, actor, slug)
    if row is None:
        raise NotFoundError(
            f"« {slug} » n'est lié à aucun schéma.",
            hint='PUT /api/v1/datasets/{slug}/conformance avec {"schema": …}',
        )
    return _policy_view(row)


@router.get("/datasets/{slug}/versions/{number}/conformance")
def version_report(slug: str, number: int, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """A version's validation: verdict, counts, and the report with its first errors."""
    from beffroi.validate.conformance import conformance_view, version_conformance  # noqa: PLC0415

    row = version_conformance(session, actor, slug, number)
    view = conformance_view(row) or {}
    # The invalid rows have their own CSV endpoint (…/invalid-rows.csv).
    view["report"] = {k: v for k, v in row.report.items() if k != "invalidRows"}
    result: dict[str, Any] = json.loads(json.dumps(view, default=str))
    return result


@router.get("/datasets/{slug}/versions/{number}/invalid-rows.csv")
def version_invalid_rows(
    slug: str,
    number: int,
    session: SessionDep,
    actor: ActorDep,
    bom: Annotated[bool, Query(description="A UTF-8 BOM, for Excel")] = False,
) -> Response:
    """The rows of a version's file that had errors (kept at upload, up to 10,000), with
    their row number (``ligne``) and errors (``erreurs``), as CSV; for the dataset's
    editors."""
    from beffroi.validate.export import csv_chunks  # noqa: PLC0415
    from beffroi.validate.export import version_invalid_rows as kept_rows  # noqa: PLC0415

    kept = kept_rows(session, actor, slug, number)
    return StreamingResponse(
        csv_chunks(kept.header, kept.rows, bom=bom),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{kept.filename}"',
            "X-Invalid-Rows-Truncated": "true" if kept.truncated else "false",
        },
    )
