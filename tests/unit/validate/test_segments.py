"""Large UTF-8 CSV files are parsed in segments on several threads: the rows, their numbers,
the irregular rows and the errors must be those of the one-reader path, whatever the quoting."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from beffroi.errors import BeffroiError
from beffroi.ingest import sniff
from beffroi.validate import table as table_module
from beffroi.validate.table import open_raw

TOKENS = [
    "abc",
    "",
    "12,5",
    '"quoted, with comma"',
    '"multi\nline"',
    '"multi\r\nline\r\n"',
    '"with ""double"" quotes"',
    'mid"quote',
    '"closed"then"text',
    '""',
    '"\n"',
    "é€ß",
    " spaced ",
    '"a""',
]
ENDS = ["\n", "\r\n", "\r"]


def _random_csv(seed: int, delimiter: str = ",") -> str:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    lines = [delimiter.join(["a", "b", "c"]) + "\n"]
    for _ in range(rng.randint(40, 160)):
        roll = rng.random()
        if roll < 0.05:
            lines.append(rng.choice(ENDS))  # blank line
            continue
        width = 3 if roll < 0.8 else rng.choice([1, 2, 4, 5])
        cells = [rng.choice(TOKENS).replace(",", delimiter) for _ in range(width)]
        end = rng.choice(ENDS) if rng.random() < 0.2 else "\n"
        lines.append(delimiter.join(cells) + end)
    text = "".join(lines)
    if rng.random() < 0.1:
        text += '"unterminated\nfield,x\n'
    elif rng.random() < 0.5:
        text = text.rstrip("\r\n")  # no line end after the last record
    return text


def _rows(path: Path) -> list[dict[str, Any]]:
    table = open_raw(path)
    batches = list(table.batches())
    if not batches:
        return []
    # Irregular rows come after the regular ones of their batch: compare in row order.
    return sorted(pa.Table.from_batches(batches).to_pylist(), key=lambda row: row["_row"])


def _outcome(path: Path) -> Any:
    try:
        return _rows(path)
    except BeffroiError as error:
        return ("error", error.message)


@pytest.fixture
def tiny_segments(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Segments of a few hundred bytes (many per test file); counts the pieces parsed."""
    parsed: list[int] = []
    original = table_module._parse_piece

    def counting(data: memoryview, *args: Any) -> Any:
        parsed.append(len(data))
        return original(data, *args)

    monkeypatch.setattr(table_module, "SEGMENT_BYTES", 200)
    monkeypatch.setattr(table_module, "_parse_piece", counting)
    return parsed


def _serial(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(table_module, "SEGMENT_BYTES", 1 << 40)
        return _outcome(path)


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_segments_read_what_one_reader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_segments: list[int], delimiter: str
) -> None:
    for seed in range(120):
        path = tmp_path / f"f{seed}.csv"
        path.write_bytes(_random_csv(seed, delimiter).encode("utf-8"))
        expected = _serial(path, monkeypatch)
        tiny_segments.clear()
        assert _outcome(path) == expected, seed
        assert len(tiny_segments) > 1, seed  # the segmented path did run


def test_many_quotes_leave_the_rest_to_one_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_segments: list[int]
) -> None:
    monkeypatch.setattr(table_module, "SEGMENT_QUOTES", 4)
    text = "a,b,c\n" + "x,y,z\n" * 100 + '"q","r","s"\n' * 50 + 'u,"v\nw",t\n' * 20
    path = tmp_path / "quotes.csv"
    path.write_text(text, encoding="utf-8")
    expected = _serial(path, monkeypatch)
    tiny_segments.clear()
    rows = _outcome(path)
    assert rows == expected
    assert 1 < len(tiny_segments) < len(text) // 200  # segments first, then one reader
    assert rows[-1]["_row"] == 171  # header row 1, then 170 records


def test_segment_errors_name_the_rows_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_segments: list[int]
) -> None:
    # Not UTF-8 after the sniffed sample (it says UTF-8).
    monkeypatch.setattr(sniff, "SAMPLE_BYTES", 600)
    body = b"a,b,c\n" + b"x,y,z\n" * 300 + b"x,\xff\xfe,z\n" + b"x,y,z\n" * 50
    path = tmp_path / "latin.csv"
    path.write_bytes(body)
    expected = _serial(path, monkeypatch)
    assert isinstance(expected, tuple)
    assert "Row #301" in expected[1]
    assert _outcome(path) == expected
    assert len(tiny_segments) > 1


def test_record_end_follows_arrow_quoting() -> None:
    end = table_module._record_end
    quote, comma = ord('"'), ord(",")
    assert end(b"a,b\nc,d\ne", quote, comma) == 8
    assert end(b'a,"b\nc",d\ne,"f\n', quote, comma) == 10  # the last line end is quoted
    assert end(b'a,b"c\nd,e\n"f', quote, comma) == 10  # mid-field quote: text
    assert end(b'"x""\n"\n', quote, comma) == 7  # doubled quote inside a field
    assert end(b'"x"\n', quote, comma) == 4
    assert end(b'"abc\ndef', quote, comma) == 0


def test_a_prefetch_reads_the_same_rows_and_can_be_stopped(tmp_path: Path) -> None:
    """``beffroi validate`` starts reading before DuckDB is imported: the chunks are those
    of a reading started on demand, and a prefetch nobody consumes stops when closed."""
    path = tmp_path / "big.csv"
    path.write_text(_random_csv(3), encoding="utf-8")
    on_demand = pa.concat_tables(open_raw(path).chunks())
    early = open_raw(path)
    early.prefetch()
    assert pa.concat_tables(early.chunks()).equals(on_demand)
    unused = open_raw(path)
    unused.prefetch()
    worker = unused._prefetch._worker  # type: ignore[union-attr]
    unused.close()
    assert not worker.is_alive()


def test_the_reading_module_does_not_import_duckdb() -> None:
    """What lets the CLI read while DuckDB loads: ``beffroi.validate.table`` (and the
    package's names for schemas and reports) come without the engine."""
    import subprocess
    import sys

    code = (
        "import sys, beffroi.validate.table, beffroi.validate.schema; "
        "from beffroi.validate import Schema, Report, load_schema; "
        "print('duckdb' in sys.modules, 'beffroi.validate.engine' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
    from beffroi.validate import Options, validate_table

    assert callable(validate_table)
    assert Options().max_errors > 0
