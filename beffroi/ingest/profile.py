"""Column profiles of a version: null share, distinct count, min/max, examples, semantic type.

Built in one streaming pass over the converted batches (bounded memory)::

    builder = ProfileBuilder(types)
    for batch in batches:
        builder.update(batch)
    profiles = [p.as_dict() for p in builder.finish()]

Each update is vectorised (``pyarrow.compute``: ``unique``, ``min_max``, ``equal``). Batches are
hashed by groups of about 65,536 rows, each value once; a text column with a single value so far
is checked by one comparison per value instead; a column whose first group is mostly distinct
values (identifiers, amounts) is merged directly, batches and all, only when its count may pass
the limit. The distinct count is exact while a column has at most ``distinct_limit`` distinct
values (200,000 by default) taking at most ``distinct_bytes`` (8 MB; the distinct values are
kept to merge groups); past that the count stops growing, ``distinct_exact`` becomes ``False`` and
``distinct_count`` is a lower bound (the count when a limit was passed, which depends on the
grouping). Min/max stay exact: past the limit each batch is only
compared to them. The semantic type (:mod:`beffroi.ingest.semantic`) is detected at the end from
the first 5,000 distinct values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import pyarrow as pa
import pyarrow.compute as pc

from beffroi.ingest import semantic
from beffroi.ingest.infer import ColumnType, Kind, Values

DISTINCT_LIMIT: Final = 200_000  # past it the count is a lower bound (distinct_exact=False)
DISTINCT_BYTES: Final = 8 * 1024 * 1024  # per column: wide files stay well under 1 GB
EXAMPLES: Final = 5
EXAMPLE_CHARS: Final = 200  # examples and min/max are cut to this length
GROUP_ROWS: Final = 65_536  # batches are hashed by groups of about this many rows
GROUP_BYTES: Final = 4 * 1024 * 1024  # or this many bytes
FRESH_SHARE: Final = 0.5  # a column whose first group is mostly distinct values is "fresh"


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """What one column of a version holds. ``min``/``max``/``examples`` are text (ISO 8601 for
    dates, ``true``/``false`` for booleans); ``semantic`` is a label of
    :data:`beffroi.ingest.semantic.LABELS` with its ``semantic_confidence``."""

    name: str
    kind: Kind
    rows: int
    null_count: int
    distinct_count: int
    distinct_exact: bool
    min: str | None
    max: str | None
    examples: tuple[str, ...]
    semantic: str | None
    semantic_confidence: float | None

    @property
    def null_share(self) -> float:
        """Share of null cells (0 for an empty column)."""
        return self.null_count / self.rows if self.rows else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "name": self.name,
            "type": self.kind,
            "rows": self.rows,
            "null_count": self.null_count,
            "null_share": round(self.null_share, 6),
            "distinct_count": self.distinct_count,
            "distinct_exact": self.distinct_exact,
            "min": self.min,
            "max": self.max,
            "examples": list(self.examples),
            "semantic": self.semantic,
            "semantic_confidence": (
                None if self.semantic_confidence is None else round(self.semantic_confidence, 4)
            ),
        }


@dataclass(slots=True)
class _ColumnState:
    name: str
    kind: Kind
    rows: int = 0
    nulls: int = 0
    low: Any = None  # extremes, as Arrow scalars of the column's type
    high: Any = None
    buffer: list[Values] = field(default_factory=list)  # batches not hashed yet
    buffered: int = 0  # values (not nulls) in ``buffer``
    buffered_bytes: int = 0
    merged: Values | None = None  # distinct values so far, in order of first appearance
    pending: list[Values] = field(default_factory=list)  # distinct values of later groups
    pending_count: int = 0
    pending_bytes: int = 0
    fresh: bool = False  # most values are new: batches go straight to ``merged``, unhashed
    novelty: float = 1.0  # new distinct values per value at the last merge (``fresh`` only)
    single: Any = None  # the one value of a text column so far: batches checked by equality
    distinct: int = 0
    exact: bool = True
    sample: Values | None = None  # the first distinct values, for examples and semantics
    comparable: bool = True


class ProfileBuilder:
    """Accumulates :class:`ColumnProfile` statistics batch after batch."""

    def __init__(
        self,
        types: Sequence[ColumnType] | None = None,
        *,
        distinct_limit: int = DISTINCT_LIMIT,
        distinct_bytes: int = DISTINCT_BYTES,
        semantic_sample: int = semantic.MAX_DISTINCT,
        use_reference: bool = True,
    ) -> None:
        self._kinds = {t.name: t.kind for t in types or ()}
        self._distinct_limit = distinct_limit
        self._distinct_bytes = distinct_bytes
        self._semantic_sample = semantic_sample
        self._use_reference = use_reference
        self._group_rows = GROUP_ROWS
        self._group_bytes = GROUP_BYTES
        self._columns: dict[str, _ColumnState] = {}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add the rows of one (converted) batch."""
        for field_, column in zip(batch.schema, batch.columns, strict=True):
            name = field_.name
            state = self._columns.get(name)
            if state is None:
                kind = self._kinds.get(name) or _kind_of(field_.type)
                comparable = kind != "geometry" and _is_comparable(field_.type)
                state = _ColumnState(name, kind, comparable=comparable)
                self._columns[name] = state
            if isinstance(column, pa.ChunkedArray):
                for chunk in column.chunks:
                    self._update_column(state, chunk)
            else:
                self._update_column(state, cast("Values", column))

    def _update_column(self, state: _ColumnState, array: Values) -> None:
        state.rows += len(array)
        state.nulls += array.null_count
        values = len(array) - array.null_count
        if not values:
            return
        if not state.exact:
            self._extremes_past(state, array)
            return
        single = state.single
        if single is not None:
            # A constant column: one comparison per value instead of a hash.
            if single.type == array.type and pc.equal(array, single).true_count == values:
                return
            state.single = None
        state.buffer.append(array)
        state.buffered += values
        state.buffered_bytes += array.nbytes
        if state.fresh:
            # Merged once the distinct count may pass a limit (predicted from the last merge),
            # at least a quarter of the values already merged (each value is hashed few times).
            merged = state.merged
            known, known_bytes = (0, 0) if merged is None else (len(merged), merged.nbytes)
            if state.buffered_bytes > self._distinct_bytes or (
                state.buffered * 4 >= known
                and (
                    known + state.novelty * state.buffered > self._distinct_limit
                    or known_bytes + state.novelty * state.buffered_bytes > self._distinct_bytes
                )
            ):
                self._merge(state)
        elif state.buffered >= self._group_rows or state.buffered_bytes >= self._group_bytes:
            self._flush(state)

    def _flush(self, state: _ColumnState) -> None:
        """Hash the buffered batches together (one hash per value) into ``pending``."""
        if not state.buffer:
            return
        first = state.merged is None and not state.pending
        buffer, hashed = state.buffer, state.buffered
        state.buffer, state.buffered, state.buffered_bytes = [], 0, 0
        unique = _unique(buffer)
        if unique.null_count:
            unique = unique.drop_null()
        # The extremes of the distinct values are the column's: far fewer values to compare.
        self._extremes(state, unique)
        state.pending.append(unique)
        state.pending_count += len(unique)
        state.pending_bytes += unique.nbytes
        if first and len(unique) == 1 and _is_text(unique.type):
            state.single = unique[0]
        if first and len(unique) > FRESH_SHARE * hashed:
            # Mostly distinct values (identifiers, amounts): later batches are merged directly,
            # fewer and larger hashes instead of one per group and one more to merge the groups.
            state.fresh = True
            state.novelty = len(unique) / hashed
            self._merge(state)
        elif state.pending_count > self._distinct_limit or (
            state.pending_bytes > self._distinct_bytes
        ):
            self._merge(state)

    def _merge(self, state: _ColumnState) -> None:
        """Merge the pending distinct values (and, for a fresh column, the buffered batches);
        give up exactness past the limits."""
        raw = state.buffer if state.fresh else []
        for array in raw:
            self._extremes_past(state, array)
        parts = [*([] if state.merged is None else [state.merged]), *state.pending, *raw]
        known = 0 if state.merged is None else len(state.merged)
        hashed = state.buffered if raw else 0
        if raw:
            state.buffer, state.buffered, state.buffered_bytes = [], 0, 0
        state.pending, state.pending_count, state.pending_bytes = [], 0, 0
        if not parts:
            return
        merged = parts[0] if len(parts) == 1 else _unique(parts)
        if merged.null_count:
            merged = merged.drop_null()
        if len(merged) > self._distinct_limit or merged.nbytes > self._distinct_bytes:
            # ``distinct`` is now a lower bound; the first distinct values are all known.
            state.exact = False
            state.distinct = len(merged)
            state.sample = merged.slice(0, self._semantic_sample)
            state.merged = None
            return
        state.merged = merged
        if hashed:
            state.novelty = (len(merged) - known) / hashed
            state.fresh = state.novelty > FRESH_SHARE

    @staticmethod
    def _extremes(state: _ColumnState, values: Values) -> None:
        if not state.comparable or values.null_count >= len(values):
            return
        extremes = pc.min_max(values)
        low, high = extremes["min"], extremes["max"]
        if low.is_valid and (state.low is None or low.as_py() < state.low.as_py()):
            state.low = low
        if high.is_valid and (state.high is None or high.as_py() > state.high.as_py()):
            state.high = high

    @classmethod
    def _extremes_past(cls, state: _ColumnState, values: Values) -> None:
        """Extremes of values not reduced to distinct ones: comparing every value to the current
        extremes is cheaper than ``min_max``, and few values pass."""
        if not state.comparable:
            return
        low, high = state.low, state.high
        if low is None or high is None or low.type != values.type or high.type != values.type:
            cls._extremes(state, values)
            return
        lower = values.filter(pc.less(values, low))
        if len(lower):
            cls._extremes(state, lower)
        higher = values.filter(pc.greater(values, high))
        if len(higher):
            cls._extremes(state, higher)

    def finish(self) -> list[ColumnProfile]:
        """The profiles, in column order."""
        profiles = []
        for state in self._columns.values():
            if state.exact:
                if not state.fresh:
                    self._flush(state)
                self._merge(state)
            if state.exact:
                state.distinct = 0 if state.merged is None else len(state.merged)
                if state.merged is not None:
                    state.sample = state.merged.slice(0, self._semantic_sample)
            found = None
            if state.sample is not None and len(state.sample):
                found = semantic.detect(state.sample, state.name, use_reference=self._use_reference)
            examples: tuple[str, ...] = ()
            if state.sample is not None:
                examples = tuple(_text(v) for v in state.sample.slice(0, EXAMPLES).to_pylist())
            profiles.append(
                ColumnProfile(
                    name=state.name,
                    kind=state.kind,
                    rows=state.rows,
                    null_count=state.nulls,
                    distinct_count=state.distinct,
                    distinct_exact=state.exact,
                    min=None if state.low is None else _text(state.low.as_py()),
                    max=None if state.high is None else _text(state.high.as_py()),
                    examples=examples,
                    semantic=found.label if found else None,
                    semantic_confidence=found.confidence if found else None,
                )
            )
        return profiles


def profile_table(
    table: pa.Table | pa.RecordBatch, types: Sequence[ColumnType] | None = None
) -> list[ColumnProfile]:
    """Profiles of a whole (converted) table in one call."""
    builder = ProfileBuilder(types)
    builder.update(table)
    return builder.finish()


def _unique(arrays: list[Values]) -> Values:
    """Distinct values of consecutive arrays, in order of first appearance (one hash table)."""
    return cast("Values", pc.unique(arrays[0] if len(arrays) == 1 else pa.chunked_array(arrays)))


def _kind_of(data_type: pa.DataType) -> Kind:
    if pa.types.is_integer(data_type):
        return "integer"
    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "number"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_date(data_type):
        return "date"
    if pa.types.is_timestamp(data_type):
        return "datetime"
    return "string"


def _is_text(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def _is_comparable(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_date(data_type)
        or pa.types.is_timestamp(data_type)
        or pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
    )


def _text(value: object) -> str:
    """A value as profile text: ISO 8601 dates, ``true``/``false``, shortest float repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
