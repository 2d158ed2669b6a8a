"""Fixed-width text, when declared (``ReadOptions.format = "fwf"``).

Without declared widths (``ReadOptions.widths``, ``beffroi ingest --widths 5,30,8``) the
columns are the runs of characters separated by positions that are blank on every line of
the sample (a header record on the first line that does not follow the layout is skipped).
Values are stripped; empty ones are null.
"""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa

from beffroi.ingest import sniff
from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.readers._common import BaseSource, naming_notes, string_batch, unique_names
from beffroi.ingest.sniff import EncodingGuess, invalid

_NEWLINE = re.compile(r"\r\n|\r|\n")


def infer_spans(lines: Sequence[str]) -> list[tuple[int, int | None]]:
    """Column spans from the positions blank on every line (the last span is open-ended)."""
    width = max(len(line) for line in lines)
    blank = [all(i >= len(line) or line[i] == " " for line in lines) for i in range(width)]
    starts = [i for i in range(width) if not blank[i] and (i == 0 or blank[i - 1])]
    if not starts:
        return [(0, None)]
    return [
        (start, starts[k + 1] if k + 1 < len(starts) else None) for k, start in enumerate(starts)
    ]


def open_fwf(
    path: Path, options: ReadOptions, size: int, widths: Sequence[int] | None = None
) -> FixedWidthSource:
    """Open a fixed-width file; ``widths`` (in characters) override the inferred layout."""
    with path.open("rb") as handle:
        sample = handle.read(sniff.SAMPLE_BYTES)
    complete = len(sample) >= size
    if options.encoding:
        guess = sniff.resolve_encoding(options.encoding, sample, path)
    else:
        guess = sniff.detect_encoding(sample, complete=complete, path=path)
    text = sniff.decode_sample(sample, guess, complete=complete, path=path)
    lines = [line for line in _NEWLINE.split(text) if line.strip()]
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    if not lines:
        raise invalid(
            "Le fichier ne contient aucune donnée.",
            "Vérifiez le fichier envoyé.",
            path,
            message_en="The file holds no data.",
            hint_en="Check the file that was sent.",
        )
    notes: list[str] = []
    skip = 0
    header_row = options.header_row
    if widths:
        spans: list[tuple[int, int | None]] = []
        start = 0
        for width in widths:
            spans.append((start, start + width))
            start += width
        notes.append("largeurs de colonnes fournies")
    else:
        body = lines
        filled = [len(line.replace(" ", "")) for line in lines]
        indents = [len(line) - len(line.lstrip(" ")) for line in lines]
        if len(lines) > 2 and (
            filled[0] < 0.5 * statistics.median(filled[1:])
            or (indents[0] >= 8 and not any(indents[1:]))
        ):
            body, skip = lines[1:], 1
            notes.append("1 ligne d'en-tête d'enregistrement ignorée (hors gabarit)")
        spans = infer_spans(body[:1000])
        notes.append(
            f"largeur fixe : {len(spans)} colonnes déduites des colonnes d'espaces (vérifiez-les)"
        )
    header: list[str] | None = None
    if header_row:
        raw_line = _NEWLINE.split(text)[header_row - 1] if header_row else ""
        header = [_cut(raw_line, span) or "" for span in spans]
        skip = header_row
    names = unique_names(header or [""] * len(spans))
    if header is not None:
        notes += naming_notes(header, names)
    dialect = Dialect(format="fwf", encoding=guess.name, header_row=header_row, notes=notes)
    return FixedWidthSource(path, size, dialect, names, guess, spans, skip, options)


def _cut(line: str, span: tuple[int, int | None]) -> str | None:
    start, end = span
    value = line[start:end].strip()
    return value or None


class FixedWidthSource(BaseSource):
    """Fixed-width lines cut into ``pa.string()`` columns."""

    def __init__(
        self,
        path: Path,
        size: int,
        dialect: Dialect,
        names: list[str],
        guess: EncodingGuess,
        spans: list[tuple[int, int | None]],
        skip: int,
        options: ReadOptions,
    ) -> None:
        super().__init__(path, dialect, names, size)
        self._guess = guess
        self._spans = spans
        self._skip = skip
        self._options = options

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, ``batch_rows`` at a time."""
        with self.path.open("rb") as raw:
            raw.seek(len(self._guess.bom))
            text = io.TextIOWrapper(raw, encoding=self._guess.codec, newline=None)
            columns: list[list[str | None]] = [[] for _ in self._spans]
            count = 0
            number = 0
            try:
                while line := text.readline(sniff.MAX_LINE_BYTES + 1):
                    number += 1
                    if len(line) > sniff.MAX_LINE_BYTES:
                        raise invalid(
                            f"La ligne {number} dépasse {sniff.MAX_LINE_BYTES >> 20} Mo.",
                            "Vérifiez les fins de ligne du fichier.",
                            self.path,
                            message_en=f"Line {number} is longer than "
                            f"{sniff.MAX_LINE_BYTES >> 20} MB.",
                            hint_en="Check the file's line endings.",
                            line=number,
                        )
                    line = line.rstrip("\r\n")
                    if number <= self._skip or not line.strip():
                        continue
                    for column, span in zip(columns, self._spans, strict=True):
                        column.append(_cut(line, span))
                    count += 1
                    if count >= self._options.batch_rows:
                        self._bytes_read = raw.tell()
                        yield string_batch(columns, self.column_names)
                        columns, count = [[] for _ in self._spans], 0
            except UnicodeDecodeError as error:
                raise sniff.decode_error(error, self._guess, self.path, line=number + 1) from None
            if count:
                yield string_batch(columns, self.column_names)
        self._bytes_read = self.bytes_total
