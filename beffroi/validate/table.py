"""The raw cells of a file, as Table Schema validation needs them.

Validation checks the *text* a user typed, the way frictionless does: every cell as a string,
the header as written, rows numbered like frictionless (the header is row 1), blank rows, short
rows and long rows kept. CSV files reuse the ingestion sniffer (encoding, delimiter, quote,
header line) and Arrow's streaming parser; only the irregular rows (wrong cell count), which
Arrow hands back one by one, are split in Python. Other formats go through the ingestion
readers (:func:`beffroi.ingest.readers.open_table`).

Each batch holds the columns ``c0`` … ``c{width-1}`` (``''`` for an empty cell, null for a
cell missing from a short row), ``_row`` (row number), ``_n`` (cells in the row) and
``_extra`` (the cells beyond the header, null when there are none).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from beffroi.ingest import sniff
from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.readers import open_table
from beffroi.ingest.readers._common import check_size
from beffroi.ingest.readers.csv import Utf8Stream
from beffroi.ingest.sniff import EncodingGuess, invalid

BLOCK_BYTES = 2 << 20
SNIFF_CHARS = 128 << 10
EXTRA = pa.list_(pa.string())
PYTHON_BATCH_ROWS = 65_536


@dataclass(slots=True)
class RawTable:
    """An opened file: its header and a way to stream its rows."""

    path: Path
    labels: list[str]
    header_row: int
    dialect: Dialect
    bytes_total: int
    _batches: Any = field(repr=False, default=None)

    @property
    def width(self) -> int:
        """Cells expected per row (the header's)."""
        return len(self.labels)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, in order, as raw text batches."""
        batches: Iterator[pa.RecordBatch] = self._batches()
        return batches


def column_names(width: int) -> list[str]:
    """Internal names of the cell columns."""
    return [f"c{i}" for i in range(width)]


def open_raw(path: Path, options: ReadOptions = ReadOptions()) -> RawTable:  # noqa: B008 - frozen
    """Open ``path`` for validation; raises ``InvalidFileError`` when it cannot be read."""
    path = Path(path)
    size = check_size(path, options)
    with path.open("rb") as handle:
        head = handle.read(64 << 10)
    fmt = options.format or sniff.detect_format(path, head)
    if fmt in {"csv", "tsv", "txt"}:
        return _open_csv(path, options, size)
    return _open_other(path, options, size)


# ------------------------------------------------------------------------------------------
# CSV


def _open_csv(path: Path, options: ReadOptions, size: int) -> RawTable:
    with path.open("rb") as handle:
        sample = handle.read(sniff.SAMPLE_BYTES)
    complete = len(sample) >= size
    if options.encoding:
        guess = sniff.resolve_encoding(options.encoding, sample, path)
    else:
        guess = sniff.detect_encoding(sample, complete=complete, path=path)
    text = sniff.decode_sample(sample, guess, complete=complete, path=path)
    sniff.check_text(text, path)
    if not text.strip():
        raise invalid(
            "Le fichier ne contient aucune donnée (seulement des espaces ou des lignes vides).",
            "Vérifiez que le bon fichier a été envoyé et que son export s'est terminé.",
            path,
        )
    if not complete and len(text) > SNIFF_CHARS:
        # The dialect shows in the first lines; the sniffer parses its sample once per
        # candidate delimiter, in Python (0.5 s on a whole 1 MB sample).
        text = text[: text.rfind("\n", 0, SNIFF_CHARS) + 1] or text[:SNIFF_CHARS]
    found = sniff.sniff_csv(
        text, complete=complete, delimiter=options.delimiter, header_row=options.header_row
    )
    if options.header_row is None and (
        found.header is None or _skipped_data(text, found.header_line, found)
    ):
        # A Table Schema file has its header on the first line, as frictionless reads it —
        # unless the lines above the sniffed header are titles or comments (one cell each).
        found = sniff.sniff_csv(
            text, complete=complete, delimiter=found.delimiter or options.delimiter, header_row=1
        )
    labels = list(found.header or [])
    header_row = found.header_line or 1
    start = len(guess.bom) + len(text[: found.data_offset].encode(guess.codec))
    dialect = Dialect(
        format="csv",
        encoding=guess.name,
        delimiter=found.delimiter,
        quotechar=found.quotechar,
        header_row=header_row,
        line_terminator=found.line_terminator,
        notes=[note for note in (guess.note, *found.notes) if note],
    )
    table = RawTable(path, labels, header_row, dialect, size)
    delimiter = found.delimiter or sniff.NO_DELIMITER

    def batches() -> Iterator[pa.RecordBatch]:
        if start >= size or not labels:
            return
        if found.skipinitialspace:
            # "a, b, c": Arrow cannot drop the space after the delimiter (nor see the quote
            # that follows it), Python's csv can. Only the reading goes row by row here.
            yield from _python_batches(
                path, start, guess, delimiter, found.quotechar, len(labels), header_row
            )
            return
        yield from _csv_batches(
            path, start, guess, delimiter, found.quotechar, len(labels), header_row
        )

    table._batches = batches
    return table


def _python_batches(
    path: Path,
    start: int,
    guess: EncodingGuess,
    delimiter: str,
    quotechar: str,
    width: int,
    header_row: int,
) -> Iterator[pa.RecordBatch]:
    """The rows of a file with a space after each delimiter, read by :mod:`csv`."""
    with path.open("rb") as handle:
        handle.seek(start)
        text = io.TextIOWrapper(handle, encoding=guess.codec, newline="")
        reader = csv.reader(
            text, delimiter=delimiter, quotechar=quotechar, skipinitialspace=True, strict=False
        )
        numbers: list[int] = []
        rows: list[list[str]] = []
        try:
            for number, fields in enumerate(reader, header_row + 1):
                numbers.append(number)
                rows.append(fields or [""])
                if len(rows) >= PYTHON_BATCH_ROWS:
                    yield rows_batch(numbers, rows, width)
                    numbers, rows = [], []
        except UnicodeDecodeError as error:
            raise sniff.decode_error(error, guess, path, line=header_row + len(numbers)) from None
        if rows:
            yield rows_batch(numbers, rows, width)


def _skipped_data(text: str, header_line: int | None, found: sniff.CsvSniff) -> bool:
    """Whether lines above the sniffed header hold several cells (data, not a title)."""
    if not header_line or header_line <= 1:
        return False
    above = "\n".join(text.splitlines()[: header_line - 1])
    rows = _split_rows(above, found.delimiter or sniff.NO_DELIMITER, found.quotechar)
    return any(sum(1 for cell in row if cell.strip()) >= 2 for row in rows)


def _split_rows(text: str, delimiter: str, quotechar: str) -> list[list[str]]:
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar, strict=False
    )
    return list(reader)


def _csv_batches(
    path: Path,
    start: int,
    guess: EncodingGuess,
    delimiter: str,
    quotechar: str,
    width: int,
    header_row: int,
) -> Iterator[pa.RecordBatch]:
    names = column_names(width)
    irregular: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        irregular.append((int(row.number), str(row.text)))
        return "skip"

    # The readers' stream: transcoded to UTF-8, lines bounded, decoding errors located.
    stream = Utf8Stream(path, start, guess, 1, [0])
    handler: Any = on_invalid
    reader: Any = None
    source: Any
    if guess.codec == "utf-8":
        # Already UTF-8: Arrow reads the file itself (no Python in the I/O path).
        source = pa.OSFile(str(path), mode="r")
        source.seek(start)
    else:
        source = pa.PythonFile(stream, mode="r")
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=BLOCK_BYTES,
                column_names=names,
                encoding="utf8",
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char=quotechar,
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=handler,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=True,
            ),
        )
        first = 1  # record number (from the first data record) of the next batch's first row
        pending: list[tuple[int, str]] = []
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            pending.extend(irregular)
            irregular.clear()
            pending.sort()
            taken = 0
            while taken < len(pending) and pending[taken][0] <= first + batch.num_rows + taken:
                taken += 1
            here, pending = pending[:taken], pending[taken:]
            yield from _assemble(batch, here, first, width, header_row, delimiter, quotechar)
            first += batch.num_rows + len(here)
        pending.extend(irregular)
        if pending:
            pending.sort()
            empty = pa.RecordBatch.from_pylist(
                [], schema=pa.schema([(n, pa.string()) for n in names])
            )
            yield from _assemble(empty, pending, first, width, header_row, delimiter, quotechar)
    except pa.ArrowInvalid as error:
        if "Empty CSV file" in str(error):
            return
        raise invalid(
            f"Fichier CSV illisible : {error}.",
            "Vérifiez le séparateur et les guillemets, ou exportez à nouveau le fichier.",
            path,
        ) from None
    finally:
        stream.stopped = True  # an abandoned read hands Arrow an end of file
        if reader is not None:
            reader.close()
        source.close()
        stream.close()


def _assemble(
    batch: pa.RecordBatch,
    irregular: list[tuple[int, str]],
    first: int,
    width: int,
    header_row: int,
    delimiter: str,
    quotechar: str,
) -> Iterator[pa.RecordBatch]:
    """Regular rows with their numbers, then the irregular ones split by :mod:`csv`."""
    total = batch.num_rows + len(irregular)
    numbers = np.arange(first, first + total, dtype=np.int64)
    if irregular:
        odd = np.array([number for number, _ in irregular], dtype=np.int64)
        numbers = numbers[~np.isin(numbers, odd)]
    if batch.num_rows:
        yield pa.RecordBatch.from_arrays(
            [
                *batch.columns,
                pa.array(numbers[: batch.num_rows] + header_row, pa.int64()),
                pa.array(np.full(batch.num_rows, width, dtype=np.int32)),
                pa.nulls(batch.num_rows, EXTRA),
            ],
            names=[*column_names(width), "_row", "_n", "_extra"],
        )
    if irregular:
        yield _irregular_batch(irregular, width, header_row, delimiter, quotechar)


def _split(text: str, delimiter: str, quotechar: str) -> list[str]:
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar, strict=False
    )
    fields: list[str] = []
    for row in reader:
        if fields and row:
            fields[-1] += "\n" + row[0]
            fields.extend(row[1:])
        else:
            fields.extend(row)
    return fields


def _irregular_batch(
    rows: list[tuple[int, str]], width: int, header_row: int, delimiter: str, quotechar: str
) -> pa.RecordBatch:
    split = [_split(text, delimiter, quotechar) for _, text in rows]
    return rows_batch(
        [number + header_row for number, _ in rows],
        split,
        width,
    )


def rows_batch(numbers: list[int], rows: list[list[str]], width: int) -> pa.RecordBatch:
    """A validation batch from rows of cells (any count): short rows padded with nulls."""
    columns = [
        pa.array([row[i] if i < len(row) else None for row in rows], pa.string())
        for i in range(width)
    ]
    extra = pa.array([row[width:] or None for row in rows], EXTRA)
    return pa.RecordBatch.from_arrays(
        [
            *columns,
            pa.array(numbers, pa.int64()),
            pa.array([len(row) for row in rows], pa.int32()),
            extra,
        ],
        names=[*column_names(width), "_row", "_n", "_extra"],
    )


# ------------------------------------------------------------------------------------------
# Spreadsheets, JSON, Parquet…: through the ingestion readers


def _open_other(path: Path, options: ReadOptions, size: int) -> RawTable:
    source = open_table(path, options)
    labels = _original_labels(source.column_names, source.dialect.notes)
    header_row = source.dialect.header_row or 1
    table = RawTable(path, labels, header_row, source.dialect, size)
    width = len(labels)

    def batches() -> Iterator[pa.RecordBatch]:
        first = header_row + 1
        for batch in source.batches():
            columns = []
            for column in batch.columns:
                text = column if pa.types.is_string(column.type) else column.cast(pa.string())
                columns.append(text.fill_null(""))
            count = batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [
                    *columns,
                    pa.array(np.arange(first, first + count, dtype=np.int64)),
                    pa.array(np.full(count, width, dtype=np.int32)),
                    pa.nulls(count, EXTRA),
                ],
                names=[*column_names(width), "_row", "_n", "_extra"],
            )
            first += count

    table._batches = batches
    return table


_BLANK_NOTE = "en-têtes vides nommés "
_RENAMED_NOTE = "noms de colonnes en double renommés : "


def _original_labels(names: list[str], notes: list[str]) -> list[str]:
    """The header as written: the readers name blank labels and rename duplicates (and say
    so in their notes); validation reports them, so undo it."""
    labels = list(names)
    for note in notes:
        if note.startswith(_BLANK_NOTE):
            blank = set(note[len(_BLANK_NOTE) :].split(", "))
            labels = ["" if label in blank else label for label in labels]
        elif note.startswith(_RENAMED_NOTE):
            for pair in note[len(_RENAMED_NOTE) :].split(", "):
                before, _, after = pair.partition(" → ")
                before, after = before.strip("« »"), after.strip("« »")
                labels = [before if label == after else label for label in labels]
    return labels
