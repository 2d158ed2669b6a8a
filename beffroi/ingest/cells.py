"""Text cells as bytes, for vectorised checks on Arrow string arrays (NumPy, no copy where
possible): the raw layout of a column, its cells of one width as a matrix, and a fast
row-wise ``all`` over such matrices. Used by type inference (dates) and validation
(fixed-width patterns, SIREN/SIRET, dates)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def string_layout(values: Any) -> tuple[pa.Array[Any], np.ndarray, np.ndarray, np.ndarray]:
    """A column as one Arrow string array and its raw layout, for checks on the bytes:
    ``(values, offsets, data, sizes)`` — cell ``i`` is ``data[offsets[i]:offsets[i + 1]]``,
    ``sizes[i]`` bytes long (no copy)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    count = len(values)
    if not count:
        empty = np.zeros(0, np.int32)
        return values, np.zeros(1, np.int32), np.zeros(0, np.uint8), empty
    buffers: list[Any] = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[values.offset : values.offset + count + 1]
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.zeros(0, np.uint8)
    )
    return values, offsets, data, np.diff(offsets)


RUN_ROWS = 64
"""Consecutive cells of one width taken as one reshaped slice of the data buffer (no gather)."""


def cells_of_width(
    offsets: np.ndarray, data: np.ndarray, selected: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``selected`` cells, all ``width`` bytes long: their row numbers and their bytes
    as a rows-by-``width`` matrix. Consecutive such cells are contiguous in the data buffer:
    runs of at least :data:`RUN_ROWS` are reshaped slices of it, the rest are gathered."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], selected, [False])).view(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    long = (stops - starts) >= RUN_ROWS
    rows: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    for start, stop in zip(starts[long].tolist(), stops[long].tolist(), strict=True):
        rows.append(np.arange(start, stop))
        blocks.append(data[offsets[start] : offsets[stop]].reshape(stop - start, width))
    if not long.all():
        scattered = selected.copy()
        for start, stop in zip(starts[long].tolist(), stops[long].tolist(), strict=True):
            scattered[start:stop] = False
        others = np.flatnonzero(scattered)
        rows.append(others)
        blocks.append(data[offsets[others][:, None] + np.arange(width)])
    if not rows:
        return np.zeros(0, np.intp), np.zeros((0, width), np.uint8)
    if len(rows) == 1:
        return rows[0], blocks[0]
    return np.concatenate(rows), np.concatenate(blocks)


_WORDS = {8: np.uint64, 4: np.uint32, 2: np.uint16}


def rows_all(inside: np.ndarray) -> np.ndarray:
    """``inside.all(axis=1)`` for a rows-by-width boolean matrix, a dozen times faster on
    short rows: each row is read as a few overlapping 8-, 4- or 2-byte words, all true when
    every byte of them is 1 (``all(axis=1)`` loops over each row's few columns instead)."""
    count, width = inside.shape
    if count == 0:
        return np.ones(0, dtype=bool)  # no buffer to read words from
    if width <= 1:
        return inside[:, 0].copy() if width else np.ones(count, dtype=bool)
    size = 8 if width >= 8 else 4 if width >= 4 else 2
    word = _WORDS[size]
    full = np.frombuffer(b"\x01" * size, word)[0]
    flat = np.ascontiguousarray(inside).view(np.uint8).reshape(-1)
    starts = list(range(0, width - size + 1, size))
    if starts[-1] != width - size:
        starts.append(width - size)  # the last word overlaps the one before
    result: np.ndarray | None = None
    for start in starts:
        words = np.ndarray((count,), dtype=word, buffer=flat, offset=start, strides=(width,))
        equal = words == full
        result = equal if result is None else result & equal
    return result if result is not None else np.ones(count, dtype=bool)
