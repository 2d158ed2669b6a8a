"""Fixed-width ``pattern`` constraints checked on Arrow buffers, without a regex engine.

Most Table Schema patterns of French schemas are fixed-width sequences of ASCII character
classes: ``^\\d{14}$`` (SIRET), ``^W\\d{9}$`` (RNA), ``^[0-9]{4}-[0-9]{2}-[0-9]{2}$`` (dates),
sometimes with an optional group or a short ``{n,m}``. Such a pattern is a few alternatives
of fixed length; a cell matches when its byte length is one of them and each byte belongs to
the class at its position — one table look-up per byte over a positions-by-cells matrix
(NumPy), a tenth of the CPU of RE2 per cell. Anything else (``*``, ``+``, negated classes,
non-ASCII, ``.``, look-arounds…) is left to the regex engine (:func:`fixed_pattern` returns
``None``).

Semantics are RE2's ``regexp_full_match`` (what the SQL path runs): ``^``/``$`` anchor the
whole text, ``\\d`` is ``[0-9]``, ``\\w`` is ``[0-9A-Za-z_]``. A non-ASCII character never
belongs to an ASCII class, so a cell holding one cannot match either way (``.``, which would
match it, is left to the regex engine).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from beffroi.ingest.cells import cells_of_width, rows_all, string_layout
from beffroi.ingest.infer import date_fields, date_layout

MAX_ALTERNATIVES = 32
MAX_WIDTH = 128

_Class = np.ndarray  # 256 booleans: the bytes a position admits
_Seq = list[_Class]

_META = set(".^$*+?()[]{}|\\")


def _table(chars: str) -> _Class:
    table = np.zeros(256, dtype=bool)
    table[[ord(c) for c in chars]] = True
    return table


_DIGIT = _table("0123456789")
_WORD = _table("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_ASCII_PUNCT = set("!\"#%&',-/:;<=>@_`~ ")


class _UnsupportedError(Exception):
    """The pattern needs the regex engine."""


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0

    def peek(self) -> str | None:
        return self.text[self.at] if self.at < len(self.text) else None

    def take(self) -> str:
        char = self.text[self.at]
        self.at += 1
        return char

    def alternatives(self) -> list[_Seq]:
        """``a|b|…`` up to the end or a closing parenthesis."""
        found = self.sequence()
        while self.peek() == "|":
            self.take()
            found = found + self.sequence()
            _bound(found)
        return found

    def sequence(self) -> list[_Seq]:
        found: list[_Seq] = [[]]
        while (char := self.peek()) is not None and char not in "|)":
            atom = self.atom()
            low, high = self.quantifier()
            repeated: list[_Seq] = []
            for count in range(low, high + 1):
                repeated += _power(atom, count)
                _bound(repeated)
            found = [head + tail for head in found for tail in repeated]
            _bound(found)
        return found

    def atom(self) -> list[_Seq]:
        char = self.take()
        if char == "(":
            if self.text.startswith("?:", self.at):
                self.at += 2
            elif self.peek() == "?":
                raise _UnsupportedError  # look-arounds, named groups, flags
            inner = self.alternatives()
            if self.peek() != ")":
                raise _UnsupportedError
            self.take()
            return inner
        if char == "[":
            return [[self.char_class()]]
        if char == "\\":
            return [[self.escape()]]
        if char in _META or ord(char) > 127:
            raise _UnsupportedError  # ^ or $ inside, *, +, non-ASCII literals
        return [[_table(char)]]

    def escape(self) -> _Class:
        if self.peek() is None:
            raise _UnsupportedError
        char = self.take()
        if char == "d":
            return _DIGIT
        if char == "w":
            return _WORD
        if char in _META or char in _ASCII_PUNCT:
            return _table(char)
        raise _UnsupportedError  # \s, \b, \D, \uXXXX, \n…: the regex engine knows them

    def char_class(self) -> _Class:
        table = np.zeros(256, dtype=bool)
        if self.peek() == "^":
            raise _UnsupportedError  # a negated class admits non-ASCII characters
        first = True
        while True:
            char = self.peek()
            if char is None:
                raise _UnsupportedError
            if char == "]" and not first:
                self.take()
                return table
            first = False
            low = self.class_char()
            if isinstance(low, np.ndarray):
                table |= low
                continue
            if self.peek() == "-" and self.text[self.at + 1 : self.at + 2] not in {"]", ""}:
                self.take()
                high = self.class_char()
                if isinstance(high, np.ndarray) or ord(high) < ord(low):
                    raise _UnsupportedError
                table[ord(low) : ord(high) + 1] = True
            else:
                table[ord(low)] = True

    def class_char(self) -> str | _Class:
        char = self.take()
        if char == "\\":
            if self.peek() is None:
                raise _UnsupportedError
            escaped = self.take()
            if escaped == "d":
                return _DIGIT
            if escaped == "w":
                return _WORD
            if escaped in _META or escaped in _ASCII_PUNCT:
                return escaped
            raise _UnsupportedError
        if char == "[" or ord(char) > 127:
            raise _UnsupportedError  # [[:alpha:]], non-ASCII
        return char

    def quantifier(self) -> tuple[int, int]:
        char = self.peek()
        if char == "?":
            self.take()
            bounds = (0, 1)
        elif char == "{":
            end = self.text.find("}", self.at)
            if end < 0:
                raise _UnsupportedError
            body = self.text[self.at + 1 : end]
            low_text, comma, high_text = body.partition(",")
            if not low_text.isdigit() or (comma and not high_text.isdigit()):
                raise _UnsupportedError  # {n,} is unbounded
            self.at = end + 1
            low = int(low_text)
            bounds = (low, int(high_text) if comma else low)
            if bounds[1] < low or bounds[1] > MAX_WIDTH:
                raise _UnsupportedError
        else:
            return 1, 1
        if self.peek() in {"?", "+", "*", "{"}:
            raise _UnsupportedError  # lazy or possessive forms, stacked quantifiers
        return bounds


def _power(atom: list[_Seq], count: int) -> list[_Seq]:
    found: list[_Seq] = [[]]
    for _ in range(count):
        found = [head + tail for head in found for tail in atom]
        _bound(found)
    return found


def _bound(found: list[_Seq]) -> None:
    if len(found) > MAX_ALTERNATIVES or any(len(seq) > MAX_WIDTH for seq in found):
        raise _UnsupportedError


def fixed_pattern(pattern: str) -> Callable[[Any], pa.Array[Any]] | None:
    """A vectorised full match of ``pattern`` over a text array (``None`` for a null cell),
    or ``None`` when the pattern is not a few fixed-width ASCII alternatives."""
    body = pattern
    if body.startswith("^"):
        body = body[1:]
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    parser = _Parser(body)
    try:
        sequences = parser.alternatives()
    except (_UnsupportedError, IndexError):
        return None
    if parser.peek() is not None:
        return None  # an unbalanced ")"
    by_width: dict[int, list[list[_Test]]] = {}
    for seq in sequences:
        by_width.setdefault(len(seq), []).append(_tests(seq))

    def matches(values: Any) -> pa.Array[Any]:
        values, offsets, data, sizes = string_layout(values)
        verdicts = np.zeros(len(values), dtype=bool)
        for width, alternatives in by_width.items():
            same = sizes == width
            if width == 0:
                verdicts[same] = True
                continue
            rows, cells = cells_of_width(offsets, data, same, width)
            if not len(rows):
                continue
            hit = np.zeros(len(rows), dtype=bool)
            for tests in alternatives:
                found = _run_test(tests[0], cells)
                for test in tests[1:]:
                    found &= _run_test(test, cells)
                hit |= found
            verdicts[rows] = hit
        return _with_nulls(verdicts, values)

    return matches


def fixed_date(date_format: str) -> Callable[[Any], pa.Array[Any]] | None:
    """A vectorised proof of dates: per cell, true when it is a real day written exactly in
    ``date_format`` (fixed width: ``%Y``, ``%m``, ``%d`` and punctuation), false when this
    cannot tell (the SQL check then decides), ``None`` for a null cell; or ``None`` when the
    format is not fixed-width."""
    layout = date_layout(date_format)
    if layout is None:
        return None

    def proven(values: Any) -> pa.Array[Any]:
        values, offsets, data, sizes = string_layout(values)
        verdicts = np.zeros(len(values), dtype=bool)
        rows, cells = cells_of_width(offsets, data, sizes == layout.width, layout.width)
        if len(rows):
            bad = date_fields(cells, layout)[0]
            verdicts[rows] = ~bad
        return _with_nulls(verdicts, values)

    return proven


def _with_nulls(verdicts: np.ndarray, values: Any) -> pa.Array[Any]:
    """Per-cell verdicts as an Arrow array, ``None`` where the cell is null."""
    mask = values.is_null().to_numpy(zero_copy_only=False) if values.null_count else None
    out: pa.Array[Any] = pa.array(verdicts, mask=mask)
    return out


_Test = tuple[int, int, list[tuple[int, int]] | np.ndarray]
"""Positions ``start:stop`` of a cell that admit the same bytes: as byte ranges ``(low,
high)`` (compared, SIMD) or, when the class is scattered, its 256-entry table (looked up)."""


def _tests(seq: _Seq) -> list[_Test]:
    tests: list[_Test] = []
    start = 0
    while start < len(seq):
        stop = start + 1
        while stop < len(seq) and np.array_equal(seq[stop], seq[start]):
            stop += 1
        edges = np.flatnonzero(np.diff(np.concatenate(([False], seq[start], [False]))))
        bounds = zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
        ranges = [(low, high - 1) for low, high in bounds]
        if len(ranges) <= 3:
            tests.append((start, stop, ranges))
        else:
            tests += [(k, k + 1, seq[k]) for k in range(start, stop)]
        start = stop
    return tests


def _run_test(test: _Test, cells: np.ndarray) -> np.ndarray:
    start, stop, admitted = test
    if isinstance(admitted, np.ndarray):
        return np.take(admitted, cells[:, start])
    block = cells[:, start:stop]
    found: np.ndarray | None = None
    for low, high in admitted:
        # One unsigned comparison per byte: below ``low`` wraps around above ``high - low``.
        inside = np.subtract(block, np.uint8(low)) <= np.uint8(high - low)
        found = inside if found is None else found | inside
    if found is None:
        return np.zeros(len(cells), dtype=bool)
    return rows_all(found)
