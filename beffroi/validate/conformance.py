"""Conformance of a dataset's versions to its Table Schema: the per-dataset policy (block an
invalid upload, or keep it flagged « non conforme »), the check during ingestion, and the
verdict recorded per version."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Action, Actor, require
from beffroi.catalog import audit
from beffroi.catalog.models import (
    Dataset,
    DatasetConformance,
    DatasetVersion,
    VersionConformance,
)
from beffroi.catalog.services import get_dataset
from beffroi.catalog.versions import get_version
from beffroi.errors import InvalidInputError, NonConformingFileError, NotFoundError
from beffroi.ingest.model import ReadOptions
from beffroi.validate.engine import Options, validate
from beffroi.validate.report import Report
from beffroi.validate.schema import Schema, load_schema, parse_schema

OnInvalid = Literal["block", "flag"]
KEPT_ERRORS = 100
"""Errors kept in detail with each version (all are counted)."""
KEPT_PER_FIELD = 5
"""First errors of each column kept with each version (for its report page)."""
KEPT_INVALID_ROWS = 10_000
"""Invalid rows kept, as written, with each version (the original file is not stored)."""


def set_policy(
    session: Session,
    actor: Actor,
    slug: str,
    schema_ref: str,
    on_invalid: str,
    schema: Schema | None = None,
) -> DatasetConformance:
    """Bind a dataset to a schema and choose what invalid uploads do. The schema is loaded
    now (``schema`` when the caller already did) and kept: later uploads are checked against
    exactly this version, offline."""
    if on_invalid not in {"block", "flag"}:
        raise InvalidInputError(
            f"Politique inconnue : « {on_invalid} »",
            hint="« block » refuse les fichiers non conformes, « flag » les publie marqués "
            "« non conforme »",
        )
    dataset = bindable_dataset(session, actor, slug)
    schema = schema or load_schema(schema_ref)
    policy = session.get(DatasetConformance, dataset.id)
    if policy is None:
        policy = DatasetConformance(dataset_id=dataset.id)
        session.add(policy)
    policy.schema_ref = schema_ref
    policy.descriptor = schema.descriptor
    policy.on_invalid = on_invalid
    policy.modified_by = actor.label
    audit.record(
        session,
        actor,
        "dataset.conformance",
        "dataset",
        dataset.id,
        {"schema": schema_ref, "version": schema.version, "on_invalid": on_invalid},
    )
    session.flush()
    return policy


def bindable_dataset(session: Session, actor: Actor, slug: str) -> Dataset:
    """The dataset, when the actor may change its schema binding (its editors)."""
    dataset = get_dataset(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    return dataset


def get_policy(session: Session, actor: Actor, slug: str) -> DatasetConformance | None:
    """The dataset's schema binding, if any."""
    dataset = get_dataset(session, actor, slug)
    return session.get(DatasetConformance, dataset.id)


def check_upload(
    factory: sessionmaker[Session],
    actor: Actor,
    slug: str,
    path: Path,
    options: ReadOptions,
    schema_ref: str | Path | None = None,
) -> tuple[str, Report] | None:
    """Validate an upload against ``schema_ref`` or the dataset's bound schema (``None``:
    nothing to check). A dataset that blocks invalid uploads refuses it here, before
    anything is written."""
    with factory() as session:
        dataset = get_dataset(session, actor, slug)
        policy = session.get(DatasetConformance, dataset.id)
        on_invalid = policy.on_invalid if policy is not None else "flag"
        if schema_ref is not None:
            # A schema given with the upload also types its columns: cells that break it
            # could not be stored, so an invalid file is refused with its report.
            reference, schema = str(schema_ref), load_schema(schema_ref)
            on_invalid = "block"
        elif policy is not None:
            reference = policy.schema_ref
            schema = parse_schema(policy.descriptor, policy.schema_ref)
        else:
            return None
    report = validate(
        path,
        schema,
        Options(
            read=options,
            max_errors=KEPT_ERRORS,
            per_field=KEPT_PER_FIELD,
            keep_invalid_rows=KEPT_INVALID_ROWS,
        ),
    )
    if not report.valid and on_invalid == "block":
        summary = report.summary()
        raise NonConformingFileError(
            f"Fichier refusé : il n'est pas conforme au schéma « {summary['schema']} » "
            f"({report.stats['errors']} erreur(s)).",
            hint="corrigez les erreurs listées (beffroi validate FICHIER --schema "
            f"{reference}) puis chargez-le à nouveau",
            details={
                "summary": summary,
                "errors": [{"field": e.field, "message": e.message()} for e in report.errors[:10]],
            },
        )
    return reference, report


def record_conformance(
    session: Session, version: DatasetVersion, checked: tuple[str, Report]
) -> VersionConformance:
    """Keep the verdict of a version's validation (in the version's transaction)."""
    reference, report = checked
    row = VersionConformance(
        version_id=version.id,
        schema_ref=reference,
        schema_version=report.schema.get("version"),
        valid=report.valid,
        rows=int(report.stats.get("rows", 0)),
        error_count=int(report.stats.get("errors", 0)),
        counts=report.counts,
        report=report.as_dict(),
    )
    session.add(row)
    session.flush()
    return row


def version_conformance(
    session: Session, actor: Actor, slug: str, number: int
) -> VersionConformance:
    """The recorded validation of one version (what the actor may see of the version)."""
    version = get_version(session, actor, slug, number)
    found = session.get(VersionConformance, version.id)
    if found is None:
        raise NotFoundError(
            f"La version {number} de « {slug} » n'a pas été validée.",
            hint="liez le jeu de données à un schéma (beffroi conformance set) ou chargez le "
            "fichier avec --schema",
        )
    return found


def conformance_by_version(
    session: Session, versions: Sequence[DatasetVersion]
) -> dict[int, VersionConformance]:
    """The recorded validations of versions already shown to the actor, by version id."""
    ids = [v.id for v in versions]
    if not ids:
        return {}
    chosen = select(VersionConformance).where(VersionConformance.version_id.in_(ids))
    found = session.scalars(chosen)
    return {row.version_id: row for row in found}


def conformance_of(session: Session, version: DatasetVersion) -> dict[str, Any] | None:
    """The API view of a version already shown to the actor (``None``: never validated)."""
    return conformance_view(session.get(VersionConformance, version.id))


def conformance_view(row: VersionConformance | None) -> dict[str, Any] | None:
    """What the API shows of a version's conformance."""
    if row is None:
        return None
    return {
        "schema": row.schema_ref,
        "schema_version": row.schema_version,
        "valid": row.valid,
        "label": "conforme" if row.valid else "non conforme",
        "rows": row.rows,
        "errors": row.error_count,
        "counts": row.counts,
        "checked_at": row.checked_at,
    }
