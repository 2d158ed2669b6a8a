"""Distinct counts, examples and extremes of profiles against a plain-Python reference, across the
ways batches are hashed: groups, constant columns, fresh columns (mostly distinct values)."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest

from beffroi.ingest import profile as profile_module
from beffroi.ingest.profile import ColumnProfile, ProfileBuilder


def _profile(
    batches: list[list[Any]], data_type: pa.DataType, *, limit: int, sample: int = 50
) -> ColumnProfile:
    builder = ProfileBuilder(distinct_limit=limit, semantic_sample=sample, use_reference=False)
    for values in batches:
        builder.update(pa.table({"c": pa.array(values, data_type)}))
    (result,) = builder.finish()
    return result


def _check(batches: list[list[Any]], data_type: pa.DataType, limit: int) -> ColumnProfile:
    result = _profile(batches, data_type, limit=limit)
    seen = list(dict.fromkeys(v for values in batches for v in values if v is not None))
    flat = [v for values in batches for v in values]
    assert result.rows == len(flat)
    assert result.null_count == flat.count(None)
    if len(seen) <= limit:
        assert (result.distinct_count, result.distinct_exact) == (len(seen), True)
    else:
        assert result.distinct_exact is False
        assert limit < result.distinct_count <= len(seen)  # a lower bound past the limit
    expected_examples = tuple(str(v) for v in seen[: profile_module.EXAMPLES])
    assert result.examples == expected_examples  # the first distinct values, in order
    if seen:
        assert (result.min, result.max) == (str(min(seen)), str(max(seen)))
    return result


@pytest.fixture(autouse=True)
def _small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_module, "GROUP_ROWS", 40)


@pytest.mark.parametrize("seed", range(12))
def test_distinct_counts_match_a_reference(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (test data)
    cardinality = rng.choice([1, 3, 30, 300, 3000])
    null_share = rng.choice([0.0, 0.2, 1.0])
    batches = [
        [
            None if rng.random() < null_share else f"v{rng.randrange(cardinality):05d}"
            for _ in range(rng.randrange(0, 60))
        ]
        for _ in range(rng.randrange(1, 40))
    ]
    _check(batches, pa.string(), limit=rng.choice([5, 50, 500]))


def test_identifiers_then_repeats() -> None:
    """A fresh column (all distinct at first) whose later batches repeat earlier values."""
    ids = [list(range(start, start + 30)) for start in range(0, 300, 30)]
    _check(ids + ids[::-1], pa.int64(), limit=300)  # exactly the limit: still exact
    result = _check([*ids, [300]], pa.int64(), limit=300)  # one more: not exact
    assert result.distinct_count == 301
    _check(ids + ids, pa.int64(), limit=1_000)


def test_constant_column_with_a_late_new_value() -> None:
    batches: list[list[Any]] = [["même"] * 50 for _ in range(6)]
    batches += [["même", None, "autre"], ["même"] * 10]
    result = _check(batches, pa.string(), limit=100)
    assert result.examples == ("même", "autre")
    assert (result.min, result.max) == ("autre", "même")


def test_extremes_after_the_limit() -> None:
    """Past the limit the extremes still cover every value, nulls and NaN left out."""
    batches: list[list[Any]] = [[float(n) for n in range(k * 40, k * 40 + 40)] for k in range(5)]
    batches += [[None, float("nan"), -5.5, 3.0], [1e9, None]]
    result = _profile(batches, pa.float64(), limit=50)
    assert result.distinct_exact is False
    assert (result.min, result.max) == ("-5.5", "1000000000")


def test_distinct_bytes_limit() -> None:
    builder = ProfileBuilder(distinct_bytes=4_000, use_reference=False)
    for start in range(0, 2_000, 100):
        texts = [f"texte-{n:06d}" for n in range(start, start + 100)]
        builder.update(pa.table({"t": pa.array(texts)}))
    (result,) = builder.finish()
    assert result.distinct_exact is False
    assert 0 < result.distinct_count <= 2_000
    assert (result.min, result.max) == ("texte-000000", "texte-001999")


def test_chunked_table_columns() -> None:
    table = pa.concat_tables(
        [pa.table({"c": pa.array(["b", "a", None])}), pa.table({"c": pa.array(["c", "a"])})]
    )
    builder = ProfileBuilder(use_reference=False)
    builder.update(table)
    (result,) = builder.finish()
    assert (result.distinct_count, result.examples, result.null_count) == (3, ("b", "a", "c"), 1)
