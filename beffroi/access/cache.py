"""The access decisions' cache: one cheap query per request instead of four.

Deciding what an actor may read of a dataset (:func:`beffroi.access.reading.readable_table`)
reads the dataset and its version, the licence acceptances, the sharing agreements and the
personal columns. Those decisions are remembered in this process, keyed by

* the catalogue (its URL) and its **access epoch** — the one row of ``access_epoch``, which
  database triggers (migration 0012, SQLite and PostgreSQL) bump in the same transaction as
  any write to a table a decision reads (:data:`EPOCH_TABLES`): the next request of every
  worker and process reads a new epoch, so it decides afresh. On PostgreSQL the bump runs
  at commit (a deferred trigger, so that the epoch row is locked only while a transaction
  commits); until then the writing transaction is flagged and decides without the cache;
* everything of the actor a decision depends on (:func:`actor_key`: user, platform admin,
  roles by organisation, territory membership, token scope and dataset limit) — the actor
  itself is resolved anew at each request, so a revoked token or a lost role never reaches
  a cached decision;
* the question (slug, version).

Time: sharing agreements open and close at their dates with no write at all, so a
decision also carries the time window in which it holds (:class:`Entry`), bounded by the
nearest start or end date of the agreements of the dataset.

The epoch is read *before* the decision's own queries, and those run in a session of their
own (no object loaded earlier by the request): a decision stored under an epoch is never
older than that epoch (it may be newer, which is harmless). Its ``salt`` changes at
each bump: a transaction that wrote (bumping the epoch), decided and rolled back leaves a
pair no later commit reproduces.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from beffroi.access import clock
from beffroi.access.actors import Actor

CACHED_DECISIONS = 4096
"""Decisions kept per process (least recently used first out)."""

EPOCH_TABLES: dict[str, tuple[str, ...] | None] = {
    "dataset": None,
    "dataset_version": None,
    "sharing_agreement": None,
    "agreement_grantee": None,
    "agreement_dataset": None,
    "licence_acceptance": None,
    "column_flag": None,
    "dataset_privacy": None,
    "organization": None,
    "membership": None,
    "user_account": ("is_active", "is_platform_admin"),
    "api_token": ("user_id", "expires_at", "revoked_at"),
    "api_token_scope": None,
}
"""Tables whose writes bump the epoch (and, when given, the only columns whose update does:
signing in and using a token must not empty every cache)."""

Epoch = tuple[int, int]

_EPOCH_SQL = "SELECT value, salt, NULL FROM access_epoch WHERE id = 1"
# PostgreSQL bumps the epoch at commit (deferred trigger: no lock held meanwhile); until
# then, a transaction that wrote access data is flagged, and decides without the cache.
_EPOCH_SQL_PG = (
    "SELECT value, salt, current_setting('beffroi.access_epoch_dirty', true) "
    "FROM access_epoch WHERE id = 1"
)
UNCACHED: Epoch = (-1, -1)
"""The epoch of a session whose decisions must not be cached (nor read from the cache)."""

V = TypeVar("V")


def read_epoch(session: Session) -> Epoch:
    """The catalogue's access epoch (value, salt), one primary-key read."""
    if session.new or session.dirty or session.deleted:
        # Pending writes first (their triggers bump the epoch), as a query's autoflush
        # would: a decision must never read newer rows than the epoch it is stored under
        # when those rows may still be rolled back.
        session.flush()
    # The driver's SQL straight on the session's connection (same transaction): the ORM's
    # statement machinery costs more than the query on this path, run at every request.
    connection = session.connection()
    sql = _EPOCH_SQL_PG if connection.dialect.name == "postgresql" else _EPOCH_SQL
    row = connection.exec_driver_sql(sql).first()
    if row is None or row[2] == "1":
        # No row (the migration writes it): nothing cached. Written access data in this
        # transaction, bump pending until its commit: decide afresh, store nothing.
        return UNCACHED
    return (int(row[0]), int(row[1]))


def actor_key(actor: Actor) -> tuple[object, ...]:
    """What of the actor an access decision depends on."""
    return (
        actor.kind.value,
        actor.user_id,
        actor.is_platform_admin,
        tuple(sorted((org, role.value) for org, role in actor.roles.items())),
        actor.is_territory_member,
        actor.token_scope,
        None if actor.token_datasets is None else tuple(sorted(actor.token_datasets)),
    )


def catalogue_key(session: Session) -> str:
    """Which catalogue the session reads (two instances in one process number alike)."""
    return _url_text(session.get_bind().engine.url)


@functools.lru_cache(maxsize=64)
def _url_text(url: URL) -> str:
    return url.render_as_string(hide_password=True)


_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
_MAX = dt.datetime.max.replace(tzinfo=dt.UTC)


def isolated(session: Session, compute: Callable[[Session], V]) -> V:
    """``compute`` given a session of its own on ``session``'s connection: the same
    transaction, a fresh identity map. Objects ``session`` loaded before the epoch was read
    may be older than it; a decision built from them would be stored under an epoch it does
    not match, and served until the next bump."""
    with Session(bind=session.connection(), autoflush=False) as fresh:
        return compute(fresh)


@dataclass(frozen=True, slots=True)
class Entry(Generic[V]):
    """A remembered decision and the time window (``[since, until)``) in which it holds."""

    value: V
    since: dt.datetime = _MIN
    until: dt.datetime = _MAX

    def holds_at(self, moment: dt.datetime) -> bool:
        """Whether the decision still holds at ``moment`` (agreements' dates)."""
        return self.since <= moment < self.until


def window(moment: dt.datetime, boundaries: list[dt.datetime]) -> tuple[dt.datetime, dt.datetime]:
    """The window around ``moment`` that no boundary crosses: ``[last <= moment, next >)``."""
    since = max((b for b in boundaries if b <= moment), default=_MIN)
    until = min((b for b in boundaries if b > moment), default=_MAX)
    return since, until


class DecisionCache(Generic[V]):
    """A thread-safe LRU of decisions keyed by (catalogue, epoch, actor, question)."""

    def __init__(self, size: int = CACHED_DECISIONS) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[object, ...], Entry[V]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(
        self,
        session: Session,
        actor: Actor,
        question: tuple[object, ...],
        compute: Callable[[], Entry[V]],
    ) -> V:
        """The decision for ``question``, from the cache when the epoch has not moved.

        ``compute`` runs after the epoch is read; it must not use objects loaded before
        (see :func:`isolated`).
        """
        epoch = read_epoch(session)  # first: see the module docstring
        key = (catalogue_key(session), epoch, actor_key(actor), question)
        now = clock.now()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found.holds_at(now):
                self._entries.move_to_end(key)
                self.hits += 1
                return found.value
            self.misses += 1
        entry = compute()
        if epoch[0] >= 0:
            with self._lock:
                self._entries[key] = entry
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return entry.value

    def clear(self) -> None:
        """Forget every decision (tests)."""
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


__all__ = [
    "CACHED_DECISIONS",
    "EPOCH_TABLES",
    "DecisionCache",
    "Entry",
    "actor_key",
    "catalogue_key",
    "isolated",
    "read_epoch",
    "window",
]
