"""The GIL switch interval is lowered while an ingestion reads, and restored after."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from beffroi.errors import BeffroiError
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.pipeline import SWITCH_INTERVAL, ReadAhead, _prepare


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "a.csv"
    path.write_text("code,montant\n" + "".join(f"C{i},{i}.5\n" for i in range(2000)))
    return path


@pytest.fixture(autouse=True)
def default_interval() -> object:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield
    sys.setswitchinterval(before)


def test_lowered_while_reading_then_restored(csv_file: Path) -> None:
    prepared = _prepare(csv_file, ReadOptions(), None)
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    assert sum(batch.num_rows for batch in prepared.typed) == 2000
    prepared.close()
    assert sys.getswitchinterval() == pytest.approx(0.005)
    prepared.close()  # closing twice gives nothing back twice
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_two_readings_restore_once_both_closed(csv_file: Path) -> None:
    first = ReadAhead(csv_file)
    second = ReadAhead(csv_file)
    first.take()
    second.take()
    first.close()
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    second.close()
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_restored_when_the_file_cannot_be_read(tmp_path: Path) -> None:
    ahead = ReadAhead(tmp_path / "absent.csv")
    with pytest.raises(BeffroiError):
        ahead.take()
    ahead.close()
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_an_interval_set_meanwhile_is_kept(csv_file: Path) -> None:
    prepared = _prepare(csv_file, ReadOptions(), None)
    sys.setswitchinterval(0.001)  # someone else's choice, made during the reading
    prepared.close()
    assert sys.getswitchinterval() == pytest.approx(0.001)
