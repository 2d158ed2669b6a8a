"""The versioned-table store, behind a Protocol (local Delta Lake now, S3 later).

The store knows nothing of access control nor of publication: it writes immutable
versions and reads them back; the catalogue decides which version is published. Versions
keep the row order of the upload (then of the appends): a store may number the rows in a
hidden column (the local store's ``__beffroi_row``), which ``read`` and ``diff`` never show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

import pyarrow as pa

WriteMode = Literal["replace", "append", "upsert"]


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One committed version of a dataset's table."""

    version: int  # Delta table version (0, 1, 2, …)
    upload_id: str
    rows: int  # rows of the table at this version (after an append: old rows + new ones)
    committed_at: dt.datetime
    mode: WriteMode


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """Rows added, removed and changed between two versions."""

    added: int
    removed: int
    changed: int
    key: list[str] | None  # primary key used, None when compared by row hash
    sample_added: pa.Table
    sample_removed: pa.Table
    sample_changed: pa.Table  # changed rows as in the newer version


class VersionStore(Protocol):
    """Where datasets' versioned tables live."""

    def write(
        self,
        dataset_key: str,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        *,
        upload_id: str,
        mode: WriteMode = "replace",
        primary_key: list[str] | None = None,
    ) -> StoredVersion:
        """Commit the batches as one new version, atomically (all or nothing).

        ``upsert`` needs ``primary_key`` (else :class:`~beffroi.errors.InvalidInputError`);
        ``append`` and ``upsert`` keep the table's columns, ``replace`` may change them. An
        exception raised while iterating ``batches`` is re-raised as is, with nothing stored.
        """
        ...

    def versions(self, dataset_key: str) -> list[StoredVersion]:
        """Every committed version, oldest first (empty when the table does not exist)."""
        ...

    def read(self, dataset_key: str, version: int) -> pa.Table:
        """One version, in full (small tables; use ``table_uri`` for DuckDB scans).

        An unknown table or version raises :class:`~beffroi.errors.NotFoundError`.
        """
        ...

    def table_uri(self, dataset_key: str) -> str:
        """Where the table lives (a path or URL DuckDB's ``delta_scan`` can read)."""
        ...

    def diff(
        self, dataset_key: str, old: int, new: int, *, primary_key: list[str] | None = None
    ) -> VersionDiff:
        """Compare two versions: by ``primary_key`` when given (added, removed, changed),
        else as multisets of rows by row hash (a modified row is one removed + one added)."""
        ...

    def cleanup(self, dataset_key: str | None = None) -> int:
        """Remove leftovers of interrupted writes; returns how many files were removed."""
        ...
