"""Crossings (derived datasets): create, describe, materialise, recompute, lineage.

A view is a normal catalogue dataset (its own slug, owner, access level) whose versions
are computed instead of uploaded: its query — SQL checked by the statement guard, or a
declarative join compiled to SQL (:mod:`beffroi.crossings.definitions`) — runs in the
sandboxed DuckDB database of exactly the source versions its creator may read
(:func:`beffroi.access.crossings.source_tables`), and the result goes through the same
store commit, catalogue version (row count, profile) and publication as an upload. Each
view version records the source versions that produced it (``version_lineage``).

Access is decided in :mod:`beffroi.access.crossings`: a view is never more open than its
most restrictive source unless a steward of its owner publishes it as an aggregate, and
it never reads personal columns.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Action, Actor, can, require
from beffroi.access import crossings as access
from beffroi.access.reading import ReadableTable
from beffroi.catalog import audit
from beffroi.catalog.db import transaction
from beffroi.catalog.models import (
    AccessLevel,
    CrossingSource,
    CrossingView,
    Dataset,
    DatasetVersion,
    Job,
    SlugRedirect,
    VersionLineage,
    utcnow,
)
from beffroi.catalog.schemas import DatasetCreate, License, Slug, Title
from beffroi.catalog.schemas import parse as parse_fields
from beffroi.catalog.services import create_dataset, get_dataset, get_organization
from beffroi.catalog.versions import publish_version, record_version
from beffroi.crossings import outlines, refresh
from beffroi.crossings.definitions import JoinDefinition, SqlDefinition, compile_join
from beffroi.crossings.definitions import parse_definition as parse
from beffroi.errors import BeffroiError, ConflictError, InvalidInputError, NotFoundError
from beffroi.ingest.profile import ProfileBuilder
from beffroi.query.engine import QueryDatabase, engine_for
from beffroi.query.guard import _cte_names, _nodes  # one SQL walker
from beffroi.settings import Settings
from beffroi.store import store_for

log = logging.getLogger(__name__)


class ViewCreate(BaseModel):
    """A view to create: its target dataset and its definition."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: Slug = Field(
        description="Slug of the view's dataset (new, or an existing dataset of "
        "the owner without a view)."
    )
    title: Title | None = Field(default=None, description="Title of a new dataset.")
    owner: Slug = Field(description="Slug of the owner organisation.")
    access_level: AccessLevel | None = Field(
        default=None,
        description="At most as open as the most restrictive source (default: that level).",
    )
    description: str = ""
    license: License = "etalab-2.0"
    published_aggregate: bool = Field(
        default=False,
        description="A steward of the owner opens the view wider than its sources (recorded).",
    )
    definition: dict[str, Any]


@dataclass(slots=True)
class Compiled:
    """A definition checked against a database: its SQL and the database to run it in."""

    sql: str
    database: QueryDatabase
    tables: list[ReadableTable]


# ---------------------------------------------------------------- checking and compiling


def sql_sources(sql: str) -> list[str]:
    """The dataset slugs a SQL definition reads (tables of the default schema, CTEs aside)."""
    con = duckdb.connect()
    try:
        try:
            raw = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
        except duckdb.Error as exc:
            raise InvalidInputError(
                f"Requête de la vue illisible : {str(exc).splitlines()[0]}",
                hint="écrivez une seule requête SELECT",
                message_en="Unreadable view query",
                details={"errors": [{"field": "definition.sql", "message": str(exc)}]},
            ) from None
    finally:
        con.close()
    tree = json.loads(raw[0]) if raw else {}
    if tree.get("error"):
        raise InvalidInputError(
            f"Requête de la vue illisible : {tree.get('error_message', '?')}",
            hint="écrivez une seule requête SELECT",
            message_en=f"Unreadable view query: {tree.get('error_message', '?')}",
            details={"errors": [{"field": "definition.sql", "message": "syntax"}]},
        )
    ctes = _cte_names(tree)
    found: set[str] = set()
    for node in _nodes(tree):
        if node.get("type") == "BASE_TABLE":
            schema = str(node.get("schema_name", "")).casefold()
            name = str(node.get("table_name", ""))
            if schema in {"", "main"} and not (not schema and name.casefold() in ctes):
                found.add(name)
    return sorted(found)


def definition_sources(definition: JoinDefinition | SqlDefinition) -> list[str]:
    """The datasets a definition reads."""
    if isinstance(definition, JoinDefinition):
        return definition.sources
    return sorted(set(definition.sources) | set(sql_sources(definition.sql)))


def _column_error(side: str, dataset: str, name: str, known: list[str], personal: bool) -> Any:
    extra = " (colonne personnelle : une vue ne lit jamais les données personnelles)"
    extra_en = " (a personal column: views never read personal data)"
    return InvalidInputError(
        f"Colonne « {name} » absente de {dataset}{extra if personal else ''}",
        hint=f"colonnes disponibles ({side}) : {', '.join(known)}",
        message_en=f"Column '{name}' is not in {dataset}{extra_en if personal else ''}",
        hint_en=f"available columns ({side}): {', '.join(known)}",
        details={"errors": [{"field": f"definition.{side}", "message": name}]},
    )


def compile_view(
    session: Session,
    settings: Settings,
    definition: JoinDefinition | SqlDefinition,
    tables: list[ReadableTable],
) -> Compiled:
    """Check a definition against the source versions and return the SQL to run.

    Raises :class:`InvalidInputError` naming an unknown column (saying when it is a personal
    one), an unknown reference table, or the guard's refusal of the SQL.
    """
    database = engine_for(settings).database(tables)
    if isinstance(definition, SqlDefinition):
        checked = database.check(definition.sql)
        database.describe(checked)
        return Compiled(checked, database, tables)
    by_slug = {t.slug: t for t in tables}
    for side, slug in (("left", definition.left), ("right", definition.right)):
        if side == "right" and definition.reference is not None:
            from beffroi.crossings.definitions import right_table  # noqa: PLC0415

            table = right_table(definition)
            known = [c.name for c in database.describe(f"SELECT * FROM {table}")]  # noqa: S608
            hidden: set[str] = set()
        else:
            known = database.views[slug].names
            hidden = access.hidden_personal(session, by_slug[slug].dataset_id)
        for name in sorted(definition.columns_of(side)):
            if name not in known:
                raise _column_error(side, slug, name, known, name in hidden)
    if definition.spatial is not None:
        outlines.install(database.con)
    sql = compile_join(definition)
    database.describe(sql)  # binds: wrong types in a key pair fail here, before any run
    return Compiled(sql, database, tables)


def _upstream_ids(session: Session, dataset_id: int) -> set[int]:
    """Every dataset a dataset is computed from, through its views (transitively)."""
    found: set[int] = set()
    todo = [dataset_id]
    while todo:
        current = todo.pop()
        view = session.scalar(select(CrossingView).where(CrossingView.dataset_id == current))
        if view is None:
            continue
        for source_id in session.scalars(
            select(CrossingSource.dataset_id).where(CrossingSource.view_id == view.id)
        ):
            if source_id not in found:
                found.add(source_id)
                todo.append(source_id)
    return found


# ---------------------------------------------------------------- create, read, list


def create_view(
    session: Session, actor: Actor, settings: Settings, data: ViewCreate
) -> tuple[CrossingView, Job]:
    """Validate and store a view, and queue its first materialisation."""
    definition = parse(data.definition)
    owner = get_organization(session, data.owner)
    require(actor, Action.DATASET_CREATE, owner.id)
    if data.published_aggregate:
        access.require_aggregate_right(actor, owner.id)
    slugs = definition_sources(definition)
    if not slugs and isinstance(definition, SqlDefinition):
        compile_view(session, settings, definition, [])  # the guard's refusal comes first
    if not slugs:
        raise InvalidInputError(
            "La vue ne lit aucun jeu de données",
            hint="nommez au moins un jeu de données source (left, ou une table dans FROM)",
            message_en="The view reads no dataset",
            hint_en="name at least one source dataset",
        )
    target = session.scalar(
        select(Dataset).where(Dataset.slug == data.slug, Dataset.deleted_at.is_(None))
    )
    if target is not None:
        target = get_dataset(session, actor, data.slug)  # 404 when invisible
        require(actor, Action.DATASET_UPDATE, target.publisher_id)
        if target.publisher_id != owner.id:
            raise ConflictError(
                f"Le jeu de données {data.slug} appartient à une autre organisation",
                hint="choisissez un nouvel identifiant pour la vue",
                message_en=f"Dataset {data.slug} belongs to another organisation",
                hint_en="choose a new identifier for the view",
            )
        if session.scalar(select(CrossingView.id).where(CrossingView.dataset_id == target.id)):
            raise ConflictError(
                f"Le jeu de données {data.slug} est déjà une vue",
                hint="choisissez un autre identifiant",
                message_en=f"Dataset {data.slug} already is a view",
                hint_en="choose another identifier",
            )
        if data.slug in slugs or target.id in {
            i for s in slugs for i in _upstream_ids(session, _dataset_id(session, s))
        }:
            raise InvalidInputError(
                f"Dépendance circulaire : {data.slug} serait calculé à partir de lui-même",
                hint="une vue ne peut lire, même à travers d'autres vues, le jeu de données "
                "qu'elle produit",
                message_en=f"Circular dependency: {data.slug} would be computed from itself",
                hint_en="a view may not read, even through other views, the dataset it produces",
                details={"errors": [{"field": "definition", "message": "cycle"}]},
            )
    tables = access.source_tables(session, actor, slugs)
    sources = [d for d in (session.get(Dataset, t.dataset_id) for t in tables) if d is not None]
    level = data.access_level or access.required_level(sources)
    access.check_level(level, owner.id, sources, published_aggregate=data.published_aggregate)
    compiled = compile_view(session, settings, definition, tables)
    if target is None:
        target = create_dataset(
            session,
            actor,
            parse_fields(
                DatasetCreate,
                {
                    "title": data.title or data.slug,
                    "publisher": owner.slug,
                    "slug": data.slug,
                    "description": data.description,
                    "license": data.license,
                    "access_level": level,
                },
            ),
        )
    else:
        target.access_level = AccessLevel(level).value
    view = CrossingView(
        dataset_id=target.id,
        kind=definition.kind,
        definition=definition.model_dump(mode="json", by_alias=True, exclude_none=True),
        sql=compiled.sql,
        creator_user_id=actor.user_id,
        created_by=actor.label,
        published_aggregate=data.published_aggregate,
        aggregate_by=actor.label if data.published_aggregate else None,
        aggregate_at=utcnow() if data.published_aggregate else None,
        stale_since=utcnow(),
    )
    view.dataset = target
    session.add(view)
    session.flush()
    for source in sources:
        session.add(CrossingSource(view_id=view.id, dataset_id=source.id))
    audit.record(
        session,
        actor,
        "view.create",
        "dataset",
        target.slug,
        {
            "kind": view.kind,
            "sources": [s.slug for s in sources],
            "access_level": target.access_level,
            "published_aggregate": view.published_aggregate,
        },
    )
    job = refresh.queue(
        session, view, trigger="création de la vue", created_by=actor.label, user_id=actor.user_id
    )
    return view, job


def _dataset_id(session: Session, slug: str) -> int:
    found = session.scalar(select(Dataset.id).where(Dataset.slug == slug))
    return found if found is not None else -1


def get_view(session: Session, actor: Actor, slug: str) -> CrossingView:
    """The view producing a readable dataset (404 for an invisible or plain dataset)."""
    dataset = get_dataset(session, actor, slug)
    view = session.scalar(select(CrossingView).where(CrossingView.dataset_id == dataset.id))
    if view is None:
        raise NotFoundError(
            f"Le jeu de données {slug} n'est pas une vue (croisement)",
            hint="GET /api/v1/views liste les vues",
            message_en=f"Dataset {slug} is not a view (crossing)",
            hint_en="GET /api/v1/views lists the views",
        )
    return view


def list_views(session: Session, actor: Actor) -> list[CrossingView]:
    """The views whose dataset the actor may read, by slug."""
    from beffroi.access import readable_datasets  # noqa: PLC0415

    query = (
        select(CrossingView)
        .join(Dataset, Dataset.id == CrossingView.dataset_id)
        .where(readable_datasets(actor))
        .order_by(Dataset.slug)
    )
    return list(session.scalars(query))


def _source_datasets(session: Session, view: CrossingView) -> list[Dataset]:
    query = (
        select(Dataset)
        .join(CrossingSource, CrossingSource.dataset_id == Dataset.id)
        .where(CrossingSource.view_id == view.id)
        .order_by(Dataset.slug)
    )
    return list(session.scalars(query))


def view_payload(session: Session, actor: Actor, view: CrossingView) -> dict[str, Any]:
    """The API view of a view: definition and SQL (only to those who may read every source),
    visible sources, access, state and last job."""
    dataset = view.dataset
    sources = _source_datasets(session, view)
    visible = access.visible_ids(session, actor, [s.id for s in sources])
    every = len(visible) == len(sources)
    last = session.scalar(
        select(Job)
        .where(Job.kind == refresh.JOB_KIND, Job.dataset_id == dataset.id)
        .order_by(Job.created_at.desc())
        .limit(1)
    )
    current = dataset.published_version
    return {
        "dataset": dataset.slug,
        "title": dataset.title,
        "owner": dataset.publisher.slug,
        "access_level": dataset.access_level,
        "kind": view.kind,
        "definition": view.definition if every else None,
        "sql": view.sql if every else None,
        "sources": [s.slug for s in sources if s.id in visible],
        "hidden_sources": len(sources) - len(visible),
        "published_aggregate": view.published_aggregate,
        "aggregate_by": view.aggregate_by,
        "aggregate_at": view.aggregate_at.isoformat() if view.aggregate_at else None,
        "created_by": view.created_by,
        "created_at": view.created_at.isoformat(),
        "stale": view.stale_since is not None,
        "version": current.number if current else None,
        "rows": current.row_count if current else None,
        "last_job": {"id": last.id, "status": last.status} if last else None,
    }


def request_refresh(session: Session, actor: Actor, slug: str) -> Job:
    """Queue a recomputation of a view (editors of its owner)."""
    view = get_view(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, view.dataset.publisher_id)
    return refresh.queue(
        session,
        view,
        trigger=f"demande de {actor.label}",
        created_by=actor.label,
        user_id=actor.user_id,
    )


# ---------------------------------------------------------------- lineage


def lineage(
    session: Session, actor: Actor, slug: str, version: int | None = None
) -> dict[str, Any]:
    """Upstream (for a view: the source versions that produced a version) and downstream
    (views reading the dataset), showing only the datasets the actor may see."""
    dataset = get_dataset(session, actor, slug)
    view = session.scalar(select(CrossingView).where(CrossingView.dataset_id == dataset.id))
    chosen: DatasetVersion | None = dataset.published_version
    if version is not None:
        from beffroi.catalog.versions import get_version  # noqa: PLC0415

        chosen = get_version(session, actor, slug, version)
    upstream: list[dict[str, Any]] = []
    if view is not None and chosen is not None:
        rows = session.execute(
            select(DatasetVersion, Dataset)
            .join(VersionLineage, VersionLineage.source_version_id == DatasetVersion.id)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(VersionLineage.version_id == chosen.id)
            .order_by(Dataset.slug)
        ).all()
        visible = access.visible_ids(session, actor, [d.id for _v, d in rows])
        upstream = [
            {
                "dataset": d.slug,
                "version": v.number,
                "published": d.published_version_id == v.id,
                "is_view": _is_view(session, d.id),
            }
            for v, d in rows
            if d.id in visible
        ]
    downstream: list[dict[str, Any]] = []
    readers = session.execute(
        select(CrossingView, Dataset)
        .join(CrossingSource, CrossingSource.view_id == CrossingView.id)
        .join(Dataset, Dataset.id == CrossingView.dataset_id)
        .where(CrossingSource.dataset_id == dataset.id, Dataset.deleted_at.is_(None))
        .order_by(Dataset.slug)
    ).all()
    visible = access.visible_ids(session, actor, [d.id for _v, d in readers])
    for reader, target in readers:
        if target.id not in visible:
            continue
        used = None
        if target.published_version_id is not None:
            used = session.scalar(
                select(DatasetVersion.number)
                .join(VersionLineage, VersionLineage.source_version_id == DatasetVersion.id)
                .where(
                    VersionLineage.version_id == target.published_version_id,
                    DatasetVersion.dataset_id == dataset.id,
                )
            )
        downstream.append(
            {
                "dataset": target.slug,
                "version": target.published_version.number if target.published_version else None,
                "from_version": used,
                "stale": reader.stale_since is not None,
            }
        )
    return {
        "dataset": dataset.slug,
        "version": chosen.number if chosen else None,
        "is_view": view is not None,
        "upstream": upstream,
        "downstream": downstream,
    }


def _is_view(session: Session, dataset_id: int) -> bool:
    found = session.scalar(select(CrossingView.id).where(CrossingView.dataset_id == dataset_id))
    return found is not None


# ---------------------------------------------------------------- materialisation


def materialise(factory: sessionmaker[Session], settings: Settings, job_id: str) -> dict[str, Any]:
    """Compute a view's next version as its creator, store it, record its lineage and
    publish it (the same path as an upload). Returns the job's result."""
    with transaction(factory) as session:
        job = session.get(Job, job_id)
        if job is None or job.dataset_id is None:
            raise NotFoundError(
                f"Tâche introuvable : {job_id}",
                hint="vérifiez l'identifiant",
                message_en=f"Job not found: {job_id}",
                hint_en="check the identifier",
            )
        view = session.scalar(select(CrossingView).where(CrossingView.dataset_id == job.dataset_id))
        if view is None:
            raise NotFoundError(
                "La vue de cette tâche n'existe plus",
                hint="rien à recalculer",
                message_en="The view of this job no longer exists",
                hint_en="nothing to recompute",
            )
        dataset = view.dataset
        creator = access.creator_actor(session, view.creator_user_id, view.created_by)
        definition = parse(view.definition)
        sources = _source_datasets(session, view)
        tables = _as_named(
            session,
            definition,
            access.source_tables(session, creator, [s.slug for s in sources]),
        )
        if not view.published_aggregate:
            needed = access.required_level(sources)
            if access.rank(dataset.access_level) < access.rank(needed):
                # A source was closed since the view was made: so is the view, before any read.
                audit.record(
                    session,
                    creator,
                    "view.narrow",
                    "dataset",
                    dataset.slug,
                    {"from": dataset.access_level, "to": needed.value},
                )
                dataset.access_level = needed.value
            access.check_level(
                dataset.access_level, dataset.publisher_id, sources, published_aggregate=False
            )
        compiled = compile_view(session, settings, definition, tables)
        view.sql = compiled.sql
        store_key, dataset_id, slug = dataset.store_key, dataset.id, dataset.slug
        source_versions = {t.dataset_id: t.version for t in tables}
    schema, batches = compiled.database.stream(
        compiled.sql, timeout=settings.query_timeout_seconds * 10
    )
    profile = ProfileBuilder()
    stored = store_for(settings).write(
        store_key, _profiled(batches, profile), schema, upload_id=job_id, mode="replace"
    )
    columns = [{"name": f.name, "type": str(f.type)} for f in schema]
    with transaction(factory) as session:
        target = session.get(Dataset, dataset_id)
        view = session.scalar(select(CrossingView).where(CrossingView.dataset_id == dataset_id))
        if target is None or view is None:
            raise NotFoundError(
                "La vue a été supprimée pendant son calcul",
                hint="rien à faire",
                message_en="The view was deleted while being computed",
                hint_en="nothing to do",
            )
        creator = access.creator_actor(session, view.creator_user_id, view.created_by)
        version = record_version(
            session,
            creator,
            dataset,
            upload_id=job_id,
            store_version=stored.version,
            mode="replace",
            row_count=stored.rows,
            columns=columns,
            profile=[p.as_dict() for p in profile.finish()],
            dialect={"view": slug, "kind": view.kind},
            source_name=f"vue {slug}",
            source_bytes=0,
        )
        used = []
        for source_id, number in sorted(source_versions.items()):
            source_version = session.scalar(
                select(DatasetVersion).where(
                    DatasetVersion.dataset_id == source_id, DatasetVersion.number == number
                )
            )
            if source_version is not None:
                session.add(
                    VersionLineage(version_id=version.id, source_version_id=source_version.id)
                )
                used.append({"dataset_id": source_id, "version": number})
        view.stale_since = None
        view.modified_at = utcnow()
        publish_version(session, creator, slug, version.number)
        published = dataset.published_version_id == version.id
        return {
            "dataset": slug,
            "version": version.number,
            "rows": stored.rows,
            "published": published,
            "sources": [
                {"dataset": t.slug, "version": t.version}
                for t in sorted(tables, key=lambda t: t.slug)
            ],
        }


def _as_named(
    session: Session, definition: JoinDefinition | SqlDefinition, tables: list[ReadableTable]
) -> list[ReadableTable]:
    """The source tables under the names the definition uses: a source renamed since the
    view was made keeps its former slug here (slugs are never reused: the redirect names
    the same dataset), so the view's SQL still reads it."""
    import dataclasses  # noqa: PLC0415

    by_id = {t.dataset_id: t for t in tables}
    current = {t.slug for t in tables}
    for name in definition_sources(definition):
        if name in current:
            continue
        redirect = session.get(SlugRedirect, name)
        if redirect is not None and redirect.dataset_id in by_id:
            by_id[redirect.dataset_id] = dataclasses.replace(by_id[redirect.dataset_id], slug=name)
    return sorted(by_id.values(), key=lambda t: t.slug)


def _profiled(
    batches: Iterator[pa.RecordBatch], profile: ProfileBuilder
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        profile.update(batch)
        yield batch


def run_job(factory: sessionmaker[Session], settings: Settings, job_id: str) -> str:
    """Run one queued view job; its final status (``succeeded`` or ``failed``)."""
    with transaction(factory) as session:
        # Claimed in one statement: two workers (web server, command line) never both run it.
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(status="running", started_at=utcnow())
        )
        if not getattr(claimed, "rowcount", 0):
            job = session.get(Job, job_id)
            return job.status if job is not None else "missing"
    try:
        result = materialise(factory, settings, job_id)
    except BeffroiError as exc:
        _finish(factory, job_id, "failed", error=exc.record())
        log.warning("view job %s failed: %s", job_id, exc.message)
        return "failed"
    except Exception:
        log.exception("view job %s failed", job_id)
        _finish(
            factory,
            job_id,
            "failed",
            error={
                "code": "internal-error",
                "detail": "Erreur inattendue pendant le calcul de la vue ; elle a été consignée",
                "hint": "réessayez ; si elle persiste, signalez-la avec l'identifiant de tâche",
                "message_en": "Unexpected error while computing the view; it has been logged",
                "hint_en": "try again; if it persists, report it with the job id",
            },
        )
        return "failed"
    _finish(factory, job_id, "succeeded", result=result)
    return "succeeded"


def _finish(factory: sessionmaker[Session], job_id: str, status: str, **fields: Any) -> None:
    with transaction(factory) as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.status = status
        job.finished_at = utcnow()
        for key, value in fields.items():
            setattr(job, key, value)
        if status == "failed" and job.dataset_id is not None:
            view = session.scalar(
                select(CrossingView).where(CrossingView.dataset_id == job.dataset_id)
            )
            if view is not None and view.stale_since is None:
                view.stale_since = utcnow()


def _depth(session: Session, dataset_id: int, seen: frozenset[int] = frozenset()) -> int:
    """How many views lie between a dataset and plain datasets (0: not a view)."""
    view = session.scalar(select(CrossingView).where(CrossingView.dataset_id == dataset_id))
    if view is None or dataset_id in seen:
        return 0
    sources = session.scalars(
        select(CrossingSource.dataset_id).where(CrossingSource.view_id == view.id)
    )
    return 1 + max((_depth(session, s, seen | {dataset_id}) for s in sources), default=0)


def refresh_pending(
    factory: sessionmaker[Session], settings: Settings, *, limit: int = 1000
) -> list[tuple[str, str, str]]:
    """Run the queued view jobs, upstream views first, until none is left (or ``limit``
    runs). Returns (job id, view, status) of each run."""
    runs: list[tuple[str, str, str]] = []
    while len(runs) < limit:
        with factory() as session:
            queued = list(
                session.scalars(
                    select(Job)
                    .where(Job.kind == refresh.JOB_KIND, Job.status == "queued")
                    .order_by(Job.created_at)
                )
            )
            if not queued:
                break
            ordered = sorted(
                queued, key=lambda j: _depth(session, j.dataset_id) if j.dataset_id else 0
            )
            job_id, name = ordered[0].id, str(ordered[0].params.get("view", "?"))
        runs.append((job_id, name, run_job(factory, settings, job_id)))
    return runs


class Worker:
    """Runs a catalogue's queued view jobs in a background thread, woken after each commit
    that queued one (:mod:`beffroi.crossings.refresh`); the thread ends when none is left."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = factory
        self.settings = settings
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def start(self) -> Worker:
        """Register for the catalogue and run what is waiting: queued jobs, and stale views
        whose job a restart interrupted (queued again)."""
        with transaction(self.factory) as session:
            key = refresh.catalogue_key(session)
            for job in session.scalars(
                select(Job).where(
                    Job.kind == refresh.JOB_KIND,
                    Job.status == "failed",
                    Job.started_at.is_(None),
                )
            ):
                # Never started: marked failed by the start-up recovery, safe to run now.
                job.status, job.error, job.finished_at = "queued", {}, None
            session.flush()
            for view in session.scalars(
                select(CrossingView).where(CrossingView.stale_since.is_not(None))
            ):
                refresh.queue(session, view, trigger="redémarrage (vue à recalculer)")
        refresh.register(key, self.wake)
        self.wake()
        return self

    def wake(self) -> None:
        """Run the queued jobs (now, or right after the current run)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._again = True
                return
            self._again = False
            self._thread = threading.Thread(target=self._run, name="beffroi-views", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                refresh_pending(self.factory, self.settings)
            except Exception:  # the catalogue may be gone (shutdown): log, do not crash
                log.exception("view recomputation failed")
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False

    def join(self, timeout: float | None = None) -> None:
        """Wait for the current run (tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def new_job_id() -> str:
    """A fresh job id."""
    return str(uuid.uuid4())


def may_edit(actor: Actor, view: CrossingView) -> bool:
    """Whether the actor may refresh the view."""
    return can(actor, Action.DATASET_UPDATE, view.dataset.publisher_id)


def job_result(session: Session, job_id: str) -> dict[str, Any]:
    """The result of a finished view job (empty when none)."""
    job = session.get(Job, job_id)
    return dict(job.result or {}) if job is not None else {}


def job_error(session: Session, job_id: str) -> dict[str, Any]:
    """The error of a failed view job (empty when none)."""
    job = session.get(Job, job_id)
    return dict(job.error or {}) if job is not None else {}
