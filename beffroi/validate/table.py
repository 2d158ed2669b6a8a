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

import contextlib
import csv
import io
import os
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from beffroi.ingest import sniff
from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.readers._common import check_size
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
    _prefetch: Prefetch | None = field(repr=False, default=None)

    @property
    def width(self) -> int:
        """Cells expected per row (the header's)."""
        return len(self.labels)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, in order, as raw text batches."""
        batches: Iterator[pa.RecordBatch] = self._batches()
        return batches

    def prefetch(self) -> None:
        """Start reading the rows on a thread now, while the caller prepares the checks
        (imports, schema, DuckDB): :meth:`chunks` then hands on what was read."""
        if self._prefetch is None:
            self._prefetch = Prefetch(self.batches())

    def chunks(self) -> Iterator[pa.Table]:
        """The rows, in order, in chunks of about :data:`CHUNK_ROWS`, read ahead on a thread
        (started here unless :meth:`prefetch` did)."""
        prefetch = self._prefetch or Prefetch(self.batches())
        self._prefetch = None
        return prefetch.chunks()

    def close(self) -> None:
        """Stop a reading started by :meth:`prefetch` and not consumed."""
        if self._prefetch is not None:
            self._prefetch.close()
            self._prefetch = None


CHUNK_ROWS = 131_072
"""Rows handed to the checks at once (several Arrow batches: DuckDB scans them in parallel)."""


class Prefetch:
    """Batches read on a thread, while the consumer checks the previous chunk (Arrow and
    DuckDB both release the GIL); memory stays bounded by the queue."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._batches = batches
        self._box: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(maxsize=8)
        self._stop = threading.Event()
        self._worker = threading.Thread(
            target=self._produce, name="beffroi-validate-read", daemon=True
        )
        self._worker.start()

    def _produce(self) -> None:
        batches, box = self._batches, self._box
        try:
            for batch in batches:
                if self._stop.is_set():
                    return
                box.put(batch)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            box.put(error)
            return
        finally:
            # Close the reader on this thread, now: an Arrow reader left open until the
            # interpreter exits can hang it.
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        box.put(None)

    def chunks(self) -> Iterator[pa.Table]:
        """The batches, in order, joined in chunks of about :data:`CHUNK_ROWS` rows."""
        try:
            pending: list[pa.RecordBatch] = []
            count = 0
            while True:
                item = self._box.get()
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    break
                pending.append(item)
                count += item.num_rows
                if count >= CHUNK_ROWS:
                    yield pa.Table.from_batches(pending)
                    pending, count = [], 0
            if pending:
                yield pa.Table.from_batches(pending)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the reading thread (it drops what it has read) and wait for it."""
        self._stop.set()
        while self._worker.is_alive():
            with contextlib.suppress(queue.Empty):
                self._box.get(timeout=0.1)
        self._worker.join()


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


def _arrow_reader(
    source: Any, names: list[str], delimiter: str, quotechar: str, handler: Any
) -> Any:
    """Arrow's streaming CSV reader with validation's options: every cell as text, rows of the
    wrong width handed to ``handler``."""
    return pacsv.open_csv(
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
    try:
        if guess.codec == "utf-8" and _can_segment(path, start, delimiter, quotechar):
            yield from _segmented_batches(
                path, start, guess, names, delimiter, quotechar, width, header_row
            )
        else:
            yield from _serial_batches(
                path, start, guess, names, delimiter, quotechar, width, header_row, 0
            )
    except pa.ArrowInvalid as error:
        if "Empty CSV file" in str(error):
            return
        raise invalid(
            f"Fichier CSV illisible : {error}.",
            "Vérifiez le séparateur et les guillemets, ou exportez à nouveau le fichier.",
            path,
        ) from None


def _serial_batches(
    path: Path,
    start: int,
    guess: EncodingGuess,
    names: list[str],
    delimiter: str,
    quotechar: str,
    width: int,
    header_row: int,
    before: int,
) -> Iterator[pa.RecordBatch]:
    """The records from byte ``start`` on, one Arrow reader; ``before`` records precede
    ``start`` (row numbers go on from there)."""
    irregular: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        irregular.append((int(row.number) + before, str(row.text)))
        return "skip"

    # The readers' stream: transcoded to UTF-8, lines bounded, decoding errors located.
    from beffroi.ingest.readers.csv import Utf8Stream  # noqa: PLC0415 - not for UTF-8 files

    stream = Utf8Stream(path, start, guess, 1, [0])
    reader: Any = None
    source: Any
    if guess.codec == "utf-8":
        # Already UTF-8: Arrow reads the file itself (no Python in the I/O path).
        source = pa.OSFile(str(path), mode="r")
        source.seek(start)
    else:
        source = pa.PythonFile(stream, mode="r")
    try:
        reader = _arrow_reader(source, names, delimiter, quotechar, on_invalid)

        def read() -> Iterator[pa.RecordBatch]:
            while True:
                try:
                    yield reader.read_next_batch()
                except StopIteration:
                    return

        yield from _numbered(read(), irregular, before + 1, width, header_row, delimiter, quotechar)
    except pa.ArrowInvalid as error:
        if before and "Empty CSV file" in str(error):
            return
        raise _shifted(error, before) from None
    finally:
        stream.stopped = True  # an abandoned read hands Arrow an end of file
        if reader is not None:
            reader.close()
        source.close()
        stream.close()


def _numbered(
    batches: Iterator[pa.RecordBatch],
    irregular: list[tuple[int, str]],
    first: int,
    width: int,
    header_row: int,
    delimiter: str,
    quotechar: str,
) -> Iterator[pa.RecordBatch]:
    """Arrow's batches with their row numbers, and the irregular rows (``irregular``, filled
    by the invalid-row handler as Arrow goes; record numbers) in their place. ``first`` is
    the record number of the first batch's first row."""
    pending: list[tuple[int, str]] = []
    for batch in batches:
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
    irregular.clear()
    if pending:
        pending.sort()
        names = column_names(width)
        empty = pa.RecordBatch.from_pylist([], schema=pa.schema([(n, pa.string()) for n in names]))
        yield from _assemble(empty, pending, first, width, header_row, delimiter, quotechar)


_ROW_NUMBER = re.compile(r"Row #(\d+)")


def _shifted(error: pa.ArrowInvalid, before: int) -> pa.ArrowInvalid:
    """Arrow's error with its row numbers counted from the first record of the file."""
    if not before:
        return error
    text = _ROW_NUMBER.sub(lambda m: f"Row #{int(m.group(1)) + before}", str(error))
    return pa.ArrowInvalid(text)


# Segments: a large UTF-8 file is cut at record boundaries into pieces that Arrow parses on
# several threads (its streaming reader is serial, and cannot number rows when threaded);
# the pieces' rows are numbered in file order from each one's count of records.

SEGMENT_BYTES = 16 << 20
SEGMENT_QUOTES = 4096
"""Quote characters a segment may hold: each is looked at in Python to know where quoted
fields end; beyond, the rest of the file is read by one reader."""
SEGMENT_THREADS = 2
SEGMENT_AHEAD = 3


def _can_segment(path: Path, start: int, delimiter: str, quotechar: str) -> bool:
    size = path.stat().st_size
    return (
        size - start >= 2 * SEGMENT_BYTES
        and len(delimiter.encode()) == 1
        and len(quotechar.encode()) == 1
    )


def _record_end(data: bytes, quote: int, delimiter: int) -> int | None:
    """The offset just past the last line end of ``data`` (which starts a record) that is
    not inside a quoted field, 0 when there is none; None when ``data`` holds too many quote
    characters to follow. Arrow's rules: a quote opens a field only at its start (after a
    delimiter, a line end or the start), ``""`` inside is a quote, a quote elsewhere is text."""
    if data.find(quote) < 0:  # memchr; count() would look at every byte
        return data.rfind(b"\n") + 1
    budget = SEGMENT_QUOTES
    inside = False
    outside_from = 0  # where the current stretch outside quoted fields began
    end = 0
    pos = 0
    size = len(data)
    while (at := data.find(quote, pos)) >= 0:
        budget -= 1
        if budget < 0:
            return None
        if inside:
            if at + 1 >= size:  # a doubled quote or the end of the field: the next read says
                return end
            if data[at + 1] == quote:
                pos = at + 2
                continue
            inside = False
            outside_from = pos = at + 1
            continue
        if at == 0 or data[at - 1] in (delimiter, 10, 13):
            line = data.rfind(b"\n", outside_from, at)
            if line >= 0:
                end = line + 1
            inside = True
        pos = at + 1
    if not inside:
        line = data.rfind(b"\n", outside_from)
        if line >= 0:
            end = line + 1
    return end


def _pieces(
    path: Path, start: int, delimiter: str, quotechar: str
) -> Iterator[tuple[memoryview | None, int]]:
    """(bytes, offset) of consecutive runs of whole records from ``start``; (None, offset)
    when the rest, from ``offset``, is to be read in one piece. Each piece is read once, at
    its offset (the cut line is read again with the next one), and never copied."""
    quote = quotechar.encode()[0]
    separator = delimiter.encode()[0]
    with path.open("rb", buffering=0) as handle:
        descriptor = handle.fileno()
        offset = start
        size = SEGMENT_BYTES
        while True:
            data = os.pread(descriptor, size, offset)
            if len(data) < size:  # the end of the file
                if data:
                    yield memoryview(data), offset
                return
            end = _record_end(data, quote, separator)
            if end is None:
                yield None, offset
                return
            if not end:  # no line end outside quotes: a longer read
                size *= 2
                continue
            yield memoryview(data)[:end], offset
            offset += end
            size = SEGMENT_BYTES


def _parse_piece(
    data: memoryview, names: list[str], delimiter: str, quotechar: str
) -> tuple[list[pa.RecordBatch], list[tuple[int, str]]]:
    irregular: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        irregular.append((int(row.number), str(row.text)))
        return "skip"

    source = pa.BufferReader(pa.py_buffer(data))
    reader = _arrow_reader(source, names, delimiter, quotechar, on_invalid)
    try:
        batches = []
        while True:
            try:
                batches.append(reader.read_next_batch())
            except StopIteration:
                break
    finally:
        reader.close()
    return batches, irregular


def _segmented_batches(
    path: Path,
    start: int,
    guess: EncodingGuess,
    names: list[str],
    delimiter: str,
    quotechar: str,
    width: int,
    header_row: int,
) -> Iterator[pa.RecordBatch]:
    from collections import deque  # noqa: PLC0415
    from concurrent.futures import Future, ThreadPoolExecutor  # noqa: PLC0415

    pool = ThreadPoolExecutor(SEGMENT_THREADS, thread_name_prefix="beffroi-validate-parse")
    ahead: deque[Future[tuple[list[pa.RecordBatch], list[tuple[int, str]]]]] = deque()
    before = 0  # records in the pieces already handed on
    rest: int | None = None

    def hand_on() -> Iterator[pa.RecordBatch]:
        nonlocal before
        try:
            batches, irregular = ahead.popleft().result()
        except pa.ArrowInvalid as error:
            raise _shifted(error, before) from None
        count = sum(batch.num_rows for batch in batches) + len(irregular)
        shifted = [(number + before, text) for number, text in irregular]
        yield from _numbered(
            iter(batches), shifted, before + 1, width, header_row, delimiter, quotechar
        )
        before += count

    try:
        for data, offset in _pieces(path, start, delimiter, quotechar):
            if data is None:
                rest = offset
                break
            ahead.append(pool.submit(_parse_piece, data, names, delimiter, quotechar))
            while len(ahead) >= SEGMENT_AHEAD:
                yield from hand_on()
        while ahead:
            yield from hand_on()
        if rest is not None:
            yield from _serial_batches(
                path,
                rest,
                guess,
                names,
                delimiter,
                quotechar,
                width,
                header_row,
                before,
            )
    finally:
        for future in ahead:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


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
    from beffroi.ingest.readers import open_table  # noqa: PLC0415 - not for CSV files

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
