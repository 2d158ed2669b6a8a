"""Dataset usage counters: page views, downloads and records API calls per dataset per day.

The portal's home shows the most used datasets. Counting must not cost one catalogue write
per request, so :func:`record_use` only adds to an in-memory buffer (a lock and a dict);
:func:`flush` writes the buffer in one upsert statement per 500 (dataset, day) pairs —
at the job runner's tick, at shutdown, and at most every :data:`FLUSH_EVERY_S` seconds
from a short background thread started by the next count. Counts only: no address, no
user, no query string. A flush that fails keeps its counts for the next one.

One buffer per catalogue (two instances in one process, as in the tests, never mix their
counts). Datasets are counted by id, or by slug where only the slug is at hand (the
records API): slugs are resolved at flush time, former slugs through their redirects.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from beffroi.access import Actor, readable_datasets
from beffroi.catalog.models import Dataset, DatasetUsage, SlugRedirect

logger = logging.getLogger(__name__)

Kind = Literal["view", "download", "api"]
#: Column of :class:`DatasetUsage` counting each kind of use.
COLUMNS: dict[str, str] = {"view": "views", "download": "downloads", "api": "api_calls"}
#: A count waits at most this long in memory while requests keep coming.
FLUSH_EVERY_S = 60.0
#: Distinct (dataset, day) pairs that trigger a flush before the interval.
MAX_PENDING = 5_000
#: Rows per upsert statement (5 bound values each: well under SQLite's limit).
CHUNK = 500
#: The home page's window and length.
WINDOW_DAYS = 30
TOP = 6

DatasetRef = int | str  # an id, or a (current or former) slug


def today() -> dt.date:
    """The counting day (UTC)."""
    return dt.datetime.now(dt.UTC).date()


class UsageBuffer:
    """Counts waiting to be written to one catalogue."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._counts: dict[tuple[DatasetRef, dt.date], list[int]] = {}
        self._last_flush = time.monotonic()
        self._flushing = False

    def add(self, dataset: DatasetRef, kind: Kind, count: int = 1) -> None:
        """Count ``count`` uses of ``dataset`` today (in memory)."""
        index = _index(kind)
        key = (dataset, today())
        with self._lock:
            row = self._counts.get(key)
            if row is None:
                row = self._counts[key] = [0, 0, 0]
            row[index] += count
            due = not self._flushing and (
                len(self._counts) >= MAX_PENDING
                or time.monotonic() - self._last_flush >= FLUSH_EVERY_S
            )
            if due:
                self._flushing = True
        if due:
            threading.Thread(target=self._background, name="beffroi-usage", daemon=True).start()

    def pending(self) -> dict[tuple[DatasetRef, dt.date], tuple[int, int, int]]:
        """A copy of the counts not written yet."""
        with self._lock:
            return {k: (v[0], v[1], v[2]) for k, v in self._counts.items()}

    def _background(self) -> None:
        try:
            self.flush()
        except Exception:  # a background flush must never take a request down
            logger.exception("usage counters: flush failed")
        finally:
            with self._lock:
                self._flushing = False

    def flush(self) -> int:
        """Write the buffer (one upsert per :data:`CHUNK` rows, one transaction) and return
        the number of (dataset, day) rows written. On failure the counts stay buffered."""
        with self._flush_lock:
            with self._lock:
                taken, self._counts = self._counts, {}
                self._last_flush = time.monotonic()
            if not taken:
                return 0
            try:
                return self._write(taken)
            except Exception:
                with self._lock:
                    for key, values in taken.items():
                        row = self._counts.setdefault(key, [0, 0, 0])
                        for i, value in enumerate(values):
                            row[i] += value
                raise

    def _write(self, taken: dict[tuple[DatasetRef, dt.date], list[int]]) -> int:
        with Session(self.engine) as session, session.begin():
            ids = _resolve(session, {ref for ref, _day in taken})
            merged: dict[tuple[int, dt.date], list[int]] = {}
            for (ref, day), values in taken.items():
                dataset_id = ids.get(ref)
                if dataset_id is None:
                    continue  # deleted since, or an unknown slug: nothing to count
                row = merged.setdefault((dataset_id, day), [0, 0, 0])
                for i, value in enumerate(values):
                    row[i] += value
            rows = [
                {
                    "dataset_id": dataset_id,
                    "day": day,
                    "views": v[0],
                    "downloads": v[1],
                    "api_calls": v[2],
                }
                for (dataset_id, day), v in sorted(merged.items())
            ]
            for start in range(0, len(rows), CHUNK):
                session.execute(_upsert(session, rows[start : start + CHUNK]))
        return len(rows)


def _index(kind: str) -> int:
    try:
        return ("view", "download", "api").index(kind)
    except ValueError:
        msg = f"unknown usage kind {kind!r}: one of view, download, api"
        raise ValueError(msg) from None


def _resolve(session: Session, refs: Iterable[DatasetRef]) -> dict[DatasetRef, int]:
    """Existing dataset ids for ids and slugs (former slugs through their redirects)."""
    refs = set(refs)
    numbers = sorted(r for r in refs if isinstance(r, int))
    slugs = sorted(r for r in refs if isinstance(r, str))
    found: dict[DatasetRef, int] = {}
    if numbers:
        found.update(
            {i: i for i in session.scalars(select(Dataset.id).where(Dataset.id.in_(numbers)))}
        )
    if slugs:
        query = select(Dataset.slug, Dataset.id).where(Dataset.slug.in_(slugs))
        found.update(dict(session.execute(query).all()))
        former = [s for s in slugs if s not in found]
        if former:
            redirects = select(SlugRedirect.old_slug, SlugRedirect.dataset_id).where(
                SlugRedirect.old_slug.in_(former)
            )
            found.update(dict(session.execute(redirects).all()))
    return found


def _upsert(session: Session, rows: list[dict[str, Any]]) -> Any:
    """``INSERT … ON CONFLICT (dataset_id, day) DO UPDATE`` adding to the stored counts."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(DatasetUsage).values(rows)
    table = DatasetUsage.__table__
    return statement.on_conflict_do_update(
        index_elements=["dataset_id", "day"],
        set_={
            name: table.c[name] + statement.excluded[name]
            for name in ("views", "downloads", "api_calls")
        },
    )


_BUFFERS: dict[str, UsageBuffer] = {}
_REGISTRY_LOCK = threading.Lock()


def _engine_of(bind: Any) -> Engine:
    return bind if isinstance(bind, Engine) else bind.engine


_BY_ENGINE: dict[int, tuple[Engine, UsageBuffer]] = {}  # fast path: no URL rendering


def buffer_for(bind: Engine | Session) -> UsageBuffer:
    """The buffer of the catalogue behind an engine or a session (one per catalogue URL)."""
    engine = _engine_of(bind.get_bind() if isinstance(bind, Session) else bind)
    known = _BY_ENGINE.get(id(engine))
    if known is not None and known[0] is engine:
        return known[1]
    key = engine.url.render_as_string(hide_password=False)
    with _REGISTRY_LOCK:
        found = _BUFFERS.setdefault(key, UsageBuffer(engine))
        _BY_ENGINE[id(engine)] = (engine, found)  # holds the engine: its id is not reused
    return found


def record_use(session: Session, dataset: DatasetRef, kind: Kind) -> None:
    """Count one use of a dataset — ``view`` (its page), ``download`` (an export, a zipped
    Data Package) or ``api`` (a records, CKAN or Data Package API call) — in memory; cheap
    enough for every request."""
    buffer_for(session).add(dataset, kind)


def flush(bind: Engine | Session) -> int:
    """Write the pending counts of one catalogue now; the number of rows written."""
    return buffer_for(bind).flush()


def flusher(engine: Engine) -> Callable[[], None]:
    """A job-runner tick hook writing the pending counts (failures are logged)."""

    def tick() -> None:
        try:
            flush(engine)
        except Exception:  # the catalogue may be briefly unavailable: next tick retries
            logger.exception("usage counters: flush failed")

    return tick


def flushing_lifespan(
    lifespan: Callable[[Any], contextlib.AbstractAsyncContextManager[None]], engine: Engine
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """Wrap an application lifespan so that the pending counts are written at shutdown."""

    @contextlib.asynccontextmanager
    async def wrapped(app: Any) -> AsyncIterator[None]:
        async with lifespan(app):
            try:
                yield
            finally:
                flusher(engine)()

    return wrapped


@dataclass(frozen=True, slots=True)
class Used:
    """A dataset and its uses over the window."""

    dataset: Dataset
    views: int
    downloads: int
    api_calls: int

    @property
    def total(self) -> int:
        """Every use counted."""
        return self.views + self.downloads + self.api_calls


def most_used(
    session: Session,
    actor: Actor,
    *,
    days: int = WINDOW_DAYS,
    limit: int = TOP,
    on: dt.date | None = None,
) -> list[Used]:
    """The datasets the actor may read most used over the last ``days`` days (flushed
    counts), most used first."""
    since = (on or today()) - dt.timedelta(days=days - 1)
    views = func.sum(DatasetUsage.views)
    downloads = func.sum(DatasetUsage.downloads)
    calls = func.sum(DatasetUsage.api_calls)
    totals = (
        select(
            DatasetUsage.dataset_id.label("dataset_id"),
            views.label("views"),
            downloads.label("downloads"),
            calls.label("api_calls"),
            (views + downloads + calls).label("total"),
        )
        .where(DatasetUsage.day >= since)
        .group_by(DatasetUsage.dataset_id)
        .subquery()
    )
    query = (
        select(Dataset, totals.c.views, totals.c.downloads, totals.c.api_calls)
        .join(totals, totals.c.dataset_id == Dataset.id)
        .where(readable_datasets(actor), totals.c.total > 0)
        .order_by(totals.c.total.desc(), Dataset.title, Dataset.id)
        .limit(limit)
        .options(selectinload(Dataset.publisher))
    )
    return [
        Used(dataset, int(v or 0), int(d or 0), int(a or 0))
        for dataset, v, d, a in session.execute(query)
    ]


__all__ = [
    "COLUMNS",
    "FLUSH_EVERY_S",
    "DatasetRef",
    "Kind",
    "UsageBuffer",
    "Used",
    "buffer_for",
    "flush",
    "flusher",
    "flushing_lifespan",
    "most_used",
    "record_use",
]
