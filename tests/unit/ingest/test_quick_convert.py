"""The quick conversions (decimal comma, integers, fixed-width dates) give exactly what the
checked path gives: same values, same nulls, same error (row and message)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beffroi.errors import InvalidFileError
from beffroi.ingest import infer
from beffroi.ingest.infer import NULL_TOKENS, ColumnType, convert

NUMBER_TEXTS = [
    "1", "+1", "-1", "1,", ",5", "1,5e3", "1e5", "-0", "00012", "1e999", "nan", "NaN", "inf",
    "1.5", "1.234,5", "1,5,5", ",", "e5", "1e", "1 500", "1\u00a0500,25", "\u22121", "\u0661",
    "\uff11", "2 500,00", " 12,5", "12,5 ", "-", "N/A", "?", "9223372036854775808", None, "",
]  # fmt: skip

DATE_TEXTS = [
    "15/09/2020", "29/02/2024", "29/02/2023", "29/02/2000", "29/02/1900", "31/04/2021",
    "31/12/9999", "01/01/0001", "01/01/0000", "00/01/2020", "01/00/2020", "01/13/2020",
    "32/01/2020", "1/2/2020", "15-09-2020", "15/09/20", " 15/09/2020", "15/09/2020 ",
    "15/09/202a", "15/0:/2020", "\u0661\u0665/09/2020", "NA", "-", None, "",
]  # fmt: skip

NUMBER = ColumnType(
    "montant", "number", decimal_mark=",", group_char=infer.SPACES, null_values=NULL_TOKENS
)
INTEGER = ColumnType("nombre", "integer", group_char=infer.SPACES, null_values=NULL_TOKENS)
DATE = ColumnType("dateConvention", "date", date_format="%d/%m/%Y", null_values=NULL_TOKENS)


def _outcome(column: pa.Array[Any], column_type: ColumnType) -> Any:
    batch = pa.RecordBatch.from_arrays([column], names=[column_type.name])
    try:
        values = convert(batch, [column_type], row_offset=1000).column(0)
    except InvalidFileError as error:
        return ("error", str(error), error.details)
    if pa.types.is_date32(values.type):  # as days: year 0 has no datetime.date
        values = values.cast(pa.int32())
        return ("date32[day]", values.to_pylist())
    return (
        str(values.type),
        [("nan",) if isinstance(v, float) and math.isnan(v) else v for v in values.to_pylist()],
    )


def _both(column: pa.Array[Any], column_type: ColumnType) -> tuple[Any, Any]:
    quick = _outcome(column, column_type)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(infer, "_quick_convert", lambda _column, _type: None)
        checked = _outcome(column, column_type)
    return quick, checked


def _days(*days: dt.date | None) -> list[int | None]:
    return [None if day is None else (day - dt.date(1970, 1, 1)).days for day in days]


def _column(values: Sequence[str | None], *, sliced: bool = False) -> pa.Array[Any]:
    if not sliced:
        return pa.array(values, pa.string())
    return pa.array(["1,5", None, "x", *values, "y"], pa.string()).slice(3, len(values))


@pytest.mark.parametrize("sliced", [False, True])
@pytest.mark.parametrize("column_type", [NUMBER, INTEGER], ids=["number", "integer"])
@pytest.mark.parametrize("value", NUMBER_TEXTS)
def test_each_number_text(value: str | None, column_type: ColumnType, sliced: bool) -> None:
    for values in (["12,5", value, "3"], ["12", value, "3"], [value]):
        quick, checked = _both(_column(values, sliced=sliced), column_type)
        assert quick == checked


@pytest.mark.parametrize("sliced", [False, True])
@pytest.mark.parametrize("value", DATE_TEXTS)
def test_each_date_text(value: str | None, sliced: bool) -> None:
    for values in (["15/09/2020", value, "01/01/1970"], [value], [None, value]):
        quick, checked = _both(_column(values, sliced=sliced), DATE)
        assert quick == checked


@pytest.mark.parametrize(
    "date_format", ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%m/%d/%Y", "%Y-%m-%d"]
)
def test_date_layouts(date_format: str) -> None:
    days = [dt.date(1, 1, 1), dt.date(1969, 12, 31), dt.date(2000, 2, 29), dt.date(9999, 12, 31)]
    days += [dt.date(1582, 10, 10), dt.date(2024, 3, 1), dt.date(1970, 1, 1)]
    texts: list[str | None] = [
        day.strftime(date_format.replace("%Y", f"{day.year:04d}")) for day in days
    ]
    column_type = ColumnType("d", "date", date_format=date_format)
    assert infer.date_layout(date_format) is not None
    quick, checked = _both(_column([*texts, None]), column_type)
    assert quick == checked == ("date32[day]", _days(*days, None))


def test_impossible_date_keeps_its_error() -> None:
    values = ["15/09/2020"] * 5 + ["31/02/2024"] + ["15/09/2020"] * 3
    quick, checked = _both(_column(values), DATE)
    assert quick == checked
    assert quick[0] == "error"
    assert quick[2]["row"] == 1005
    assert "31/02/2024" in quick[1]


def test_null_tokens_with_digits_take_the_checked_path() -> None:
    declared = ColumnType("n", "number", decimal_mark=",", null_values=("0", "99,9"))
    quick, checked = _both(_column(["1,5", "0", "99,9"]), declared)
    assert quick == checked == ("double", [1.5, None, None])
    dates = ColumnType("d", "date", date_format="%d/%m/%Y", null_values=("01/01/1900",))
    quick, checked = _both(_column(["02/01/1900", "01/01/1900"]), dates)
    assert quick == checked == ("date32[day]", _days(dt.date(1900, 1, 2), None))


def test_layouts_refused() -> None:
    for date_format in ("%d/%m/%y", "%d %m %Y", "%d/%m/%Y %H:%M", "%d%m%Y1", "%b %Y", "%d/%d/%Y"):
        assert infer.date_layout(date_format) is None
    assert infer.date_layout("%d%m%Y") is not None


def test_the_quick_paths_are_taken() -> None:
    # A failure here means the quick paths stopped applying (the other tests would still pass).
    assert infer._quick_convert(_column(["12,5", None, "3"]), NUMBER) is not None
    assert infer._quick_convert(_column(["12", None, "-3"]), INTEGER) is not None
    assert infer._quick_convert(_column(["15/09/2020", None]), DATE) is not None
    assert infer._quick_convert(_column(["15/09/2020", None], sliced=True), DATE) is not None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789+-.,eE /na\u2212", max_size=11) | st.none()))
def test_random_numbers(values: list[str | None]) -> None:
    for column_type in (NUMBER, INTEGER):
        quick, checked = _both(_column(values), column_type)
        assert quick == checked


_DIGIT = st.sampled_from("0123456789")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            lambda day, month, year, sep: f"{day}{sep}{month}{sep}{year}",
            st.text(_DIGIT, min_size=2, max_size=2),
            st.text(_DIGIT, min_size=1, max_size=2),
            st.text(_DIGIT, min_size=4, max_size=4),
            st.sampled_from(["/", "/", "/", "-"]),
        )
        | st.none(),
        max_size=6,
    )
)
def test_random_dates(values: list[str | None]) -> None:
    quick, checked = _both(_column(values), DATE)
    assert quick == checked
