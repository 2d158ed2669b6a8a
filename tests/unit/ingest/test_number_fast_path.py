"""Decimal numbers read by Arrow's parser directly give what the checked (regex) path gives."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beffroi.errors import InvalidFileError
from beffroi.ingest import infer
from beffroi.ingest.infer import ColumnType, convert

TRICKY = [
    "1", "+1", "-1", "1.", ".5", "1e5", "1E-5", "-0", "00012", "1e999", "nan", "NaN", "inf",
    "-inf", "Infinity", "0x10", "0x1p3", "1_0", "1,5", "1 500", "1\u00a0500.25", "\u22121",
    "\u0661", "\uff11", ".", "e5", "1e", "1.5.5", "+-1", "1d", "1f", "2 500,00",
    "12.50 €", None, "",
]  # fmt: skip


def _outcome(values: list[str | None], column_type: ColumnType) -> Any:
    batch = pa.RecordBatch.from_arrays([pa.array(values, pa.string())], names=[column_type.name])
    try:
        column = convert(batch, [column_type]).column(0).to_pylist()
    except InvalidFileError as error:
        return ("error", error.details["row_in_batch"])
    return [("nan",) if isinstance(v, float) and math.isnan(v) else v for v in column]


def _both(values: list[str | None], column_type: ColumnType, monkeypatch: Any) -> tuple[Any, Any]:
    fast = _outcome(values, column_type)
    with monkeypatch.context() as patched:
        patched.setattr(infer, "_finite_decimals", lambda _values: None)  # the checked path
        checked = _outcome(values, column_type)
    return fast, checked


@pytest.mark.parametrize("group_char", ["", " \u00a0\u202f\u2009", ","])
@pytest.mark.parametrize("bare_number", [True, False])
@pytest.mark.parametrize("value", TRICKY)
def test_each_tricky_value(
    value: str | None, group_char: str, bare_number: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    column_type = ColumnType("montant", "number", group_char=group_char, bare_number=bare_number)
    fast, checked = _both(["1.5", value, "2"], column_type, monkeypatch)
    assert fast == checked


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789+-.eE naifx,_\u2212", max_size=8) | st.none()))
def test_random_texts(values: list[str | None]) -> None:
    monkeypatch = pytest.MonkeyPatch()
    try:
        fast, checked = _both(values, ColumnType("n", "number", group_char=" "), monkeypatch)
    finally:
        monkeypatch.undo()
    assert fast == checked
