"""Queueing view recomputations when a source publishes (light: no DuckDB here).

:func:`beffroi.catalog.versions.publish_version` calls :func:`queue_dependents`: every view
reading the dataset — and every view downstream of those — is marked stale and gets one
queued ``view.refresh`` job (never two waiting for the same view). Once the transaction
commits, the process's worker for that catalogue is woken (:func:`wake`); the worker runs
the queued jobs deepest-last (:func:`beffroi.crossings.services.refresh_pending`), so a view
over a view is recomputed after the view it reads.

A process without a registered worker (a script, the command line) leaves the jobs queued:
``beffroi view refresh --pending`` or the next web server start runs them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from beffroi.catalog.models import CrossingSource, CrossingView, Dataset, Job, utcnow

log = logging.getLogger(__name__)

JOB_KIND: Final = "view.refresh"
AUTOMATIC: Final = "system:recalcul-vues"
_WAKERS: dict[str, Callable[[], None]] = {}
_LOCK = threading.Lock()


def catalogue_key(session: Session) -> str:
    """Which catalogue a session writes to (workers are registered per catalogue)."""
    bind = session.get_bind()
    return bind.engine.url.render_as_string(hide_password=False)


def register(key: str, waker: Callable[[], None]) -> None:
    """Make ``waker`` run the queued jobs of catalogue ``key`` after each commit."""
    with _LOCK:
        _WAKERS[key] = waker


def unregister(key: str) -> None:
    """Forget the worker of a catalogue."""
    with _LOCK:
        _WAKERS.pop(key, None)


def wake(key: str) -> None:
    """Wake the worker of a catalogue, if this process has one."""
    with _LOCK:
        waker = _WAKERS.get(key)
    if waker is not None:
        waker()


def downstream(session: Session, dataset_id: int) -> list[CrossingView]:
    """Every view reading ``dataset_id``, directly or through other views (each once)."""
    found: dict[int, CrossingView] = {}
    todo = [dataset_id]
    while todo:
        current = todo.pop()
        query = (
            select(CrossingView)
            .join(CrossingSource, CrossingSource.view_id == CrossingView.id)
            .where(CrossingSource.dataset_id == current)
        )
        for view in session.scalars(query):
            if view.id not in found:
                found[view.id] = view
                todo.append(view.dataset_id)
    return list(found.values())


def queue(
    session: Session,
    view: CrossingView,
    *,
    trigger: str,
    created_by: str = AUTOMATIC,
    user_id: int | None = None,
) -> Job:
    """One queued recomputation of ``view`` (the one already waiting, if any)."""
    import uuid  # noqa: PLC0415

    waiting = session.scalar(
        select(Job).where(
            Job.kind == JOB_KIND, Job.status == "queued", Job.dataset_id == view.dataset_id
        )
    )
    if waiting is not None:
        return waiting
    job = Job(
        id=str(uuid.uuid4()),
        kind=JOB_KIND,
        dataset_id=view.dataset_id,
        status="queued",
        created_by=created_by,
        actor_user_id=user_id,
        params={"view": view.dataset.slug, "trigger": trigger[:200]},
    )
    session.add(job)
    session.flush()
    _wake_after_commit(session)
    return job


def queue_dependents(session: Session, dataset: Dataset) -> int:
    """Mark the views downstream of a freshly published dataset stale and queue them."""
    views = downstream(session, dataset.id)
    for view in views:
        if view.stale_since is None:
            view.stale_since = utcnow()
        queue(session, view, trigger=f"publication de {dataset.slug}")
    return len(views)


def _wake_after_commit(session: Session) -> None:
    key = catalogue_key(session)
    if session.info.get("beffroi_views_wake"):
        return
    session.info["beffroi_views_wake"] = True

    def after_commit(committed: Session) -> None:
        committed.info.pop("beffroi_views_wake", None)
        try:
            wake(key)
        except Exception:  # the commit is done: a worker hiccup must not fail the request
            log.exception("could not wake the view worker")

    def after_rollback(rolled: Session) -> None:
        rolled.info.pop("beffroi_views_wake", None)

    event.listen(session, "after_commit", after_commit, once=True)
    event.listen(session, "after_soft_rollback", after_rollback, once=True)
