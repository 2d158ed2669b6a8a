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
    by_width: dict[int, list[np.ndarray]] = {}
    for seq in sequences:
        by_width.setdefault(len(seq), []).append(
            np.stack(seq) if seq else np.zeros((0, 256), dtype=bool)
        )

    def matches(values: Any) -> pa.Array[Any]:
        values, offsets, data, sizes = string_layout(values)
        count = len(values)
        verdicts = np.zeros(count, dtype=bool)
        if count:
            for width, tables in by_width.items():
                rows = np.flatnonzero(sizes == width)
                if not len(rows):
                    continue
                if width == 0:
                    verdicts[rows] = True
                    continue
                starts = offsets[rows]
                cells = [data[starts + k] for k in range(width)]  # the k-th byte of each cell
                hit = np.zeros(len(rows), dtype=bool)
                for table in tables:
                    # One 256-entry look-up per position (a 2-D fancy index is 10x slower).
                    found = np.take(table[0], cells[0])
                    for k in range(1, width):
                        found &= np.take(table[k], cells[k])
                    hit |= found
                verdicts[rows] = hit
        mask = values.is_null().to_numpy(zero_copy_only=False) if values.null_count else None
        return pa.array(verdicts, mask=mask)

    return matches


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
