"""What the surfaces show of a report: the invalid rows as CSV (streamed) and the summary of
a version's report (verdict, counts per error type and per column, first errors per column
with the catalogue's hint), for the HTML report page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from beffroi.access import Action, Actor, can, require
from beffroi.catalog.models import Dataset, DatasetVersion, VersionConformance
from beffroi.catalog.services import get_dataset
from beffroi.errors import NotFoundError
from beffroi.validate.catalogue import ERRORS
from beffroi.validate.conformance import version_conformance

CSV_CHUNK_ROWS = 2000
BOM = "\ufeff"


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = False
) -> Iterator[bytes]:
    """A CSV (UTF-8, optional BOM for Excel) in chunks of rows, for a streamed response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if bom:
        buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow(["" if value is None else value for value in row])
        if count % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def file_chunks(path: Path, size: int = 1 << 16) -> Iterator[bytes]:
    """A file's bytes in chunks (a CSV the validator wrote), for a streamed response."""
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


@dataclass(slots=True)
class ShownError:
    """One error as the report page shows it."""

    row: int | None
    field: str
    cell: str | None
    message: str
    message_en: str
    code: str
    title: str
    title_en: str
    hint: str


@dataclass(slots=True)
class FieldErrors:
    """The errors of one column (``field`` empty: errors of whole rows)."""

    field: str
    total: int
    counts: dict[str, int]
    first: list[ShownError] = default(default_factory=list)


@dataclass(slots=True)
class ReportView:
    """A version's report, ready for the page."""

    dataset: Dataset
    version: DatasetVersion
    schema_ref: str
    schema_version: str | None
    valid: bool
    rows: int
    errors: int
    counts: list[tuple[str, str, str, int]]  # code, title, English title, count
    fields: list[FieldErrors]
    header_errors: list[ShownError]
    warnings: list[str]
    show_cells: bool  # the cells' values: for the dataset's editors only
    invalid_rows: int | None  # kept with the version (None: not kept)
    invalid_rows_truncated: bool


def _shown(error: dict[str, Any], show_cells: bool) -> ShownError:
    kind = ERRORS.get(str(error.get("type")))
    return ShownError(
        row=error.get("rowNumber"),
        field=str(error.get("fieldName") or ""),
        cell=error.get("cell") if show_cells else None,
        message=str(error.get("message") or "") if show_cells else "",
        message_en=str(error.get("messageEn") or error.get("message") or "") if show_cells else "",
        code=str(error.get("type")),
        title=kind.title if kind else str(error.get("type")),
        title_en=kind.title_en if kind else str(error.get("type")),
        hint=str(error.get("hint") or (kind.hint if kind else "")),
    )


def report_view(
    session: Session, actor: Actor, slug: str, number: int, *, per_field: int = 5
) -> ReportView:
    """The report of one version, for whoever may read the version; cell values only for
    the dataset's editors (a file's cells may hold personal data)."""
    dataset = get_dataset(session, actor, slug)
    row = version_conformance(session, actor, dataset.slug, number)
    version = session.get(DatasetVersion, row.version_id)
    assert version is not None  # noqa: S101 - the row's foreign key
    show_cells = can(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    report = row.report or {}
    by_field: dict[str, dict[str, int]] = report.get("countsByField") or {}
    first: dict[str, list[dict[str, Any]]] = report.get("firstErrorsByField") or {}
    if not first:  # a report recorded before first errors per column were kept
        for error in report.get("errors") or []:
            if error.get("rowNumber") is not None:
                first.setdefault(str(error.get("fieldName") or ""), []).append(error)
    fields = [
        FieldErrors(
            field=name,
            total=sum(counts.values()),
            counts=dict(sorted(counts.items(), key=lambda item: -item[1])),
            first=[_shown(error, show_cells) for error in first.get(name, [])[:per_field]],
        )
        for name, counts in by_field.items()
    ]
    fields.sort(key=lambda item: -item.total)
    header_errors = [
        _shown(error, show_cells=True)  # labels of the header: no data
        for error in report.get("errors") or []
        if error.get("rowNumber") is None
    ]
    counts = [
        (
            code,
            ERRORS[code].title if code in ERRORS else code,
            ERRORS[code].title_en if code in ERRORS else code,
            int(count),
        )
        for code, count in sorted((row.counts or {}).items(), key=lambda item: -int(item[1]))
    ]
    kept = report.get("invalidRows")
    return ReportView(
        dataset=dataset,
        version=version,
        schema_ref=row.schema_ref,
        schema_version=row.schema_version,
        valid=row.valid,
        rows=row.rows,
        errors=row.error_count,
        counts=counts,
        fields=fields,
        header_errors=header_errors,
        warnings=list(report.get("warnings") or []),
        show_cells=show_cells,
        invalid_rows=int(kept["count"]) if kept else None,
        invalid_rows_truncated=bool(kept and kept.get("truncated")),
    )


@dataclass(slots=True)
class KeptRows:
    """The invalid rows kept with a version."""

    filename: str
    header: list[str]
    rows: list[list[str]]
    truncated: bool


def version_invalid_rows(session: Session, actor: Actor, slug: str, number: int) -> KeptRows:
    """The invalid rows kept with a version, for the dataset's editors."""
    dataset = get_dataset(session, actor, slug)
    # The version first: one hidden from the actor is not found, whoever asks.
    row: VersionConformance = version_conformance(session, actor, dataset.slug, number)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    kept = (row.report or {}).get("invalidRows")
    if kept is None:
        raise NotFoundError(
            f"Les lignes en erreur de la version {number} de « {dataset.slug} » n'ont pas été "
            "conservées.",
            hint="chargez à nouveau le fichier, ou validez-le avec beffroi validate FICHIER "
            "--schema SCHÉMA --invalid-rows erreurs.csv",
            message_en=f"The invalid rows of version {number} of {dataset.slug} were not kept.",
            hint_en="upload the file again, or validate it with beffroi validate FILE --schema "
            "SCHEMA --invalid-rows errors.csv",
        )
    return KeptRows(
        filename=f"{dataset.slug}-v{number}-lignes-en-erreur.csv",
        header=list(kept["header"]),
        rows=kept["rows"],
        truncated=bool(kept.get("truncated")),
    )
