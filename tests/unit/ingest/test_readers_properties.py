# ruff: noqa: RUF001 - typographic French quotes, dashes and other scripts are test data
"""Property: any table of strings, written as CSV in any supported dialect, reads back the same.

Dialects: delimiter ``,`` ``;`` tab ``|``; encodings UTF-8, UTF-8 with BOM, Windows-1252 (text
it can encode) and UTF-16; CRLF or LF line endings. Cells hold quotes, delimiters, line breaks,
accents and ``€``. The sample size is also varied (down to a few hundred bytes) so that the
streaming part of the reader, past the sniffed sample, is exercised too.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from unittest import mock

import pyarrow as pa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from beffroi.ingest import sniff
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.readers import open_table

ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    " ,;|\t\"'\n\r.-/:éèàçùâêîôûëïÉÈÀÇœŒ’–€«»°"
)
CP1252_SAFE = "".join(char for char in ALPHABET if char.encode("cp1252", "ignore"))

cells = st.text(alphabet=ALPHABET, max_size=12)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(min_value=2, max_value=6))
    header = [
        f"Colonne {chr(65 + i)}{draw(st.sampled_from(['', 'é', ' n°', '_id']))}"
        for i in range(width)
    ]
    body = draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=25))
    return header, body


def write_row(cells: list[str], delimiter: str) -> str:
    """RFC 4180 quoting, also for a lone CR (Python's csv writer leaves it bare with LF)."""

    def quote(cell: str) -> str:
        if any(char in cell for char in (delimiter, '"', "\r", "\n")):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    return delimiter.join(quote(cell) for cell in cells)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    table=tables(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
    newline=st.sampled_from(["\r\n", "\n"]),
    sample_bytes=st.sampled_from([256, 1024, sniff.SAMPLE_BYTES]),
)
def test_csv_round_trip(
    table: tuple[list[str], list[list[str]]],
    delimiter: str,
    encoding: str,
    newline: str,
    sample_bytes: int,
) -> None:
    header, body = table
    if encoding == "cp1252":
        body = [["".join(c for c in cell if c in CP1252_SAFE) for cell in row] for row in body]
        sample_bytes = sniff.SAMPLE_BYTES  # a sample without any accent would say UTF-8
        # Words made only of accented letters read as another script (Greek, Cyrillic…)
        # and are refused by design; French text never has four in a row.
        assume(not any(re.search(r"[À-ÿ]{4}", cell) for row in body for cell in row))
    # Rows without any value are dropped by the reader (blank lines, ";;;" Excel leftovers).
    expected = [[cell or None for cell in row] for row in body if any(cell for cell in row)]
    text = "".join(write_row(row, delimiter) + newline for row in [header, *body])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "table.csv"
        path.write_bytes(text.encode(encoding))
        with mock.patch.object(sniff, "SAMPLE_BYTES", sample_bytes):
            source = open_table(path, ReadOptions(batch_rows=7))
            batches = list(source.batches())
    assert source.column_names == header
    assert source.dialect.delimiter == delimiter
    assert source.dialect.line_terminator == ("CRLF" if newline == "\r\n" else "LF")
    result = pa.Table.from_batches(batches) if batches else None
    got = [list(row.values()) for row in result.to_pylist()] if result is not None else []
    assert got == expected
