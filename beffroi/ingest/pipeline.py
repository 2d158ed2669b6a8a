"""The ingestion pipeline: read → type → profile → one store commit → catalogue version.

Nothing is visible before the catalogue's published pointer moves (``publish=True`` or a
later :func:`beffroi.catalog.versions.publish_version`). A failure at any step leaves the
published version untouched: the store commit is atomic, and the catalogue row is written
only after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Action, Actor, require
from beffroi.catalog.db import transaction
from beffroi.catalog.models import DatasetConformance, DatasetVersion
from beffroi.catalog.services import get_dataset
from beffroi.catalog.versions import publish_version, record_version
from beffroi.errors import ConflictError
from beffroi.ingest.infer import ColumnType, convert, infer_schema
from beffroi.ingest.model import ReadOptions, TableSource
from beffroi.ingest.profile import ProfileBuilder
from beffroi.ingest.readers import open_table
from beffroi.ingest.stages import mapped, staged
from beffroi.store.interfaces import VersionStore, WriteMode

SAMPLE_ROWS = 50_000
STAGE_DEPTH = 3  # batches waiting between two steps (memory: a few batches per step)

ProgressCallback = Callable[[int, int, int], None]  # bytes read, bytes total, rows


@dataclass
class IngestSummary:
    """What an ingestion produced (shown by the CLI, stored as a job's result)."""

    dataset: str
    version: int
    upload_id: str
    rows: int
    published: bool
    columns: list[dict[str, Any]] = field(default_factory=list)
    dialect: dict[str, Any] = field(default_factory=dict)
    conformance: dict[str, Any] | None = None  # validation summary (beffroi.validate)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "dataset": self.dataset,
            "version": self.version,
            "upload_id": self.upload_id,
            "rows": self.rows,
            "published": self.published,
            "columns": self.columns,
            "dialect": self.dialect,
            "conformance": self.conformance,
        }


def ingest_file(
    factory: sessionmaker[Session],
    store: VersionStore,
    actor: Actor,
    slug: str,
    path: Path,
    *,
    options: ReadOptions | None = None,
    mode: WriteMode = "replace",
    publish: bool = False,
    declared: dict[str, dict[str, Any]] | None = None,
    primary_key: list[str] | None = None,
    source_name: str | None = None,
    upload_id: str | None = None,
    on_progress: ProgressCallback | None = None,
    conformance_schema: str | Path | None = None,
) -> IngestSummary:
    """Ingest one file as a new version of a dataset (and publish it when asked).

    ``mode="upsert"`` merges the rows on ``primary_key`` (rows with a known key replace the
    stored ones, the others are added); ``append`` adds the rows; ``replace`` makes a new
    snapshot.
    """
    upload_id = upload_id or str(uuid.uuid4())
    with transaction(factory) as session:
        dataset = get_dataset(session, actor, slug)
        require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
        store_key, dataset_id = dataset.store_key, dataset.id
        recorded = session.scalar(
            select(func.max(DatasetVersion.store_version)).where(
                DatasetVersion.dataset_id == dataset.id
            )
        )
        # Validation (and its DuckDB engine) is loaded only when a schema applies.
        bound = conformance_schema is not None or (
            session.get(DatasetConformance, dataset.id) is not None
        )
    if mode != "replace":
        # An interrupted ingestion may have committed to the store without reaching the
        # catalogue: appending on top would silently carry its rows into the new version.
        committed = store.versions(store_key)
        if (committed[-1].version if committed else None) != recorded:
            raise ConflictError(
                "Une écriture précédente a été interrompue : la table stockée ne correspond "
                "plus à la dernière version enregistrée",
                hint="chargez une version complète (mode replace) pour repartir d'un état sûr",
                message_en="An earlier write was interrupted: the stored table no longer "
                "matches the last recorded version",
                hint_en="load a complete version (mode replace) to start again from a safe state",
            )

    checked = None
    if bound:
        from beffroi.validate.conformance import check_upload  # noqa: PLC0415

        checked = check_upload(
            factory, actor, slug, path, options or ReadOptions(), conformance_schema
        )
    source = open_table(path, options or ReadOptions())
    batches = source.batches()
    sample: list[pa.RecordBatch] = []
    sampled = 0
    for batch in batches:
        sample.append(batch)
        sampled += batch.num_rows
        if sampled >= SAMPLE_ROWS:
            break
    names = source.column_names
    sample_table = (
        pa.Table.from_batches(sample)
        if sample
        else pa.table({name: pa.array([], pa.string()) for name in names})
    )
    types = infer_schema(sample_table, declared=declared)
    empty = pa.RecordBatch.from_pylist([], schema=sample_table.schema)
    schema = convert(empty, types).schema
    profile = ProfileBuilder(types)
    typed = _typed_stream(chain(sample, batches), types, profile, source, on_progress)
    stored = store.write(
        store_key, typed, schema, upload_id=upload_id, mode=mode, primary_key=primary_key
    )
    columns = [{"name": f.name, "type": str(f.type)} for f in schema]
    profiles = [column.as_dict() for column in profile.finish()]
    with transaction(factory) as session:
        dataset = get_dataset(session, actor, slug)
        if dataset.id != dataset_id:  # renamed and slug reused meanwhile: cannot happen
            msg = "dataset changed during ingestion"
            raise RuntimeError(msg)
        version = record_version(
            session,
            actor,
            dataset,
            upload_id=upload_id,
            store_version=stored.version,
            mode=mode,
            row_count=stored.rows,
            columns=columns,
            profile=profiles,
            dialect=source.dialect.as_dict(),
            source_name=source_name or path.name,
            source_bytes=source.bytes_total,
        )
        if checked is not None:
            from beffroi.validate.conformance import record_conformance  # noqa: PLC0415

            record_conformance(session, version, checked)
        if publish:
            publish_version(session, actor, dataset.slug, version.number)
        # A publisher that requires review turns the publication into a pending request.
        published = dataset.published_version_id == version.id
        number = version.number
    return IngestSummary(
        dataset=slug,
        version=number,
        upload_id=upload_id,
        rows=stored.rows,
        published=published,
        columns=columns,
        dialect=source.dialect.as_dict(),
        conformance=checked[1].summary() if checked is not None else None,
    )


def _typed_stream(
    raw: Iterator[pa.RecordBatch],
    types: list[ColumnType],
    profile: ProfileBuilder,
    source: TableSource,
    on_progress: ProgressCallback | None,
) -> Iterator[pa.RecordBatch]:
    """The converted batches, profiled on the way, for the store's writer.

    Reading, typing and profiling each run in a thread of their own, ahead of the writer
    (see :mod:`beffroi.ingest.stages`); order and row numbers are kept.
    """
    offset = [0]

    def to_types(batch: pa.RecordBatch) -> pa.RecordBatch:
        # row_offset: errors then name the data row of the whole file, not of the batch
        converted = convert(batch, types, row_offset=offset[0])
        offset[0] += batch.num_rows
        return converted

    def profiled(converted: pa.RecordBatch) -> pa.RecordBatch:
        profile.update(converted)
        return converted

    read = staged(raw, depth=STAGE_DEPTH, name="beffroi-read")
    converted = mapped(read, to_types, depth=STAGE_DEPTH, name="beffroi-type")
    rows = 0
    for batch in mapped(converted, profiled, depth=STAGE_DEPTH, name="beffroi-profile"):
        rows += batch.num_rows
        if on_progress is not None:
            on_progress(source.bytes_read(), source.bytes_total, rows)
        yield batch
