"""Column profiles of a version: null share, distinct count, min/max, examples, semantic type.

Built in one streaming pass over the converted batches (bounded memory)::

    builder = ProfileBuilder(types)
    for batch in batches:
        builder.update(batch)
    profiles = [p.as_dict() for p in builder.finish()]

Each update is vectorised (``pyarrow.compute``: ``unique``, ``min_max``, ``count``). The distinct
count is exact while a column has at most ``distinct_limit`` distinct values (200,000 by
default) taking at most ``distinct_bytes`` (8 MB; the distinct values are kept to merge
batches); past that the count stops growing,
``distinct_exact`` becomes ``False`` and ``distinct_count`` is a lower bound. The semantic type
(:mod:`beffroi.ingest.semantic`) is detected at the end from the first 5,000 distinct values.
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
    low: Any = None
    high: Any = None
    uniques: list[Values] = field(default_factory=list)
    pending: int = 0  # values in ``uniques`` not yet merged
    distinct: int = 0  # distinct count once merged (a lower bound when not exact)
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
        self._columns: dict[str, _ColumnState] = {}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add the rows of one (converted) batch."""
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            array: Values = (
                column.combine_chunks()
                if isinstance(column, pa.ChunkedArray)
                else cast("Values", column)
            )
            state = self._columns.get(name)
            if state is None:
                kind = self._kinds.get(name) or _kind_of(array.type)
                comparable = kind != "geometry" and _is_comparable(array.type)
                state = _ColumnState(name, kind, comparable=comparable)
                self._columns[name] = state
            self._update_column(state, array)

    def _update_column(self, state: _ColumnState, array: Values) -> None:
        state.rows += len(array)
        state.nulls += array.null_count
        if not state.exact:
            self._extremes(state, array)
            return
        # Distinct values first, nulls dropped from the (much shorter) result: a copy less.
        unique = pc.unique(array)
        if unique.null_count:
            unique = unique.drop_null()
        # The extremes of the distinct values are the column's: far fewer strings to compare.
        self._extremes(state, unique)
        if state.sample is None or len(state.sample) < self._semantic_sample:
            state.sample = _merge(state.sample, unique, self._semantic_sample)
        state.uniques.append(unique)
        state.pending += len(unique)
        if state.pending > max(state.distinct, 65_536):
            self._compact(state)

    @staticmethod
    def _extremes(state: _ColumnState, values: Values) -> None:
        if not state.comparable or values.null_count >= len(values):
            return
        extremes = pc.min_max(values)
        low, high = extremes["min"].as_py(), extremes["max"].as_py()
        if low is not None and (state.low is None or low < state.low):
            state.low = low
        if high is not None and (state.high is None or high > state.high):
            state.high = high

    def _compact(self, state: _ColumnState) -> None:
        """Merge the pending distinct values; give up exactness past the limits."""
        state.pending = 0
        if not state.uniques:
            return
        merged = pc.unique(pa.concat_arrays(state.uniques))
        state.distinct = max(state.distinct, len(merged))
        if len(merged) > self._distinct_limit or merged.nbytes > self._distinct_bytes:
            state.exact = False  # ``distinct`` is now a lower bound
            state.uniques = []
            return
        state.uniques = [merged]

    def finish(self) -> list[ColumnProfile]:
        """The profiles, in column order."""
        profiles = []
        for state in self._columns.values():
            self._compact(state)
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
                    min=None if state.low is None else _text(state.low),
                    max=None if state.high is None else _text(state.high),
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


def _merge(sample: Values | None, unique: Values, limit: int) -> Values:
    if sample is None:
        return unique.slice(0, limit)
    merged = pc.unique(pa.concat_arrays([sample, unique]))
    return merged.slice(0, limit)


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
