"""Parquet: self-describing, read row group by row group with its own types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.readers._common import BaseSource, naming_notes, unique_names
from beffroi.ingest.sniff import invalid


def _unreadable(path: Path, reason: str) -> Exception:
    return invalid(
        f"Fichier Parquet illisible : il est tronqué ou endommagé ({reason}).",
        "Exportez-le à nouveau depuis l'outil qui l'a produit.",
        path,
        message_en=f"Unreadable Parquet file: it is truncated or damaged ({reason}).",
        hint_en="Export it again from the tool that produced it.",
        reason=reason,
    )


class ParquetSource(BaseSource):
    """A Parquet file, streamed in batches; column types are Parquet's own."""

    def __init__(self, path: Path, size: int, options: ReadOptions) -> None:
        try:
            self._file = pq.ParquetFile(path)
            schema = self._file.schema_arrow
        except (pa.ArrowException, OSError, ValueError) as error:
            raise _unreadable(path, str(error)) from None
        self._options = options
        raw = list(schema.names)
        names = unique_names(raw)
        self._schema = pa.schema(
            [field.with_name(name) for field, name in zip(schema, names, strict=True)]
        )
        metadata = self._file.metadata
        self._rows = metadata.num_rows
        notes = naming_notes(raw, names)
        notes.append(f"{metadata.num_rows} lignes en {metadata.num_row_groups} groupe(s)")
        super().__init__(path, Dialect(format="parquet", notes=notes), names, size)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, ``batch_rows`` at a time."""
        done = 0
        try:
            for batch in self._file.iter_batches(batch_size=self._options.batch_rows):
                done += batch.num_rows
                self._bytes_read = int(self.bytes_total * done / max(1, self._rows))
                yield pa.RecordBatch.from_arrays(batch.columns, schema=self._schema)
        except (pa.ArrowException, OSError, ValueError) as error:
            raise _unreadable(self.path, str(error)) from None
        self._bytes_read = self.bytes_total


def open_parquet(path: Path, options: ReadOptions, size: int) -> ParquetSource:
    """Open a Parquet file."""
    return ParquetSource(path, size, options)
