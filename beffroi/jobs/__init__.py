"""Background jobs: uploads are ingested off the request, with progress and outcome in the
catalogue (table ``job``). Embedded mode runs them in a small thread pool of the web
process; jobs interrupted by a restart are marked failed at the next start (their partial
store writes are never visible: see ``beffroi.ingest.pipeline``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from beffroi.catalog.models import Job, utcnow
from beffroi.errors import BeffroiError, NotFoundError
from beffroi.settings import Settings

logger = logging.getLogger("beffroi.jobs")

PROGRESS_EVERY_S = 0.5


def job_view(job: Job) -> dict[str, Any]:
    """The public view of a job."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "result": job.result or None,
        "error": job.error or None,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def get_job(session: Session, actor: Actor, job_id: str) -> Job:
    """A job, for the actor who started it (or a platform administrator)."""
    job = session.get(Job, job_id)
    owner = job is not None and job.actor_user_id is not None
    if job is None or not (
        actor.is_platform_admin or (owner and job.actor_user_id == actor.user_id)
    ):
        raise NotFoundError(
            f"Tâche introuvable : {job_id}",
            hint="vérifiez l'identifiant",
            message_en=f"Job not found: {job_id}",
            hint_en="check the identifier",
        )
    return job


def runner_id(pid: int | None = None) -> str | None:
    """Who runs a job: ``host:pid:start`` (the start time tells a reused pid apart).

    ``None`` when the process cannot be identified (no ``/proc``): its jobs are then
    treated as other hosts' are, left alone.
    """
    pid = os.getpid() if pid is None else pid
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # Field 22 is the start time; the command name (field 2) may hold spaces: split after it.
    start = stat.rsplit(")", 1)[-1].split()[19]
    return f"{socket.gethostname()}:{pid}:{start}"


def _runner_alive(runner: str) -> bool:
    host, _, rest = runner.partition(":")
    if host != socket.gethostname():
        return True  # another machine's worker: not ours to judge
    pid = rest.partition(":")[0]
    return pid.isdigit() and runner_id(int(pid)) == runner


def recover_interrupted(factory: sessionmaker[Session], uploads_dir: Path) -> int:
    """Mark jobs whose process died (a crash, a restart) as failed; drop their upload files.

    Jobs of live processes — the other workers of ``beffroi serve --workers N``, which
    start at the same time — are left running.
    """
    with transaction(factory) as session:
        pending = session.scalars(select(Job).where(Job.status.in_(["queued", "running"])))
        stale = [
            job
            for job in pending
            if not (isinstance(runner := job.params.get("runner"), str) and _runner_alive(runner))
        ]
        for job in stale:
            job.status = "failed"
            job.finished_at = utcnow()
            job.error = {
                "code": "interrupted",
                "detail": "Tâche interrompue par un redémarrage du serveur",
                **_restart_hint(job.kind),
                "message_en": "Job interrupted by a server restart",
            }
            shutil.rmtree(uploads_dir / job.id, ignore_errors=True)
    return len(stale)


def _restart_hint(kind: str) -> dict[str, str]:
    """What to do about a job a restart interrupted: an upload is sent again, a harvest run."""
    if kind == "harvest":
        return {
            "hint": "relancez la moisson (beffroi harvest run, ou POST …/run)",
            "hint_en": "run the harvest again (beffroi harvest run, or POST …/run)",
        }
    return {"hint": "renvoyez le fichier", "hint_en": "send the file again"}


def _log_crash(future: Future[None]) -> None:
    """A job thread must never die silently (e.g. the final status write failed)."""
    error = future.exception()
    if error is not None:
        logger.error("job thread crashed", exc_info=error)


class JobRunner:
    """Runs ingestion jobs in a thread pool and records their progress."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], workers: int = 1):
        self.settings = settings
        self.factory = factory
        self.uploads_dir = settings.data_dir / "uploads"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="beffroi-job")
        # Other tasks (harvest runs) in a pool of their own: they never hold uploads back.
        self._tasks = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="beffroi-task")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._harvester: threading.Thread | None = None
        self._ticks: list[Callable[[], None]] = []

    def on_tick(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` at each scheduler tick too (e.g. to pick up view jobs that
        another process — a CLI publication — queued)."""
        self._ticks.append(callback)

    def start_scheduler(self) -> None:
        """Start the thread recomputing stale indicators every ``indicators_refresh_s``, and
        the one running due harvest sources every ``harvest_tick_s``."""
        harvest_every = self.settings.harvest_tick_s
        if harvest_every > 0 and self._harvester is None:
            self._harvester = threading.Thread(
                target=self._harvest, args=(harvest_every,), name="beffroi-harvest", daemon=True
            )
            self._harvester.start()
        interval = self.settings.indicators_refresh_s
        if interval <= 0 or self._scheduler is not None:
            return
        self._scheduler = threading.Thread(
            target=self._schedule, args=(interval,), name="beffroi-scheduler", daemon=True
        )
        self._scheduler.start()

    def stop_scheduler(self) -> None:
        """Stop the scheduler thread (a tick under way finishes first)."""
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join()
            self._scheduler = None
        if self._harvester is not None:
            self._harvester.join()
            self._harvester = None
        self._stop.clear()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        """The web application's lifespan: the scheduler runs while the server does."""
        self.start_scheduler()
        try:
            yield
        finally:
            await asyncio.to_thread(self.stop_scheduler)

    def _schedule(self, interval: float) -> None:
        from beffroi.indicators.schedule import tick  # noqa: PLC0415 - on demand

        notified: set[tuple[int, str, str]] = set()
        while not self._stop.wait(interval):
            try:
                tick(self.factory, self.settings, notified)
            except Exception:  # a failed tick (catalogue down…) must not end the scheduler
                logger.exception("scheduled indicator recomputation failed")
            for callback in self._ticks:
                try:
                    callback()
                except Exception:  # same: one failing hook must not end the scheduler
                    logger.exception("scheduled hook failed")

    def _harvest(self, interval: float) -> None:
        from beffroi.harvest.service import tick  # noqa: PLC0415 - on demand

        while not self._stop.wait(interval):
            try:
                tick(self.factory, self.settings, stop=self._stop.is_set)
            except Exception:  # a failed tick (catalogue down…) must not end the scheduler
                logger.exception("scheduled harvest failed")

    def new_upload_dir(self) -> tuple[str, Path]:
        """A fresh job id and the private directory its uploaded file goes to."""
        job_id = str(uuid.uuid4())
        directory = self.uploads_dir / job_id
        directory.mkdir(parents=True, mode=0o700)
        return job_id, directory

    def submit_ingest(
        self,
        actor: Actor,
        slug: str,
        dataset_id: int,
        job_id: str,
        path: Path,
        params: dict[str, Any],
        *,
        source_name: str | None = None,
    ) -> Job:
        """Queue the ingestion of an uploaded file (``source_name``: its name as uploaded)."""
        name = source_name or path.name
        with transaction(self.factory) as session:
            job = Job(
                id=job_id,
                kind="ingest",
                dataset_id=dataset_id,
                status="queued",
                created_by=actor.label,
                actor_user_id=actor.user_id,
                params={"dataset": slug, "file": name, **params, "runner": runner_id()},
            )
            session.add(job)
        future = self._pool.submit(self._run_ingest, actor, slug, job_id, path, params, name)
        future.add_done_callback(_log_crash)
        return job

    def _update(self, job_id: str, **fields: Any) -> None:
        with transaction(self.factory) as session:
            job = session.get(Job, job_id)
            if job is not None:
                for key, value in fields.items():
                    setattr(job, key, value)

    def _run_ingest(
        self,
        actor: Actor,
        slug: str,
        job_id: str,
        path: Path,
        params: dict[str, Any],
        source_name: str,
    ) -> None:
        from beffroi.ingest.model import ReadOptions  # noqa: PLC0415 - heavy, on demand
        from beffroi.ingest.pipeline import ingest_file  # noqa: PLC0415
        from beffroi.store import store_for  # noqa: PLC0415

        self._update(job_id, status="running", started_at=utcnow())
        last = [0.0]

        def on_progress(done: int, total: int, rows: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                try:  # progress is best effort: a busy catalogue must not fail the ingest
                    self._update(
                        job_id, progress={"bytes": done, "bytes_total": total, "rows": rows}
                    )
                except Exception:  # noqa: BLE001
                    logger.warning("could not record the progress of job %s", job_id)

        try:
            if params.get("url"):
                path, source_name = self._download(job_id, path.parent, params["url"])
            options = ReadOptions(
                encoding=params.get("encoding"),
                delimiter=params.get("delimiter"),
                sheet=params.get("sheet"),
                format=params.get("format"),
                widths=tuple(params["widths"]) if params.get("widths") else None,
            )
            summary = ingest_file(
                self.factory,
                store_for(self.settings),
                actor,
                slug,
                path,
                options=options,
                mode=params.get("mode", "replace"),
                primary_key=params.get("key"),
                declared=params.get("declared") or None,  # types corrected in the wizard
                publish=bool(params.get("publish")),
                source_name=source_name,
                upload_id=job_id,
                on_progress=on_progress,
            )
            self._update(
                job_id,
                status="succeeded",
                finished_at=utcnow(),
                result=summary.as_dict(),
                progress={"rows": summary.rows, "bytes": path.stat().st_size},
            )
        except BeffroiError as exc:
            self._update(
                job_id,
                status="failed",
                finished_at=utcnow(),
                error=exc.record(),
            )
        except Exception:
            logger.exception("ingest job %s failed", job_id)
            self._update(
                job_id,
                status="failed",
                finished_at=utcnow(),
                error={
                    "code": "internal-error",
                    "detail": "Erreur inattendue pendant le chargement ; elle a été consignée",
                    "hint": "réessayez ; si elle persiste, signalez-la avec l'identifiant de tâche",
                    "message_en": "Unexpected error while loading; it has been logged",
                    "hint_en": "try again; if it persists, report it with the job id",
                },
            )
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)

    def _download(self, job_id: str, directory: Path, url: str) -> tuple[Path, str]:
        """Fetch the job's URL into its directory (progress recorded like an ingestion's)."""
        from beffroi.ingest.fetch import fetch  # noqa: PLC0415 - on demand

        last = [0.0]

        def on_fetch(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                try:  # best effort, as for the ingestion's progress
                    self._update(job_id, progress={"downloaded": done, "download_total": total})
                except Exception:  # noqa: BLE001
                    logger.warning("could not record the progress of job %s", job_id)

        fetched = fetch(
            url,
            directory,
            max_bytes=self.settings.upload_max_mb * 1024 * 1024,
            timeout=self.settings.fetch_timeout_s,
            allow_private=self.settings.fetch_allow_private_networks,
            on_progress=on_fetch,
        )
        return fetched.path, fetched.name

    def shutdown(self) -> None:
        """Stop the scheduler and wait for running jobs (used by tests and on server shutdown)."""
        self.stop_scheduler()
        self._pool.shutdown(wait=True)
        self._tasks.shutdown(wait=True)

    def submit_task(
        self,
        kind: str,
        actor: Actor,
        params: dict[str, Any],
        task: Callable[[], TaskOutcome],
    ) -> Job:
        """Run ``task`` in the background as a job of ``kind`` (running at once: the caller
        did the checks); its outcome — status (``succeeded``/``failed``), result, error —
        is recorded when it ends. A :class:`BeffroiError` it raises fails the job with it."""
        with transaction(self.factory) as session:
            job = Job(
                id=str(uuid.uuid4()),
                kind=kind,
                status="running",
                created_by=actor.label,
                actor_user_id=actor.user_id,
                params={**params, "runner": runner_id()},
                started_at=utcnow(),
            )
            session.add(job)
        future = self._tasks.submit(self._run_task, job.id, task)
        future.add_done_callback(_log_crash)
        return job

    def _run_task(self, job_id: str, task: Callable[[], TaskOutcome]) -> None:
        try:
            status, result, error = task()
        except BeffroiError as exc:
            status, result = "failed", {}
            error = exc.record()
        except Exception:
            logger.exception("job %s failed", job_id)
            status, result = "failed", {}
            error = {
                "code": "internal-error",
                "detail": "Erreur inattendue pendant la tâche ; elle a été consignée",
                "hint": "réessayez ; si elle persiste, signalez-la avec l'identifiant de tâche",
                "message_en": "Unexpected error during the job; it has been logged",
                "hint_en": "try again; if it persists, report it with the job id",
            }
        self._update(job_id, status=status, finished_at=utcnow(), result=result, error=error or {})


#: What a background task returns: its status, its result, its error (empty when none).
TaskOutcome = tuple[str, dict[str, Any], dict[str, Any]]
