"""The catalogue side of an ingestion: in this process, or in a process of its own.

An ingestion asks the catalogue twice: first whether the actor may update the dataset
(:meth:`Catalogue.ready`), last to record the version the store committed
(:meth:`Catalogue.record`). :class:`LocalCatalogue` does both here.

On the command line, ``beffroi ingest`` would spend its first second or more importing and
querying the catalogue (SQLAlchemy and its models, the access layer, the settings): Python
work that holds the GIL the reading, typing and profiling threads need between two Arrow
calls. So on Linux the command forks, before any thread exists, a *catalogue process* that
does that work on the other core while the command reads the file::

    command (reads, types, profiles, writes)       catalogue process
    ─────────────────────────────────────────       ──────────────────────────────────────
    fork ─────────────────────────────────────────► may the actor update the dataset?
    reads ahead (threads)                            (and the conformance check, if bound)
                                                   ◄── ready: store key, last recorded version
    writes the Delta commit
    stored: version, rows, profile, dialect ──────► records the version, publishes it
                                                   ◄── done: version number, published

The order of :func:`beffroi.ingest.pipeline.ingest_file` is kept: nothing is written before
the access check, the catalogue row only after the store commit, errors in the same order
(an access refusal before a read error). The catalogue process dies with the command
(``PR_SET_PDEATHSIG``), so a ``kill -9`` leaves the states it left in one process: at worst a
store commit that no version records, which the next writer removes.

Where forking is not safe (another thread already runs: a test runner, a server) or not
available (not Linux), :func:`fork_catalogue` returns ``None`` and the caller uses
:class:`LocalCatalogue`. This module imports neither pyarrow nor SQLAlchemy: the child
imports only the catalogue.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from beffroi.errors import BeffroiError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from beffroi.access import Actor
    from beffroi.ingest.model import ReadOptions
    from beffroi.store.interfaces import WriteMode

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True, slots=True)
class Target:
    """Where an ingestion may write, once the catalogue said the actor may update the dataset."""

    store_key: str
    recorded: int | None  # the store version of the dataset's last recorded version


@dataclass(frozen=True, slots=True)
class Written:
    """What the store commit produced, for the catalogue to record (plain data: it crosses
    the process boundary of :class:`CatalogueProcess`)."""

    upload_id: str
    store_version: int
    rows: int
    columns: list[dict[str, Any]]
    profiles: list[dict[str, Any]]
    dialect: dict[str, Any]
    source_name: str
    source_bytes: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """The catalogue version recorded for a :class:`Written` commit."""

    number: int
    published: bool
    conformance: dict[str, Any] | None  # validation summary (beffroi.validate)


class Catalogue(Protocol):
    """The catalogue side of one ingestion: the access check first, the version record last.

    :class:`LocalCatalogue` runs both in this process; :class:`CatalogueProcess` in a process
    of its own, beside the reading.
    """

    def ready(self) -> Target:
        """The target, once the actor may update the dataset (raises the refusal)."""
        ...

    def record(self, written: Written) -> Recorded:
        """Record (and publish, when asked) the committed version."""
        ...


class LocalCatalogue:
    """The catalogue side of an ingestion, in this process (see :class:`Catalogue`)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        actor: Actor,
        slug: str,
        path: Path,
        *,
        options: ReadOptions,
        mode: WriteMode,
        publish: bool,
        conformance_schema: str | Path | None = None,
    ) -> None:
        self._factory, self._actor, self._slug, self._path = factory, actor, slug, path
        self._options, self._mode, self._publish = options, mode, publish
        self._conformance_schema = conformance_schema
        self._dataset_id: Any = None
        self._checked: Any = None  # the conformance check, recorded with the version

    def ready(self) -> Target:
        # The catalogue (SQLAlchemy, the access layer) is imported here, not at start-up: a
        # read-ahead started by the caller reads the file meanwhile.
        from sqlalchemy import func, select  # noqa: PLC0415

        from beffroi.access import Action, require  # noqa: PLC0415
        from beffroi.catalog.db import transaction  # noqa: PLC0415
        from beffroi.catalog.models import DatasetConformance, DatasetVersion  # noqa: PLC0415
        from beffroi.catalog.services import get_dataset  # noqa: PLC0415

        with transaction(self._factory) as session:
            dataset = get_dataset(session, self._actor, self._slug)
            require(self._actor, Action.DATASET_UPDATE, dataset.publisher_id)
            store_key, self._dataset_id = dataset.store_key, dataset.id
            recorded = session.scalar(
                select(func.max(DatasetVersion.store_version)).where(
                    DatasetVersion.dataset_id == dataset.id
                )
            )
            # Validation (and its DuckDB engine) is loaded only when a schema applies.
            bound = self._conformance_schema is not None or (
                session.get(DatasetConformance, dataset.id) is not None
            )
        if bound:
            from beffroi.validate.conformance import check_upload  # noqa: PLC0415

            self._checked = check_upload(
                self._factory,
                self._actor,
                self._slug,
                self._path,
                self._options,
                self._conformance_schema,
            )
        return Target(store_key=store_key, recorded=recorded)

    def record(self, written: Written) -> Recorded:
        from beffroi.catalog.db import transaction  # noqa: PLC0415
        from beffroi.catalog.services import get_dataset  # noqa: PLC0415
        from beffroi.catalog.versions import publish_version, record_version  # noqa: PLC0415

        with transaction(self._factory) as session:
            dataset = get_dataset(session, self._actor, self._slug)
            if dataset.id != self._dataset_id:  # renamed and slug reused meanwhile: cannot happen
                msg = "dataset changed during ingestion"
                raise RuntimeError(msg)
            version = record_version(
                session,
                self._actor,
                dataset,
                upload_id=written.upload_id,
                store_version=written.store_version,
                mode=self._mode,
                row_count=written.rows,
                columns=written.columns,
                profile=written.profiles,
                dialect=written.dialect,
                source_name=written.source_name,
                source_bytes=written.source_bytes,
            )
            if self._checked is not None:
                from beffroi.validate.conformance import record_conformance  # noqa: PLC0415

                record_conformance(session, version, self._checked)
            if self._publish:
                publish_version(session, self._actor, dataset.slug, version.number)
            # A publisher that requires review turns the publication into a pending request.
            published = dataset.published_version_id == version.id
            number = version.number
        summary = self._checked[1].summary() if self._checked is not None else None
        return Recorded(number=number, published=published, conformance=summary)


def can_fork() -> bool:
    """True when this process may fork safely: Linux, and one thread only (native ones too:
    pyarrow's allocator and NumPy's BLAS start threads when imported)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir()) == 1
    except OSError:
        return False


def fork_catalogue(open_local: Callable[[], Catalogue]) -> CatalogueProcess | None:
    """Start the catalogue side of an ingestion in a child process (``None``: not here).

    ``open_local`` runs in the child only: it imports and opens the catalogue and gives the
    :class:`LocalCatalogue` the child drives.
    """
    if not can_fork():
        return None
    ours, theirs = Pipe(duplex=True)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        ours.close()
        _child(theirs, parent, open_local)
    theirs.close()
    return CatalogueProcess(pid, ours)


class CatalogueProcess:
    """The command's end of the catalogue process (a :class:`Catalogue`): each call waits
    for the child's answer and raises its error."""

    def __init__(self, pid: int, connection: Connection) -> None:
        self.pid = pid
        self._connection = connection
        self._recording = False  # the child was asked to record: let it finish

    def ready(self) -> Target:
        target: Target = self._receive()
        return target

    def record(self, written: Written) -> Recorded:
        self._recording = True
        self._connection.send(written)
        recorded: Recorded = self._receive()
        return recorded

    def close(self) -> None:
        """Reap the child; stop it first when it was not asked to record (until then it only
        reads the catalogue, and the conformance check: nothing of it to keep)."""
        with contextlib.suppress(OSError):
            self._connection.close()
        if not self._recording:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def _receive(self) -> Any:
        try:
            kind, value = self._connection.recv()
        except (EOFError, OSError):
            raise BeffroiError(
                "Le processus du catalogue s'est arrêté avant de répondre",
                hint="relancez la commande ; si cela se reproduit, relancez avec --debug",
                message_en="The catalogue process stopped before answering",
                hint_en="run the command again; if it happens again, run it with --debug",
            ) from None
        if kind == "error":
            raise value
        return value


def _child(
    connection: Connection, parent: int, open_local: Callable[[], Catalogue]
) -> NoReturn:  # pragma: no cover - runs in the forked child
    status = 0
    try:
        _die_with(parent)
        try:
            catalogue = open_local()
            connection.send(("ok", catalogue.ready()))
        except BaseException as error:  # noqa: BLE001 - every refusal goes to the command
            _send_error(connection, error)
            _exit(1)
        try:
            written = connection.recv()
        except (EOFError, OSError):
            _exit(0)  # the command stopped before its commit: nothing to record
        try:
            connection.send(("ok", catalogue.record(written)))
        except BaseException as error:  # noqa: BLE001
            _send_error(connection, error)
            status = 1
    except BaseException:  # noqa: BLE001 - never run the command's code in the child
        status = 1
    _exit(status)


def _exit(status: int) -> NoReturn:  # pragma: no cover - forked child
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(status)


def _die_with(parent: int) -> None:  # pragma: no cover - forked child
    """Have the kernel kill this process when the command dies (even by ``kill -9``)."""
    import ctypes  # noqa: PLC0415

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the command died before prctl: do nothing
        os._exit(1)


def _send_error(connection: Connection, error: BaseException) -> None:  # pragma: no cover
    """Hand the command an error it can raise: the error itself when it survives pickling,
    with the child's traceback as a note (shown by ``--debug``)."""
    detail = "".join(traceback.format_exception(error))
    with contextlib.suppress(Exception):
        error.add_note(f"(processus du catalogue / catalogue process)\n{detail}")
    portable: BaseException
    try:
        portable = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    except Exception:  # noqa: BLE001 - an error that does not pickle: keep its text
        portable = RuntimeError(f"{type(error).__name__}: {error}")
    with contextlib.suppress(Exception):
        connection.send(("error", portable))
