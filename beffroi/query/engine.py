"""Sandboxed DuckDB databases over the dataset versions an actor may read.

A :class:`QueryDatabase` is an in-memory DuckDB database holding, for a set of
:class:`~beffroi.access.reading.ReadableTable` (decided by the access layer, never here):

* one view per dataset, named by its slug (``main."<slug>"``), over that version's own
  Parquet files (``read_parquet([...])`` of the Delta log's file list for the version), with
  the table's row filter and column subset applied and the store's hidden row-number column
  removed;
* a twin view ``_rows."<slug>"`` that keeps the row number, for stable keyset pagination by
  the records API (user SQL cannot name the ``_rows`` schema: see :mod:`beffroi.query.guard`);
* the ``ref`` schema (:mod:`beffroi.query.reference`).

Then the database is locked: ``allowed_paths`` is set to exactly those Parquet files,
``enable_external_access=false`` (no other file, no URL, no extension loading, no ATTACH),
``lock_configuration=true`` (no ``SET``), with the memory and thread limits of the settings.
Python replacement scans are off (a query cannot read a Python variable by name). Each query
runs on its own cursor and is interrupted by a timer after the time limit.

Databases are cached by what they contain (tables, versions, filters, columns): versions
are immutable, so a database stays valid until the access layer answers differently (a new
publication, other rights), which changes the key. Actors with the same rights share one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from beffroi.access.reading import ReadableTable
from beffroi.errors import BeffroiError, InvalidInputError, NotFoundError, UserError
from beffroi.query import reference
from beffroi.query.guard import CheckedQuery, check_sql
from beffroi.settings import Settings
from beffroi.store import duck

log = logging.getLogger(__name__)

ROW_COLUMN: Final = "__beffroi_row"  # the local store's hidden ordinal (beffroi.store.local)
ROWS_SCHEMA: Final = "_rows"
CACHED_DATABASES: Final = 16
CACHED_FILE_LISTS: Final = 4096
CACHED_COUNTS: Final = 1024
MEMO_MAX_ROWS: Final = 1001
CACHED_ANSWERS: Final = 256
T = TypeVar("T")
MEMORY_CATALOG: Final = "mem"


def quote(name: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a view: name and DuckDB type."""

    name: str
    type: str


@dataclass(slots=True)
class View:
    """A dataset view of a database."""

    table: ReadableTable
    columns: list[Column]
    files: tuple[str, ...]
    rows: int = 0  # stored rows of the version (before any row filter)
    in_memory: bool = False  # loaded into memory in row order (else read from Parquet)

    @property
    def names(self) -> list[str]:
        """Column names, in order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column | None:
        """The column called ``name`` (exact match), if any."""
        for column in self.columns:
            if column.name == name:
                return column
        return None


@dataclass(slots=True)
class QueryDatabase:
    """A locked in-memory database and what it shows."""

    con: duckdb.DuckDBPyConnection
    views: dict[str, View]
    timeout: float
    sql_tables: set[tuple[str, str]] = field(default_factory=set)
    _counts: OrderedDict[tuple[object, ...], int] = field(default_factory=OrderedDict)
    _counts_lock: threading.Lock = field(default_factory=threading.Lock)
    _memo: OrderedDict[tuple[object, ...], pa.Table] = field(default_factory=OrderedDict)
    _answers: OrderedDict[tuple[object, ...], object] = field(default_factory=OrderedDict)
    _kept: dict[tuple[object, ...], object] = field(default_factory=dict)

    def memo(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """A small result (aggregates: groups, facets), computed once per database: the
        versions it reads never change. Results over :data:`MEMO_MAX_ROWS` rows are not
        kept."""
        key = (sql, *(str(p) for p in params))
        with self._counts_lock:
            found = self._memo.get(key)
            if found is not None:
                self._memo.move_to_end(key)
                return found
        table = self.arrow(sql, params)
        if table.num_rows <= MEMO_MAX_ROWS:
            with self._counts_lock:
                self._memo[key] = table
                while len(self._memo) > CACHED_COUNTS:
                    self._memo.popitem(last=False)
        return table

    def remember(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """``compute()``, kept for ``key`` (LRU): an answer over immutable versions is the
        same every time, so popular pages and aggregates are computed once."""
        with self._counts_lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return cast("T", self._answers[key])
        value = compute()
        with self._counts_lock:
            self._answers[key] = value
            while len(self._answers) > CACHED_ANSWERS:
                self._answers.popitem(last=False)
        return value

    def keep(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """``compute()``, kept for the life of the database (structures such as value
        indexes: one per column at most, never evicted by the answers' LRU)."""
        with self._counts_lock:
            if key in self._kept:
                return cast("T", self._kept[key])
        value = compute()
        with self._counts_lock:
            return cast("T", self._kept.setdefault(key, value))

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """The single integer a ``SELECT count(*) …`` returns, cached: versions never
        change, so the total of a filtered query is computed once, not on every page."""
        key = (sql, *(str(p) for p in params))
        with self._counts_lock:
            found = self._counts.get(key)
            if found is not None:
                self._counts.move_to_end(key)
                return found
        [(value,)] = self.rows(sql, params)
        with self._counts_lock:
            self._counts[key] = int(value)
            while len(self._counts) > CACHED_COUNTS:
                self._counts.popitem(last=False)
        return int(value)

    def check(self, sql: str) -> str:
        """User SQL, checked (one SELECT over this database's tables), or a refusal."""
        return self.checked(sql).sql

    def checked(self, sql: str) -> CheckedQuery:
        """User SQL, checked, with the dataset tables it reads; or a refusal."""
        with self.cursor() as cur:
            return check_sql(cur, sql, self.sql_tables)

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own (DuckDB connections are thread-safe per cursor)."""
        cur = self.con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def describe(self, sql: str, params: Sequence[Any] = ()) -> list[Column]:
        """The result columns of a query (bound, not run)."""
        with self.cursor() as cur, _deadline(cur, self.timeout):
            found = cur.execute(f"DESCRIBE {sql}", list(params)).fetchall()
        return [Column(str(row[0]), str(row[1])) for row in found]

    def arrow(
        self, sql: str, params: Sequence[Any] = (), *, timeout: float | None = None
    ) -> pa.Table:
        """Run a query (under the time limit) and return the whole result."""
        with self.cursor() as cur, _deadline(cur, timeout or self.timeout):
            table: pa.Table = cur.execute(sql, list(params)).to_arrow_table()
            return table

    def rows(
        self, sql: str, params: Sequence[Any] = (), *, timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        """Run a query (under the time limit) and return its rows as tuples."""
        with self.cursor() as cur, _deadline(cur, timeout or self.timeout):
            return cur.execute(sql, list(params)).fetchall()

    def stream(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        batch_rows: int = 65_536,
        timeout: float | None = None,
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """Run a query and stream its result in record batches (bounded memory).

        The query starts (and fails, for a bad query) before this returns; the time limit
        covers the whole iteration.
        """
        cur = self.con.cursor()
        timer = _timer(cur, timeout or self.timeout)
        try:
            reader = cur.execute(sql, list(params)).to_arrow_reader(batch_rows)
        except BaseException as exc:
            timer.cancel()
            cur.close()
            raise _translate(exc, timeout or self.timeout) from exc

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    except Exception as exc:
                        raise _translate(exc, timeout or self.timeout) from exc
                    yield batch
            finally:
                timer.cancel()
                cur.close()

        return reader.schema, batches()


class _Watchdog:
    """One thread that interrupts cursors past their deadline (no thread per query)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._deadlines: dict[int, tuple[float, duckdb.DuckDBPyConnection]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None
        self._wake_at = 0.0  # when the watchdog thread looks next
        self._idle = 60.0  # its sleep when nothing is watched: the shortest limit seen

    def watch(self, cur: duckdb.DuckDBPyConnection, seconds: float) -> int:
        with self._lock:
            self._next += 1
            deadline = time.monotonic() + seconds
            self._deadlines[self._next] = (deadline, cur)
            self._idle = max(0.01, min(self._idle, seconds))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="beffroi-query-watchdog", daemon=True
                )
                self._thread.start()
            # Wake the thread only when it would look too late: every query has the same
            # limit, so the thread (asleep at most the shortest limit) almost never needs
            # it — a wake-up per query cost a thread switch on the request path.
            if deadline < self._wake_at:
                self._lock.notify()
            return self._next

    def release(self, ticket: int) -> None:
        with self._lock:
            self._deadlines.pop(ticket, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                for ticket, (deadline, cur) in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[ticket]
                        try:
                            cur.interrupt()
                        except duckdb.Error:  # already closed: nothing to interrupt
                            log.debug("curseur déjà fermé à l'échéance")
                upcoming = min((d for d, _c in self._deadlines.values()), default=now + self._idle)
                self._wake_at = max(now + 0.01, upcoming)
                self._lock.wait(timeout=self._wake_at - now)


_WATCHDOG = _Watchdog()


class _Ticket:
    """A watched cursor: ``cancel`` stops the watch."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.ticket = _WATCHDOG.watch(cur, seconds)

    def cancel(self) -> None:
        _WATCHDOG.release(self.ticket)


def _timer(cur: duckdb.DuckDBPyConnection, seconds: float) -> _Ticket:
    return _Ticket(cur, seconds)


@contextmanager
def _deadline(cur: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[None]:
    timer = _timer(cur, seconds)
    try:
        yield
    except duckdb.Error as exc:
        raise _translate(exc, seconds) from exc
    finally:
        timer.cancel()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _translate(exc: BaseException, seconds: float) -> BaseException:
    """DuckDB errors as Beffroi errors (bad query: the user's; anything else: ours)."""
    if isinstance(exc, BeffroiError) or not isinstance(exc, duckdb.Error):
        return exc
    if isinstance(exc, duckdb.InterruptException):
        return UserError(
            f"Requête interrompue après {seconds:g} s (durée maximale)",
            hint="restreignez la requête (filtres, LIMIT) ou exportez les données "
            "(BEFFROI_QUERY_TIMEOUT_SECONDS fixe la limite)",
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return UserError(
            "Requête trop gourmande en mémoire",
            hint="restreignez-la (filtres, agrégats, LIMIT) ; BEFFROI_QUERY_MEMORY_MB fixe "
            "la limite",
        )
    if isinstance(exc, duckdb.PermissionException):
        return InvalidInputError(
            f"Accès refusé par le bac à sable : {_first_line(exc)}",
            hint="seules les tables autorisées et ref.* sont lisibles",
        )
    if isinstance(
        exc,
        (
            duckdb.ParserException,
            duckdb.BinderException,
            duckdb.CatalogException,
            duckdb.ConversionException,
            duckdb.InvalidInputException,
            duckdb.OutOfRangeException,
            duckdb.TypeMismatchException,
            duckdb.NotImplementedException,
            duckdb.SyntaxException,
        ),
    ):
        return InvalidInputError(
            f"Requête incorrecte : {_first_line(exc)}",
            hint="vérifiez les noms de colonnes et de tables (GET …/records donne les champs)",
        )
    return exc


class QueryEngine:
    """Builds and caches the sandboxed databases of one instance."""

    def __init__(self, settings: Settings) -> None:
        self.tables_root = Path(settings.data_dir).absolute() / "tables"
        # Reference vintages written by ``beffroi reference update`` (preferred when newer).
        self.reference_root = Path(settings.data_dir).absolute() / "reference"
        self.timeout = settings.query_timeout_seconds
        self.memory_mb = settings.query_memory_mb
        self.threads = settings.query_threads
        self.memory_rows = settings.query_memory_rows
        self._lock = threading.Lock()
        self._databases: OrderedDict[tuple[object, ...], QueryDatabase] = OrderedDict()
        self._files: OrderedDict[tuple[str, int], tuple[tuple[str, ...], pa.Schema]] = OrderedDict()

    def database(
        self, tables: Sequence[ReadableTable], *, in_memory: bool = False, spatial: bool = False
    ) -> QueryDatabase:
        """The (cached) locked database showing exactly ``tables``.

        ``in_memory`` loads each version of at most ``query_memory_rows`` rows into memory
        (compressed, sorted by row number: keyset pages then skip straight to their rows);
        the records API and exports ask for it, SQL over every table does not. ``spatial``
        loads DuckDB's spatial extension (from its wheel, before the lock) for the records
        API's geographic filters.
        """
        ordered = sorted(tables, key=lambda t: t.slug)
        key = (
            in_memory,
            spatial,
            reference.signature(self.reference_root),
            *(t.cache_key for t in ordered),
        )
        with self._lock:
            found = self._databases.get(key)
            if found is not None:
                self._databases.move_to_end(key)
                return found
            built = self._build(ordered, in_memory=in_memory, spatial=spatial)
            self._databases[key] = built
            while len(self._databases) > CACHED_DATABASES:
                self._databases.popitem(last=False)  # in-flight cursors keep it alive
            return built

    def _version_files(self, table: ReadableTable) -> tuple[tuple[str, ...], pa.Schema]:
        key = (table.store_key, table.store_version)
        found = self._files.get(key)
        if found is not None:
            return found
        path = self.tables_root / table.store_key
        try:
            delta = DeltaTable(str(path), version=table.store_version)
        except Exception as exc:
            raise NotFoundError(
                f"Données introuvables pour {table.slug} (version {table.version})",
                hint="l'administrateur doit vérifier le stockage des tables",
            ) from exc
        files = tuple(_local_path(uri) for uri in delta.file_uris())
        schema = delta.to_pyarrow_dataset().schema if not files else pa.schema([])
        self._files[key] = (files, schema)
        while len(self._files) > CACHED_FILE_LISTS:
            self._files.popitem(last=False)
        return files, schema

    def _build(
        self, tables: Sequence[ReadableTable], *, in_memory: bool, spatial: bool = False
    ) -> QueryDatabase:
        con = duck.connect(
            extensions=("spatial",) if spatial else (),
            config={
                "threads": self.threads,
                "memory_limit": f"{self.memory_mb}MiB",
                "python_enable_replacements": False,
                "allow_community_extensions": False,
                # No spill directory: DuckDB lets a locked database write files into its
                # temporary directory (by default ``.tmp`` under the working directory).
                "temp_directory": "",
            },
        )
        try:
            con.execute("SET parquet_metadata_cache = true")  # footers read once per file
            if in_memory:
                con.execute(f"ATTACH ':memory:' AS {MEMORY_CATALOG} (COMPRESS)")
            views: dict[str, View] = {}
            allowed: list[str] = []
            con.execute(f"CREATE SCHEMA {ROWS_SCHEMA}")
            for table in tables:
                files, schema = self._version_files(table)
                allowed += files
                views[table.slug] = self._create_view(
                    con, table, files, schema, in_memory=in_memory
                )
            reference.install(con, self.reference_root)
            sql_tables = {("main", slug.casefold()) for slug in views}
            sql_tables |= {("ref", name) for name in reference.TABLES}
            con.execute("SET allowed_paths = ?", [allowed])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            con.close()
            raise
        return QueryDatabase(con=con, views=views, timeout=self.timeout, sql_tables=sql_tables)

    def _create_view(
        self,
        con: duckdb.DuckDBPyConnection,
        table: ReadableTable,
        files: tuple[str, ...],
        schema: pa.Schema,
        *,
        in_memory: bool,
    ) -> View:
        name = quote(table.slug)
        source = f"__beffroi_src_{table.dataset_id}"
        stored_rows = 0
        loaded = False
        if files:
            listed = ", ".join(literal(f) for f in files)
            scan = f"read_parquet([{listed}], union_by_name = true)"
            [(stored_rows,)] = con.execute(f"SELECT count(*) FROM {scan}").fetchall()  # noqa: S608
            if in_memory and stored_rows <= self.memory_rows:
                described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()  # noqa: S608
                columns = [str(r[0]) for r in described]
                order = f" ORDER BY {ROW_COLUMN}" if ROW_COLUMN in columns else ""
                con.execute(
                    f"CREATE TABLE {MEMORY_CATALOG}.main.{quote(source)} AS "  # noqa: S608
                    f"SELECT * FROM {scan}{order}"
                )
                con.execute(
                    f"CREATE VIEW {ROWS_SCHEMA}.{quote(source)} AS "  # noqa: S608 - quoted
                    f"SELECT * FROM {MEMORY_CATALOG}.main.{quote(source)}"
                )
                loaded = True
            else:
                con.execute(
                    f"CREATE VIEW {ROWS_SCHEMA}.{quote(source)} AS "  # noqa: S608 - quoted literals
                    f"SELECT * FROM {scan}"
                )
        else:  # a version without rows has no data file: an empty table of its columns
            empty = pa.Table.from_batches([], schema=schema)
            con.register("__beffroi_empty", empty)
            try:
                con.execute(
                    f"CREATE TABLE {ROWS_SCHEMA}.{quote(source)} AS "  # noqa: S608 - quoted
                    "SELECT * FROM __beffroi_empty"
                )
            finally:
                con.unregister("__beffroi_empty")
        described = con.execute(f"DESCRIBE {ROWS_SCHEMA}.{quote(source)}").fetchall()
        stored = [Column(str(row[0]), str(row[1])) for row in described]
        visible = [c for c in stored if c.name != ROW_COLUMN]
        if table.columns is not None:
            by_name = {c.name: c for c in visible}
            visible = [by_name[n] for n in table.columns if n in by_name]
        select = ", ".join(quote(c.name) for c in visible) or "NULL AS empty"
        has_row = any(c.name == ROW_COLUMN for c in stored)
        row = quote(ROW_COLUMN) if has_row else f"row_number() OVER () - 1 AS {ROW_COLUMN}"
        where = f" WHERE ({table.row_filter})" if table.row_filter else ""
        con.execute(
            f"CREATE VIEW {ROWS_SCHEMA}.{name} AS "  # noqa: S608 - quoted identifiers
            f"SELECT {select}, {row} FROM {ROWS_SCHEMA}.{quote(source)}{where}"
        )
        con.execute(
            f"CREATE VIEW main.{name} AS "  # noqa: S608 - quoted identifiers
            f"SELECT * EXCLUDE ({ROW_COLUMN}) FROM {ROWS_SCHEMA}.{name}"
        )
        return View(
            table=table, columns=visible, files=files, rows=int(stored_rows), in_memory=loaded
        )


def _local_path(uri: str) -> str:
    """A Delta file URI as a local path (``file:///x`` → ``/x``); other URIs unchanged."""
    from urllib.parse import unquote, urlsplit  # noqa: PLC0415

    if uri.startswith("file://"):
        return unquote(urlsplit(uri).path)
    return uri


@cache
def _engines() -> dict[tuple[object, ...], QueryEngine]:
    return {}


_engines_lock = threading.Lock()


def engine_for(settings: Settings) -> QueryEngine:
    """The query engine of an instance (one per data directory and limits, per process)."""
    key = (
        str(Path(settings.data_dir).absolute()),
        settings.query_timeout_seconds,
        settings.query_memory_mb,
        settings.query_threads,
    )
    engines = _engines()
    with _engines_lock:
        engine = engines.get(key)
        if engine is None:
            engine = engines[key] = QueryEngine(settings)
        return engine
