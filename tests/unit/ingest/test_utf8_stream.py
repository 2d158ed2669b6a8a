"""The transcoding stream hands out exactly the bytes asked for, whatever the sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from beffroi.ingest.readers.csv import CHUNK_BYTES, Utf8Stream
from beffroi.ingest.sniff import EncodingGuess


@pytest.mark.parametrize(
    "sizes",
    [
        [1, 7, CHUNK_BYTES, 3, 2 * CHUNK_BYTES + 5, -1],
        [-1],
        [CHUNK_BYTES - 1] * 5,
        [CHUNK_BYTES + 1] * 3 + [-1],
        [3 * CHUNK_BYTES] * 3,
    ],
)
def test_reads_of_any_size(tmp_path: Path, sizes: list[int]) -> None:
    text = "é;\u2019;€ x\n" * 300_000  # about 3.6 MB of UTF-8: several chunks
    path = tmp_path / "f.csv"
    path.write_bytes(b"a;b;c\n" + text.encode("cp1252"))
    counter = [0]
    stream = Utf8Stream(path, 6, EncodingGuess("cp1252", "cp1252"), 2, counter)
    pieces = [stream.read(size) for size in sizes]
    tail = stream.read(5)
    stream.close()
    expected = text.encode("utf-8")
    position = 0
    for size, piece in zip(sizes, pieces, strict=True):
        wanted = expected[position:] if size < 0 else expected[position : position + size]
        assert piece == wanted
        position += len(piece)
    assert tail == expected[position : position + 5]
    assert counter[0] == path.stat().st_size
