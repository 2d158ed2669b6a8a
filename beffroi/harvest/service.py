"""Harvest sources and their runs: import remote datasets into an organisation, updating in
place on change and never duplicating (one :class:`HarvestRecord` per remote identifier).

A run reads the remote catalogue (:mod:`beffroi.harvest.dcat` or
:mod:`beffroi.harvest.ckan`), then for each remote dataset: creates the local record the
first time (its slug derived once, never changed after), updates its metadata when their
digest changed, and ingests its first CSV/JSON/GeoJSON/XLSX file as a new version only when
the file changed (HTTP validators first, then the content's SHA-256). File feeds (kind
``file``, :mod:`beffroi.harvest.feeds`) are sources of one file for one local dataset.
Runs execute as the local operator named after the source (``moissonnage:<name>``): the
steward who adds a source or starts a run is checked when doing so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Action, Actor, require
from beffroi.access.policy import can, not_found
from beffroi.catalog import audit, services
from beffroi.catalog.db import transaction
from beffroi.catalog.identifiers import SLUG_RE, slugify
from beffroi.catalog.models import (
    Dataset,
    HarvestRecord,
    HarvestRun,
    HarvestSource,
    SlugRedirect,
    utcnow,
)
from beffroi.catalog.schemas import DatasetCreate, DatasetUpdate, parse
from beffroi.errors import BeffroiError, ConflictError, InvalidInputError
from beffroi.harvest.fetching import Limits
from beffroi.harvest.model import RemoteDataset
from beffroi.settings import Settings

if TYPE_CHECKING:
    from beffroi.catalog.models import Job
    from beffroi.jobs import JobRunner

logger = logging.getLogger("beffroi.harvest")

KINDS = ("dcat", "ckan", "file")
_EVERY = re.compile(r"^\s*(\d+)\s*(s|min|m|h|d|j)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "j": 86400}
# Fields a harvest keeps in step with the remote record (the rest stays local: access…).
MANAGED = (
    "title",
    "description",
    "keywords",
    "themes",
    "license",
    "frequency",
    "spatial",
    "temporal_start",
    "temporal_end",
    "contact_name",
    "contact_email",
    "hvd_category",
    "applicable_legislation",
)
STALE_RUN = dt.timedelta(hours=6)
_EMPTY: dict[str, Any] = {"description": "", "keywords": [], "themes": [], "spatial": []}


def parse_every(value: str | int | None) -> int | None:
    """Seconds of a schedule such as ``1h``, ``30min``, ``2d``, ``900`` (None: by hand)."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        seconds = value
    else:
        match = _EVERY.match(value)
        if match is None:
            raise InvalidInputError(
                f"Intervalle illisible : « {value} »",
                hint="écrivez par exemple 30min, 1h, 6h ou 1d",
                message_en=f"Unreadable interval: “{value}”",
                hint_en="write for example 30min, 1h, 6h or 1d",
            )
        seconds = int(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds < 60:
        raise InvalidInputError(
            f"Intervalle trop court : {seconds} s",
            hint="une minute au moins (60, 1min, 1h…)",
            message_en=f"Interval too short: {seconds} s",
            hint_en="one minute at least (60, 1min, 1h…)",
        )
    return seconds


class SourceCreate(BaseModel):
    """Fields to add a harvest source."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=SLUG_RE.pattern)]
    kind: Literal["dcat", "ckan"]
    url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")]
    organization: str = Field(description="Slug of the organisation the datasets go to.")
    every: str | int | None = Field(
        default=None, description="Schedule: 30min, 1h, 1d… (absent: run by hand only)."
    )
    auto_publish: bool = Field(default=False, description="Publish each new version at once.")


@dataclass
class RunSummary:
    """What a run did."""

    id: int
    source: str
    status: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "id": self.id,
            "source": self.source,
            "status": self.status,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "errors": self.errors,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


# ---------------------------------------------------------------- sources


def source_view(source: HarvestSource) -> dict[str, Any]:
    """The public view of a source."""
    return {
        "id": source.id,
        "name": source.name,
        "kind": source.kind,
        "url": source.url,
        "organization": source.organization.slug,
        "dataset": source.dataset.slug if source.dataset is not None else None,
        "every_s": source.interval_s,
        "auto_publish": source.auto_publish,
        "status": source.status,
        "last_run_at": source.last_run_at.isoformat() if source.last_run_at else None,
        "next_run_at": source.next_run_at.isoformat() if source.next_run_at else None,
        "created_by": source.created_by,
        "created_at": source.created_at.isoformat(),
    }


def run_view(run: HarvestRun, source_name: str) -> dict[str, Any]:
    """The public view of a run."""
    return RunSummary(
        id=run.id,
        source=source_name,
        status=run.status,
        created=run.created,
        updated=run.updated,
        unchanged=run.unchanged,
        failed=run.failed,
        errors=list(run.errors),
        started_at=run.started_at,
        finished_at=run.finished_at,
    ).as_dict()


def _name_taken(session: Session, name: str) -> None:
    if session.scalar(select(HarvestSource.id).where(HarvestSource.name == name)) is not None:
        raise ConflictError(
            f"Le nom de source « {name} » est déjà pris",
            hint="choisissez un autre nom",
            message_en=f"The source name “{name}” is already taken",
            hint_en="choose another name",
        )


def add_source(session: Session, actor: Actor, data: SourceCreate) -> HarvestSource:
    """Add a DCAT or CKAN source harvested into one organisation (its stewards only)."""
    org = services.get_organization(session, data.organization)
    require(actor, Action.HARVEST_MANAGE, org.id)
    _name_taken(session, data.name)
    interval = parse_every(data.every)
    source = HarvestSource(
        name=data.name,
        kind=data.kind,
        url=data.url,
        organization=org,
        interval_s=interval,
        auto_publish=data.auto_publish,
        status="new",
        next_run_at=utcnow() if interval else None,
        created_by=actor.label,
    )
    session.add(source)
    session.flush()
    audit.record(
        session,
        actor,
        "harvest.source.create",
        "harvest_source",
        source.name,
        {"kind": source.kind, "url": source.url, "organization": org.slug},
    )
    return source


def list_sources(session: Session, actor: Actor, kind: str | None = None) -> list[HarvestSource]:
    """The sources the actor manages (its organisations' as steward; all for admins)."""
    query = select(HarvestSource).order_by(HarvestSource.name)
    if kind:
        query = query.where(HarvestSource.kind == kind)
    return [
        s for s in session.scalars(query) if can(actor, Action.HARVEST_MANAGE, s.organization_id)
    ]


def get_source(session: Session, actor: Actor, key: str | int) -> HarvestSource:
    """A source by name or id, for an actor who manages it (others: not found)."""
    text = str(key)
    query = select(HarvestSource).where(
        HarvestSource.id == int(text) if text.isdigit() else HarvestSource.name == text
    )
    source = session.scalar(query)
    if source is None or not can(actor, Action.HARVEST_MANAGE, source.organization_id):
        raise not_found("Source de moissonnage", text)
    return source


def list_runs(session: Session, actor: Actor, key: str | int, limit: int = 20) -> list[HarvestRun]:
    """The latest runs of a source, newest first."""
    source = get_source(session, actor, key)
    query = (
        select(HarvestRun)
        .where(HarvestRun.source_id == source.id)
        .order_by(HarvestRun.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


# ---------------------------------------------------------------- runs


@dataclass
class _Context:
    """One run's fixed parameters."""

    factory: sessionmaker[Session]
    settings: Settings
    actor: Actor
    source_id: int
    source_name: str
    organization: str
    auto_publish: bool
    limits: Limits
    work_dir: Path


@dataclass
class _Run:
    """A run begun (its row written, the source marked running), not yet done."""

    context: _Context
    summary: RunSummary
    kind: str
    url: str
    feed_dataset: str | None


def _begin(
    factory: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    key: str | int,
    trigger: str | None,
) -> _Run:
    """Check the actor manages the source and no run of it is under way; record the run."""
    with transaction(factory) as session:
        source = get_source(session, actor, key)
        source_id, name, kind, url = source.id, source.name, source.kind, source.url
        context = _Context(
            factory=factory,
            settings=settings,
            actor=Actor.system(name=f"moissonnage:{name}", surface="harvest"),
            source_id=source_id,
            source_name=name,
            organization=source.organization.slug,
            auto_publish=source.auto_publish,
            limits=Limits.of(settings),
            work_dir=settings.data_dir / "harvest" / str(uuid.uuid4()),
        )
        feed_dataset = source.dataset.slug if source.dataset is not None else None
        _not_running(session, source)
        source.status = "running"
        run = HarvestRun(source_id=source_id, trigger=trigger or actor.label, status="running")
        session.add(run)
        session.flush()
        summary = RunSummary(id=run.id, source=name, status="running", started_at=run.started_at)
    return _Run(context, summary, kind, url, feed_dataset)


def _execute(begun: _Run) -> RunSummary:
    """Do a begun run: fetch, import, record the outcome (never raises for the remote's
    faults: they are the run's errors)."""
    context, summary = begun.context, begun.summary
    try:
        if begun.kind == "file":
            from beffroi.harvest.feeds import run_feed  # noqa: PLC0415 - feeds import us

            outcome = run_feed(context, begun.feed_dataset or "", begun.url, summary.errors)
            _count(summary, outcome)
        else:
            for remote in _remote_datasets(begun.kind, begun.url, context.limits):
                _count(summary, _import_one(context, remote, summary.errors))
        summary.status = "succeeded" if not summary.failed else "partial"
    except BeffroiError as exc:
        summary.status = "failed"
        summary.errors.append(_error(None, exc))
    except Exception as exc:
        logger.exception("harvest run %s of %s failed", summary.id, context.source_name)
        summary.status = "failed"
        summary.errors.append({"remote_id": None, "code": "internal-error", "message": str(exc)})
    finally:
        shutil.rmtree(context.work_dir, ignore_errors=True)
    _finish(context, summary)
    return summary


def start_run(
    factory: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    key: str | int,
    *,
    trigger: str | None = None,
) -> RunSummary:
    """Run a source now (the actor must manage it) and return what the run did."""
    return _execute(_begin(factory, settings, actor, key, trigger))


def submit_run(runner: JobRunner, actor: Actor, key: str | int) -> tuple[Job, RunSummary]:
    """Begin a run of a source now and do it in the background, as a job of ``runner``
    (kind ``harvest``): the job and the begun run. Not found, denied, or a run already
    under way are refused at once; the job's result is the run's summary once it ends
    (status ``failed`` when the run failed as a whole, ``succeeded`` otherwise — a
    ``partial`` run lists its errors in the result)."""
    begun = _begin(runner.factory, runner.settings, actor, key, None)
    summary = begun.summary

    def task() -> tuple[str, dict[str, Any], dict[str, Any]]:
        done = _execute(begun)
        if done.status != "failed":
            return "succeeded", done.as_dict(), {}
        first = done.errors[0] if done.errors else {}
        error = {
            "code": first.get("code") or "harvest-failed",
            "detail": f"Le moissonnage de « {done.source} » a échoué : "
            f"{first.get('message') or 'erreur inconnue'}",
            "hint": first.get("hint") or "consultez les erreurs du moissonnage (runs)",
            "message_en": f"The harvest of “{done.source}” failed: "
            f"{first.get('message_en') or first.get('message') or 'unknown error'}",
            "hint_en": "see the run's errors (runs)",
        }
        return "failed", done.as_dict(), error

    try:
        job = runner.submit_task(
            "harvest", actor, {"source": summary.source, "run": summary.id}, task
        )
    except BaseException:  # the job could not be queued: the run must not stay "running"
        summary.status = "failed"
        summary.errors.append(
            {"remote_id": None, "code": "internal-error", "message": "job not started"}
        )
        _finish(begun.context, summary)
        raise
    return job, summary


def _not_running(session: Session, source: HarvestSource) -> None:
    """Refuse a second concurrent run (one left unfinished by a crash expires after
    ``STALE_RUN``)."""
    if source.status != "running":
        return
    unfinished = session.scalar(
        select(HarvestRun.started_at)
        .where(HarvestRun.source_id == source.id, HarvestRun.finished_at.is_(None))
        .order_by(HarvestRun.id.desc())
        .limit(1)
    )
    if unfinished is not None and utcnow() - unfinished < STALE_RUN:
        raise ConflictError(
            f"Un moissonnage de « {source.name} » est déjà en cours",
            hint="attendez sa fin (beffroi harvest runs) puis relancez",
            message_en=f"A harvest of “{source.name}” is already running",
            hint_en="wait for it to end (beffroi harvest runs), then run it again",
        )


def _remote_datasets(kind: str, url: str, limits: Limits) -> Iterator[RemoteDataset]:
    if kind == "dcat":
        from beffroi.harvest import dcat  # noqa: PLC0415 - rdflib on demand

        return dcat.datasets(url, limits)
    from beffroi.harvest import ckan  # noqa: PLC0415

    return ckan.datasets(url, limits)


def _count(summary: RunSummary, outcome: str) -> None:
    setattr(summary, outcome, getattr(summary, outcome) + 1)


def _error(remote_id: str | None, exc: BeffroiError) -> dict[str, Any]:
    return {
        "remote_id": remote_id,
        "code": exc.code,
        "message": exc.message,
        "hint": exc.hint,
        "message_en": exc.message_en,
    }


def _finish(context: _Context, summary: RunSummary) -> None:
    with transaction(context.factory) as session:
        run = session.get(HarvestRun, summary.id)
        source = session.get(HarvestSource, context.source_id)
        now = utcnow()
        summary.finished_at = now
        if run is not None:
            run.status = summary.status
            run.created, run.updated = summary.created, summary.updated
            run.unchanged, run.failed = summary.unchanged, summary.failed
            run.errors = summary.errors[:200]
            run.finished_at = now
        if source is not None:
            source.status = "ok" if summary.status == "succeeded" else summary.status
            source.last_run_at = now
            if source.interval_s:
                source.next_run_at = now + dt.timedelta(seconds=source.interval_s)


def _free_slug(session: Session, hint: str, remote_id: str) -> str:
    """A slug for a new harvested dataset: the remote name, else with a short suffix."""
    base = slugify(hint)[:90].rstrip("-") or "jeu-moissonne"
    candidates = [base, f"{base}-{hashlib.sha256(remote_id.encode()).hexdigest()[:6]}"]
    candidates += [f"{base}-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    for slug in candidates:
        taken = session.scalar(select(Dataset.id).where(Dataset.slug == slug)) is not None
        if not taken and session.get(SlugRedirect, slug) is None:
            return slug
    return f"{base}-{uuid.uuid4().hex}"[:100]


def _validated(model: type[DatasetCreate] | type[DatasetUpdate], data: dict[str, Any]) -> Any:
    """Validate remote metadata, dropping the fields the catalogue refuses (a bad e-mail…)
    rather than the whole dataset; the title and licence must pass."""
    try:
        return parse(model, data)
    except InvalidInputError as exc:
        bad = {str(e.get("field") or "").split(".")[0] for e in exc.details.get("errors", [])}
        if bad & {"title", "publisher", "slug", ""}:
            raise
        kept = {k: v for k, v in data.items() if k not in bad}
        if model is DatasetUpdate:
            kept.update({k: _EMPTY.get(k) for k in bad if k not in {"license", "description"}})
        return parse(model, kept)


def _import_one(context: _Context, remote: RemoteDataset, errors: list[dict[str, Any]]) -> str:
    """Create, update or leave one remote dataset; its outcome (``failed`` on error)."""
    try:
        outcome, slug, record_id = _import_metadata(context, remote)
    except BeffroiError as exc:
        errors.append(_error(remote.remote_id, exc))
        return "failed"
    distribution = remote.data()
    if slug is None or distribution is None:
        return outcome
    from beffroi.harvest.feeds import ingest_if_changed  # noqa: PLC0415

    try:
        changed = ingest_if_changed(context, slug, record_id, distribution.url, distribution.format)
    except BeffroiError as exc:
        errors.append({**_error(remote.remote_id, exc), "url": distribution.url})
        return outcome
    return "updated" if changed and outcome == "unchanged" else outcome


def _import_metadata(context: _Context, remote: RemoteDataset) -> tuple[str, str | None, int]:
    """The metadata step in one transaction: outcome, local slug (None: withdrawn locally),
    record id."""
    digest = remote.digest()
    actor = context.actor
    with transaction(context.factory) as session:
        record = session.scalar(
            select(HarvestRecord).where(
                HarvestRecord.source_id == context.source_id,
                HarvestRecord.remote_id == remote.remote_id,
            )
        )
        if record is None:
            slug = _free_slug(session, remote.slug_hint, remote.remote_id)
            data = _validated(
                DatasetCreate,
                {
                    **remote.fields,
                    "publisher": context.organization,
                    "slug": slug,
                    "access_level": "public",
                },
            )
            dataset = services.create_dataset(session, actor, data)
            record = HarvestRecord(
                source_id=context.source_id,
                remote_id=remote.remote_id,
                remote_uri=remote.remote_uri,
                dataset_id=dataset.id,
                metadata_digest=digest,
            )
            session.add(record)
            session.flush()
            return "created", dataset.slug, record.id
        local = session.get(Dataset, record.dataset_id)
        if local is None or local.deleted_at is not None:
            return "unchanged", None, record.id  # withdrawn here: never brought back
        if record.metadata_digest == digest:
            return "unchanged", local.slug, record.id
        dataset = local
        update = {key: remote.fields.get(key, _EMPTY.get(key)) for key in MANAGED}
        update["license"] = remote.fields.get("license", dataset.license)
        services.update_dataset(session, actor, dataset.slug, _validated(DatasetUpdate, update))
        record.metadata_digest = digest
        record.remote_uri = remote.remote_uri
        record.harvested_at = utcnow()
        return "updated", dataset.slug, record.id


# ---------------------------------------------------------------- schedule


def due_sources(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Names of the scheduled sources whose next run is due."""
    moment = now or utcnow()
    query = (
        select(HarvestSource.name)
        .where(
            HarvestSource.interval_s.is_not(None),
            (HarvestSource.next_run_at.is_(None)) | (HarvestSource.next_run_at <= moment),
        )
        .order_by(HarvestSource.next_run_at, HarvestSource.id)
    )
    return list(session.scalars(query))


def tick(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    stop: Callable[[], bool] | None = None,
) -> list[RunSummary]:
    """Run every due source once (the scheduler's tick); a failure of one does not stop
    the others."""
    with transaction(factory) as session:
        names = due_sources(session)
    done = []
    operator = Actor.system(name="planificateur", surface="harvest")
    for name in names:
        if stop is not None and stop():
            break
        try:
            done.append(start_run(factory, settings, operator, name, trigger="planificateur"))
        except BeffroiError as exc:  # running already, withdrawn meanwhile…
            logger.warning("scheduled harvest of %s not started: %s", name, exc)
    return done
