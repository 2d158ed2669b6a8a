"""CSV, TSV and other delimited text: sniffed, transcoded on the fly, parsed by Arrow.

The file is never read whole: a sample gives the encoding and dialect (:mod:`..sniff`), then
a small Python stream hands Arrow's streaming CSV parser the bytes from the first data
record on — transcoded to UTF-8 when the file is not UTF-8, with a bound on line length.
Every column is read as text (``pa.string()``); only the empty string is null.

Rows whose field count differs from the header are handled the same way whatever their
number: extra fields that are all empty (a trailing ``;``) are dropped; short rows are
padded with nulls when they are few (:data:`MAX_PADDED_ROWS`, or :data:`MAX_PADDED_SHARE` of
the rows); any row with extra *filled* fields — data that would be lost — makes the read
fail with the line numbers. Fully empty rows and repetitions of the header row are dropped.
Notes on all of this end up in ``dialect.notes`` (complete once ``batches()`` is exhausted).
"""

from __future__ import annotations

import atexit
import codecs
import csv
import io
import re
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from beffroi.errors import InvalidFileError
from beffroi.ingest import sniff
from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.readers._common import (
    BaseSource,
    all_null_mask,
    naming_notes,
    split_batch,
    string_batch,
    unique_names,
)
from beffroi.ingest.sniff import CsvSniff, EncodingGuess, invalid

CHUNK_BYTES = 1 << 20
"""Bytes read from the file at a time."""

MIN_BLOCK_BYTES = 1 << 20
MAX_BLOCK_BYTES = 4 << 20

MAX_PADDED_ROWS = 10
"""Short rows padded with nulls without complaint, whatever the file's size…"""

MAX_PADDED_SHARE = 0.01
"""…or up to this share of the rows; beyond, the file is refused (wrong delimiter?)."""

MAX_REPORTED_ROWS = 10
"""Irregular rows listed in an error."""

RAGGED_SCAN_BYTES = 64 << 20
"""After a first irregular row, bytes still read to list more before failing."""

_STRADDLE = re.compile(r"straddling|block boundar", re.IGNORECASE)

# Arrow reads ahead on a background thread that calls back into Python (our stream). A reader
# still open when the interpreter finalizes deadlocks or aborts the process, so iterations
# left unfinished (an error in the consumer, an early exit) are closed at exit, while Python
# is still whole.
_LIVE: weakref.WeakSet[Generator[pa.RecordBatch, None, None]] = weakref.WeakSet()


@atexit.register
def _close_unfinished() -> None:
    for generator in list(_LIVE):
        generator.close()


def _nothing() -> None:
    return None


@dataclass(slots=True)
class _BadRow:
    record: int  # 1-based record number from the first data record
    expected: int
    found: int
    text: str
    line: int | None = None


@dataclass(slots=True)
class _State:
    """Counters of one pass over the file."""

    records: int = 0  # data records seen (valid + irregular)
    padded: list[_BadRow] = field(default_factory=list)
    padded_count: int = 0
    trimmed: int = 0
    bad: list[_BadRow] = field(default_factory=list)
    bad_count: int = 0
    bad_since: int | None = None  # bytes read when the first bad row was met
    empty_rows: int = 0
    repeated_headers: int = 0
    emitted: int = 0


def open_csv(path: Path, options: ReadOptions, size: int) -> CsvSource:
    """Open a delimited text file: sniff a sample, then stream the rest on demand."""
    sample, complete = _read_sample(path, size)
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
            message_en="The file holds no data (only spaces or blank lines).",
            hint_en="Check that the right file was sent and that its export finished.",
        )
    delimiter = _forced_delimiter(options.delimiter, path)
    try:
        found = sniff.sniff_csv(
            text, complete=complete, delimiter=delimiter, header_row=options.header_row
        )
    except InvalidFileError as error:
        error.details["file"] = path.name
        raise
    if found.delimiter is None and sniff.looks_fixed_width(text):
        raise invalid(
            "Aucun séparateur trouvé : ce fichier semble être à largeur fixe (colonnes alignées "
            "par des espaces).",
            "Relancez avec --format fwf, ou exportez-le en CSV avec un séparateur.",
            path,
            message_en="No delimiter found: this file looks fixed-width (columns aligned with "
            "spaces).",
            hint_en="Run again with --format fwf, or export it as CSV with a delimiter.",
        )
    return CsvSource(path, size, guess, found, text, options)


def _read_sample(path: Path, size: int) -> tuple[bytes, bool]:
    """The first :data:`sniff.SAMPLE_BYTES`, extended to hold at least one complete line."""
    limit = sniff.SAMPLE_BYTES
    with path.open("rb") as handle:
        sample = handle.read(limit)
        while len(sample) < size and b"\n" not in sample and b"\r" not in sample[:-1]:
            if len(sample) > sniff.MAX_LINE_BYTES:
                raise _line_too_long(path, 1)
            more = handle.read(limit)
            if not more:
                break
            sample += more
            limit *= 2
    return sample, len(sample) >= size


def _forced_delimiter(value: str | None, path: Path) -> str | None:
    if value is None:
        return None
    named = {"\\t": "\t", "tab": "\t", "tabulation": "\t", "pipe": "|", "espace": " "}
    delimiter = named.get(value.lower(), value)
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise invalid(
            f"Séparateur invalide : « {value} » (un seul caractère attendu).",
            "Utilisez par exemple --delimiter ';', --delimiter ',' ou --delimiter tab.",
            path,
            message_en=f"Invalid delimiter: '{value}' (a single character is expected).",
            hint_en="Use for example --delimiter ';', --delimiter ',' or --delimiter tab.",
            value=value,
        )
    return delimiter


def _line_too_long(path: Path, line: int) -> InvalidFileError:
    return invalid(
        f"La ligne {line} dépasse {sniff.MAX_LINE_BYTES // (1 << 20)} Mo : ce n'est pas un "
        "tableau lisible (fichier tronqué, guillemet jamais refermé ou fins de ligne absentes).",
        "Vérifiez le fichier (guillemets, fins de ligne) ou exportez-le à nouveau.",
        path,
        message_en=f"Line {line} is longer than {sniff.MAX_LINE_BYTES // (1 << 20)} MB: this is "
        "not a readable table (truncated file, a quote never closed or missing line endings).",
        hint_en="Check the file (quotes, line endings) or export it again.",
        line=line,
        limit=sniff.MAX_LINE_BYTES,
    )


class Utf8Stream(io.RawIOBase):
    """The file from a byte offset, as UTF-8 bytes: transcoded when needed, lines bounded."""

    def __init__(
        self, path: Path, start: int, guess: EncodingGuess, first_line: int, counter: list[int]
    ) -> None:
        super().__init__()
        self._path = path
        self._file = path.open("rb")
        self._file.seek(start)
        self._guess = guess
        self._decoder = (
            None
            if guess.codec == "utf-8"
            else codecs.getincrementaldecoder(guess.codec)(errors="strict")
        )
        self._chunks: deque[bytes] = deque()  # transcoded, not yet handed out…
        self._head = 0  # …from this offset of the first one
        self._size = 0  # bytes buffered
        self._eof = False
        self._line = first_line  # physical line being read (for messages)
        self._run = 0  # bytes since the last line break
        self._counter = counter  # [bytes read from the file]
        counter[0] = start
        self.stopped = False  # set when the reading is abandoned: hand Arrow an end of file

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        chunk = self._file.read(CHUNK_BYTES)
        self._counter[0] += len(chunk)
        if self._decoder is None:
            data = chunk
        else:
            try:
                data = self._decoder.decode(chunk, final=not chunk).encode("utf-8")
            except UnicodeDecodeError as error:
                line = self._line + chunk[: error.start].count(b"\n")
                if self._guess.codec.startswith("utf-16"):
                    line = self._line + chunk[: error.start].count(b"\n\x00")
                raise sniff.decode_error(error, self._guess, self._path, line=line) from None
        if not chunk:
            self._eof = True
        last = max(data.rfind(b"\n"), data.rfind(b"\r"))
        self._line += data.count(b"\n") or data.count(b"\r")
        self._run = self._run + len(data) if last < 0 else len(data) - last - 1
        if self._run > sniff.MAX_LINE_BYTES:
            raise _line_too_long(self._path, self._line)
        if data:
            self._chunks.append(data)
            self._size += len(data)

    def read(self, size: int = -1) -> bytes:
        """Exactly ``size`` bytes (fewer only at the end), copied once from the chunks."""
        if self.stopped:
            return b""
        while not self._eof and (size < 0 or self._size < size):
            self._fill()
        if size < 0 or size > self._size:
            size = self._size
        if not size:
            return b""
        first = self._chunks[0]
        if not self._head and len(first) == size:
            self._size -= size
            return self._chunks.popleft()
        pieces: list[bytes | memoryview] = []
        need = size
        while need:
            chunk = self._chunks[0]
            available = len(chunk) - self._head
            if available <= need:
                pieces.append(memoryview(chunk)[self._head :] if self._head else chunk)
                self._chunks.popleft()
                self._head = 0
                need -= available
            else:
                pieces.append(memoryview(chunk)[self._head : self._head + need])
                self._head += need
                need = 0
        self._size -= size
        return b"".join(pieces)

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


class CsvSource(BaseSource):
    """A delimited text file read as ``pa.string()`` columns."""

    def __init__(
        self,
        path: Path,
        size: int,
        guess: EncodingGuess,
        found: CsvSniff,
        sample_text: str,
        options: ReadOptions,
    ) -> None:
        self._guess = guess
        self._sniff = found
        self._options = options
        self._data_start = len(guess.bom) + len(
            sample_text[: found.data_offset].encode(guess.codec)
        )
        raw = found.header if found.header is not None else [""] * found.field_count
        names = unique_names(raw)
        notes = [note for note in (guess.note,) if note]
        notes += found.notes
        if found.header is not None:
            notes += naming_notes(raw, names)
        if found.delimiter is None:
            notes.append("aucun séparateur trouvé : une seule colonne")
        if found.skipinitialspace:
            notes.append("espace après chaque virgule ignorée")
        self._base_notes = notes
        dialect = Dialect(
            format="csv",
            encoding=guess.name,
            delimiter=found.delimiter,
            quotechar=found.quotechar,
            header_row=found.header_line,
            line_terminator=found.line_terminator,
            notes=list(notes),
        )
        super().__init__(path, dialect, names, size)
        self._width = len(names) + (1 if found.trailing_extra else 0)
        self._counter = [0]
        self._state = _State()

    # ---------------------------------------------------------------------------------------
    # public

    def bytes_read(self) -> int:
        """Progress: bytes of the input consumed so far."""
        return self._counter[0]

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, ``batch_rows`` at a time (re-reads the file on each call)."""
        generator = self._batches()
        _LIVE.add(generator)
        return generator

    def _batches(self) -> Generator[pa.RecordBatch, None, None]:
        emitted = 0
        block = self._block_size()
        while True:
            self._state = _State()
            try:
                for batch in self._pass(block):
                    # Rows of this batch are [end - n, end) of this pass; a new pass after a
                    # retry re-reads rows already handed out: skip them.
                    end = self._state.emitted
                    skip = emitted - (end - batch.num_rows)
                    if skip >= batch.num_rows:
                        continue
                    piece = batch.slice(skip) if skip > 0 else batch
                    yield piece
                    emitted += piece.num_rows
            except _Straddle:
                # A record longer than Arrow's block: read again with larger blocks,
                # skipping what was already handed out (the passes are deterministic).
                if block >= sniff.MAX_LINE_BYTES:
                    raise _line_too_long(self.path, self._long_line()) from None
                block = min(block * 4, sniff.MAX_LINE_BYTES)
                continue
            break
        self._finish_notes()

    # ---------------------------------------------------------------------------------------
    # reading

    def _block_size(self) -> int:
        estimate = int(self._sniff.avg_record_chars * 1.2 * self._options.batch_rows)
        return max(MIN_BLOCK_BYTES, min(MAX_BLOCK_BYTES, estimate))

    def _pass(self, block: int) -> Iterator[pa.RecordBatch]:
        if self._data_start >= self.bytes_total:
            self._counter[0] = self.bytes_total
            return  # a header and nothing else
        if self._sniff.skipinitialspace:
            yield from self._python_pass()
            return
        invalid_rows: list[tuple[int, int, str]] = []

        def on_invalid(row: Any) -> str:
            invalid_rows.append((int(row.number), int(row.actual_columns), str(row.text)))
            return "skip"

        internal = [f"c{i}" for i in range(self._width)]
        source, stream, progress = self._open_source()
        if stream is None:
            block = min(block, sniff.MAX_LINE_BYTES)
        delimiter = self._sniff.delimiter or sniff.NO_DELIMITER
        reader: Any = None
        try:
            handler: Any = on_invalid
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(
                    use_threads=False, block_size=block, column_names=internal, encoding="utf8"
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter,
                    quote_char=self._sniff.quotechar,
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=True,
                    ignore_empty_lines=True,
                    invalid_row_handler=handler,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(internal, pa.string()),
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    check_utf8=True,
                ),
            )
            pending: list[tuple[int, int, str]] = []
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                progress()
                pending.extend(invalid_rows)
                invalid_rows.clear()
                pending.sort()
                merged, pending = self._merge(batch, pending)
                yield from self._emit(merged)
                if self._should_stop():
                    break
            pending.extend(invalid_rows)
            pending.sort()
            if pending and not self._should_stop():
                merged, _ = self._merge(_empty(internal), pending, flush=True)
                yield from self._emit(merged)
        except pa.ArrowInvalid as error:
            if "Empty CSV file" in str(error):
                return  # only blank lines after the header
            raise self._arrow_error(error) from None
        finally:
            if stream is not None:
                stream.stopped = True
            if reader is not None:
                reader.close()
            source.close()
        self._counter[0] = self.bytes_total
        self._check_ragged(final=True)

    def _open_source(self) -> tuple[Any, Utf8Stream | None, Callable[[], None]]:
        """What Arrow parses: the file itself when UTF-8, else a transcoding stream.

        UTF-8 needs no transcoding: Arrow reads the file without calling back into Python
        for every chunk. Lines stay bounded all the same: a record longer than the block
        fails as "straddling", the block grows up to ``MAX_LINE_BYTES`` (never beyond), then
        the read fails with the line found by :meth:`_long_line`. The third item updates
        the bytes-read counter (the transcoding stream keeps it itself).
        """
        if self._guess.codec == "utf-8":
            source = pa.OSFile(str(self.path), mode="r")
            source.seek(self._data_start)

            def progress() -> None:
                self._counter[0] = source.tell()

            return source, None, progress
        stream = Utf8Stream(
            self.path, self._data_start, self._guess, self._sniff.data_line, self._counter
        )
        return pa.PythonFile(stream, mode="r"), stream, _nothing

    def _python_pass(self) -> Iterator[pa.RecordBatch]:
        """Dialects Arrow cannot parse (``a, b`` with a space after the comma), by :mod:`csv`."""
        handle = self.path.open("rb")
        handle.seek(self._data_start)
        self._counter[0] = self._data_start
        text = io.TextIOWrapper(handle, encoding=self._guess.codec, newline="")
        reader = csv.reader(
            text,
            delimiter=self._sniff.delimiter or sniff.NO_DELIMITER,
            quotechar=self._sniff.quotechar,
            skipinitialspace=self._sniff.skipinitialspace,
            strict=False,
        )
        rows: list[list[str | None]] = []
        previous = 0
        try:
            for fields in reader:
                first_line = self._sniff.data_line + previous
                previous = reader.line_num
                if not fields:
                    continue
                self._state.records += 1
                row = self._fix(fields, self._state.records, first_line)
                if row is not None:
                    rows.append(row)
                if len(rows) >= self._options.batch_rows:
                    self._counter[0] = handle.tell()
                    yield from self._emit(_rows_batch(rows, self._width))
                    rows = []
                    if self._should_stop():
                        break
        except UnicodeDecodeError as error:
            raise sniff.decode_error(error, self._guess, self.path, line=previous + 1) from None
        except csv.Error as error:
            raise invalid(
                f"Fichier CSV illisible ligne {self._sniff.data_line + previous} : {error}.",
                "Vérifiez les guillemets du fichier.",
                self.path,
                message_en=f"Unreadable CSV file on line {self._sniff.data_line + previous}: "
                f"{error}.",
                hint_en="Check the file's quotes.",
                line=self._sniff.data_line + previous,
            ) from None
        finally:
            self._counter[0] = handle.tell()
            text.close()
        if rows:
            yield from self._emit(_rows_batch(rows, self._width))
        self._check_ragged(final=True)

    def _merge(
        self,
        batch: pa.RecordBatch,
        pending: list[tuple[int, int, str]],
        *,
        flush: bool = False,
    ) -> tuple[pa.RecordBatch, list[tuple[int, int, str]]]:
        """Put the irregular rows Arrow skipped back in place, padded or trimmed."""
        start = self._state.records + 1
        taken = 0
        limit = start + batch.num_rows
        while taken < len(pending) and (flush or pending[taken][0] <= limit + taken):
            taken += 1
        here, rest = pending[:taken], pending[taken:]
        self._state.records += batch.num_rows + len(here)
        if not here:
            return batch, rest
        pieces: list[pa.RecordBatch] = []
        cursor = 0
        for position, (number, found, text) in enumerate(here):
            before = number - start - position  # valid rows before this one in the batch
            if before > cursor:
                pieces.append(batch.slice(cursor, before - cursor))
                cursor = before
            fields = _split_record(text, self._sniff)
            row = self._fix(fields, number, None, found=found)
            if row is not None:
                pieces.append(_rows_batch([row], self._width, names=batch.schema.names))
        if cursor < batch.num_rows:
            pieces.append(batch.slice(cursor))
        pieces = [piece for piece in pieces if piece.num_rows]
        if not pieces:
            return batch.slice(0, 0), rest
        return _concat(pieces), rest

    def _fix(
        self, fields: list[str], record: int, line: int | None, *, found: int | None = None
    ) -> list[str | None] | None:
        """An irregular record made regular, or ``None`` (blank: dropped; bad: reported)."""
        width = self._width
        if len(fields) == width:
            return [value or None for value in fields]
        if all(not value.strip() for value in fields):
            self._state.empty_rows += 1
            return None
        count = found if found is not None else len(fields)
        if len(fields) > width:
            extra = fields[width:]
            if all(not value.strip() for value in extra):
                self._state.trimmed += 1
                return [value or None for value in fields[:width]]
            self._state.bad_count += 1
            if self._state.bad_since is None:
                self._state.bad_since = self._counter[0]
            if len(self._state.bad) < MAX_REPORTED_ROWS:
                self._state.bad.append(_BadRow(record, width, count, _clip(fields), line))
            return None
        self._state.padded_count += 1
        if len(self._state.padded) < MAX_REPORTED_ROWS:
            self._state.padded.append(_BadRow(record, width, count, _clip(fields), line))
        return [value or None for value in fields] + [None] * (width - len(fields))

    def _emit(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        """Check, clean and rename one batch, then cut it to ``batch_rows``."""
        self._check_ragged(final=False)
        if self._state.bad_count:
            return  # the read will fail: hand nothing more out
        if self._sniff.trailing_extra and batch.num_rows:
            extra = batch.column(self._width - 1)
            if extra.null_count < batch.num_rows:
                self._trailing_data(batch, extra)
                return
            batch = batch.drop_columns([batch.schema.names[-1]])
        mask = all_null_mask(batch)
        if mask is not None:
            self._state.empty_rows += _count_true(mask)
            batch = batch.filter(pc.invert(mask))
        batch = self._drop_repeated_headers(batch)
        batch = pa.RecordBatch.from_arrays(batch.columns, names=self.column_names)
        for piece in split_batch(batch, self._options.batch_rows):
            self._state.emitted += piece.num_rows
            yield piece

    def _trailing_data(self, batch: pa.RecordBatch, extra: pa.Array[Any]) -> None:
        """Rows that fill the column after the header's last: data beyond the header."""
        first = self._state.records - batch.num_rows + 1
        indexes: list[int] = pc.indices_nonzero(pc.is_valid(extra)).to_pylist()  # type: ignore[assignment]
        for index in indexes:
            self._state.bad_count += 1
            if self._state.bad_since is None:
                self._state.bad_since = self._counter[0]
            if len(self._state.bad) < MAX_REPORTED_ROWS:
                values = [batch.column(i)[index].as_py() or "" for i in range(self._width)]
                self._state.bad.append(
                    _BadRow(first + index, self._width - 1, self._width, _clip(values))
                )

    def _drop_repeated_headers(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        header = self._sniff.header
        if not header or not batch.num_rows:
            return batch
        mask = _equals(batch.column(0), header[0])
        if not pc.any(mask).as_py():
            return batch
        for index, value in enumerate(header[1:], 1):
            mask = pc.and_(mask, _equals(batch.column(index), value))
        repeated = _count_true(mask)
        if not repeated:
            return batch
        self._state.repeated_headers += repeated
        return batch.filter(pc.invert(mask))

    def _should_stop(self) -> bool:
        state = self._state
        if not state.bad_count or state.bad_since is None:
            return False
        return (
            state.bad_count >= MAX_REPORTED_ROWS
            or self._counter[0] - state.bad_since > RAGGED_SCAN_BYTES
        )

    # ---------------------------------------------------------------------------------------
    # errors and notes

    def _check_ragged(self, *, final: bool) -> None:
        state = self._state
        if state.bad_count and (final or self._should_stop()):
            raise self._ragged_error(state.bad, state.bad_count, extra=True, final=final)
        allowed = max(MAX_PADDED_ROWS, int(MAX_PADDED_SHARE * state.records))
        if state.padded_count > allowed and (final or state.records >= 1000):
            raise self._ragged_error(state.padded, state.padded_count, extra=False, final=final)

    def _ragged_error(
        self, rows: list[_BadRow], total: int, *, extra: bool, final: bool
    ) -> InvalidFileError:
        self._locate(rows)
        shown = "; ".join(
            f"ligne {row.line} : {row.found} champs au lieu de {row.expected}" for row in rows
        )
        more = "" if total <= len(rows) else f" (et {total - len(rows)} autres)"
        at_least = "" if final else "au moins "
        delimiter = sniff.DELIMITER_NAMES.get(self._sniff.delimiter or "", "aucun")
        delimiter_en = sniff.DELIMITER_NAMES_EN.get(self._sniff.delimiter or "", "none")
        shown_en = "; ".join(
            f"line {row.line}: {row.found} fields instead of {row.expected}" for row in rows
        )
        more_en = "" if total <= len(rows) else f" (and {total - len(rows)} more)"
        lines_en = f"{'at least ' if not final else ''}{total} line{'s' if total > 1 else ''}"
        message_en = (
            f"{lines_en} {'have' if total > 1 else 'has'} {'more' if extra else 'fewer'} "
            f"fields than the header ({len(self.column_names)} columns): {shown_en}{more_en}."
        )
        hint_en = (
            f"Check the delimiter (detected: {delimiter_en}) and that values containing it are "
            "quoted; run again with --delimiter if needed."
        )
        lines = f"{total} ligne{'s' if total > 1 else ''} {'ont' if total > 1 else 'a'}"
        message = (
            f"{at_least}{lines} {'plus' if extra else 'moins'} de champs que l'en-tête "
            f"({len(self.column_names)} colonnes) : {shown}{more}."
        )
        hint = (
            f"Vérifiez le séparateur (détecté : {delimiter}) et que les valeurs qui le "
            "contiennent sont entre guillemets ; relancez avec --delimiter si besoin."
        )
        first = rows[0] if rows else None
        return invalid(
            message[0].upper() + message[1:],
            hint,
            self.path,
            message_en=message_en[0].upper() + message_en[1:],
            hint_en=hint_en,
            line=first.line if first else None,
            value=first.text if first else None,
            rows=[{"line": r.line, "expected": r.expected, "found": r.found} for r in rows],
            total=total,
            delimiter=self._sniff.delimiter,
        )

    def _locate(self, rows: list[_BadRow]) -> None:
        """Physical line numbers of records (Arrow counts records): re-read up to the last."""
        wanted = sorted({row.record for row in rows if row.line is None})
        if not wanted:
            return
        lines: dict[int, int] = {}
        with self.path.open("rb") as handle:
            handle.seek(self._data_start)
            text = io.TextIOWrapper(handle, encoding=self._guess.codec, newline="")
            reader = csv.reader(
                text,
                delimiter=self._sniff.delimiter or sniff.NO_DELIMITER,
                quotechar=self._sniff.quotechar,
                strict=False,
            )
            record = previous = 0
            try:
                for fields in reader:
                    if fields:
                        record += 1
                        if record in wanted:
                            lines[record] = self._sniff.data_line + previous
                            if record == wanted[-1]:
                                break
                    previous = reader.line_num
            except (csv.Error, UnicodeDecodeError):
                pass
        for row in rows:
            if row.line is None:
                row.line = lines.get(row.record, self._sniff.data_line + row.record - 1)

    def _arrow_error(self, error: pa.ArrowInvalid) -> Exception:
        message = str(error)
        if _STRADDLE.search(message):
            return _Straddle()
        if "UTF8" in message or "UTF-8" in message:
            return self._utf8_error()
        return invalid(
            f"Fichier CSV illisible : {message}.",
            "Vérifiez le séparateur et les guillemets, ou exportez à nouveau le fichier.",
            self.path,
            message_en=f"Unreadable CSV file: {message}.",
            hint_en="Check the delimiter and the quotes, or export the file again.",
        )

    def _long_line(self) -> int:
        """The first physical line longer than ``MAX_LINE_BYTES`` (for the error message)."""
        line, run = self._sniff.data_line, 0
        with self.path.open("rb") as handle:
            handle.seek(self._data_start)
            while chunk := handle.read(CHUNK_BYTES):
                for piece in chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")[:-1]:
                    if run + len(piece) > sniff.MAX_LINE_BYTES:
                        return line
                    line, run = line + 1, 0
                run += len(chunk) - max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) - 1
                if run > sniff.MAX_LINE_BYTES:
                    return line
        return line  # a record of several lines, too long as a whole: where it starts is unknown

    def _utf8_error(self) -> InvalidFileError:
        """Find the first bytes that are not UTF-8 (past the sample) for a precise message."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        line = self._sniff.data_line
        with self.path.open("rb") as handle:
            handle.seek(self._data_start)
            while chunk := handle.read(CHUNK_BYTES):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    line += chunk[: error.start].count(b"\n")
                    return sniff.decode_error(error, self._guess, self.path, line=line)
                line += chunk.count(b"\n")
        return invalid(  # pragma: no cover - Arrow and Python agree on UTF-8
            "Le fichier contient des octets qui ne sont pas de l'UTF-8.",
            "Relancez avec --encoding cp1252, ou enregistrez le fichier en UTF-8.",
            self.path,
            message_en="The file contains bytes that are not UTF-8.",
            hint_en="Run again with --encoding cp1252, or save the file as UTF-8.",
        )

    def _finish_notes(self) -> None:
        state = self._state
        notes = list(self._base_notes)
        if state.repeated_headers:
            notes.append(f"{state.repeated_headers} ligne(s) d'en-tête répétée(s) supprimée(s)")
        if state.empty_rows:
            notes.append(f"{state.empty_rows} ligne(s) vide(s) ignorée(s)")
        if state.trimmed:
            notes.append(f"{state.trimmed} ligne(s) avec des champs vides en trop : tronquées")
        if state.padded_count:
            self._locate(state.padded)
            lines = ", ".join(str(row.line) for row in state.padded)
            more = "…" if state.padded_count > len(state.padded) else ""
            notes.append(
                f"{state.padded_count} ligne(s) avec moins de champs que l'en-tête complétée(s) "
                f"par des cellules vides (ligne(s) {lines}{more})"
            )
        self.dialect.notes = notes


class _Straddle(Exception):  # noqa: N818 - internal control flow, never escapes
    """Arrow met a record longer than its block size."""


def _equals(column: pa.Array[Any], value: str) -> pa.BooleanArray:
    """Cells equal to ``value`` (null cells equal the empty string), never null."""
    if not value:
        return pc.is_null(column)
    same: Any = pc.equal(column, pa.scalar(value, pa.string()))
    filled: pa.BooleanArray = pc.fill_null(same, pa.scalar(False))  # noqa: FBT003 - value
    return filled


def _count_true(mask: pa.BooleanArray) -> int:
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)


def _concat(pieces: list[pa.RecordBatch]) -> pa.RecordBatch:
    concat: Any = pa.concat_batches  # type: ignore[attr-defined] # not in pyarrow-stubs yet
    batch: pa.RecordBatch = concat(pieces)
    return batch


def _clip(fields: list[str]) -> str:
    text = "|".join(fields)
    return text if len(text) <= 200 else text[:197] + "…"


def _split_record(text: str, found: CsvSniff) -> list[str]:
    """One record's fields, parsed like Arrow would (the text Arrow handed back)."""
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=found.delimiter or sniff.NO_DELIMITER,
        quotechar=found.quotechar,
        strict=False,
    )
    fields: list[str] = []
    for row in reader:
        if fields and row:
            fields[-1] += "\n" + row[0]
            fields.extend(row[1:])
        else:
            fields.extend(row)
    return fields


def _rows_batch(
    rows: list[list[str | None]], width: int, names: list[str] | None = None
) -> pa.RecordBatch:
    columns = [[row[i] for row in rows] for i in range(width)]
    return string_batch(columns, names or [f"c{i}" for i in range(width)])


def _empty(names: list[str]) -> pa.RecordBatch:
    return string_batch([[] for _ in names], names)
