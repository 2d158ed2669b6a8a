"""Preview a file before loading it: detected dialect, column types, first typed rows.

Runs the same readers and :func:`beffroi.ingest.infer.infer_schema` as the pipeline, on the
first rows only, and stores nothing — the upload wizard shows it so a référent can check
(and correct) what was detected before the file becomes a version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from beffroi.errors import BeffroiError
from beffroi.ingest.infer import KINDS, NULL_TOKENS, ColumnType, convert, infer_schema, table_schema
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.readers import open_table

SAMPLE_ROWS = 5_000
SHOWN_ROWS = 10


@dataclass(slots=True)
class ColumnPreview:
    """One column as detected (or as declared by the user)."""

    name: str
    kind: str
    declared: bool
    note: str | None
    examples: list[str]


@dataclass(slots=True)
class FilePreview:
    """What the wizard shows: how the file is read, its columns and first rows."""

    dialect: dict[str, Any]
    columns: list[ColumnPreview]
    rows: list[dict[str, Any]]
    sampled_rows: int
    types: list[ColumnType] = field(default_factory=list)
    conversion_error: BeffroiError | None = None
    null_tokens_seen: set[str] = field(default_factory=set)

    def table_schema(self) -> dict[str, Any]:
        """The Table Schema of the detected (or declared) types.

        ``missingValues`` keeps only the null tokens seen in the sample (and the empty
        cell): the same reading of the rows, and a much smaller schema to check against.
        """
        descriptor = table_schema(self.types)
        for item in descriptor["fields"]:
            if "missingValues" in item:
                item["missingValues"] = [
                    v for v in item["missingValues"] if v == "" or v in self.null_tokens_seen
                ]
        return descriptor


def _examples(column: pa.ChunkedArray[Any], limit: int = 3) -> list[str]:
    found: list[str] = []
    for value in column.to_pylist():
        if value is None or str(value).strip() == "":
            continue
        text = str(value)
        if text not in found:
            found.append(text)
        if len(found) >= limit:
            break
    return found


def preview_file(
    path: Path,
    options: ReadOptions | None = None,
    *,
    declared: Mapping[str, str | Mapping[str, Any]] | None = None,
    sample_rows: int = SAMPLE_ROWS,
    shown_rows: int = SHOWN_ROWS,
) -> FilePreview:
    """Read the first ``sample_rows`` rows of ``path`` and type them (nothing is stored).

    ``declared`` maps column names to a Table Schema type (``"integer"``) or field
    descriptor, as the user corrected them; unknown names are ignored. Reading errors
    (encoding, structure) are raised as by the pipeline; a value that does not fit a
    declared type is returned in ``conversion_error`` with the untyped rows.
    """
    source = open_table(path, options or ReadOptions())
    batches: list[pa.RecordBatch] = []
    count = 0
    for batch in source.batches():
        batches.append(batch.slice(0, sample_rows - count))
        count += batches[-1].num_rows
        if count >= sample_rows:
            break
    names = source.column_names
    sample = (
        pa.Table.from_batches(batches)
        if batches
        else pa.table({name: pa.array([], pa.string()) for name in names})
    )
    wanted = {k: v for k, v in (declared or {}).items() if k in sample.column_names}
    tokens = pa.array(NULL_TOKENS, pa.string())
    seen: set[str] = set()
    for column in sample.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            found = pc.filter(column, pc.is_in(column, value_set=tokens))
            seen.update(str(v) for v in pc.unique(found).to_pylist() if v is not None)
    types = infer_schema(sample, declared=wanted)
    head = sample.slice(0, shown_rows)
    error: BeffroiError | None = None
    try:
        typed = pa.Table.from_batches(
            [convert(batch, types) for batch in sample.to_batches()]
        ).slice(0, shown_rows)
        rows = typed.to_pylist()
    except BeffroiError as exc:
        error = exc
        rows = head.to_pylist()
    columns = [
        ColumnPreview(
            name=t.name,
            kind=t.kind,
            declared=t.declared,
            note=t.note,
            examples=_examples(sample.column(t.name)),
        )
        for t in types
    ]
    return FilePreview(
        dialect=source.dialect.as_dict(),
        columns=columns,
        rows=rows,
        sampled_rows=sample.num_rows,
        types=types,
        conversion_error=error,
        null_tokens_seen=seen,
    )


__all__ = ["KINDS", "ColumnPreview", "FilePreview", "preview_file"]
