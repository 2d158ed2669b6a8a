"""The threaded stages of an ingestion: order, bounded read-ahead, errors, early stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from beffroi.ingest.stages import mapped, staged


def test_order_and_values_are_kept_through_several_stages() -> None:
    squares = mapped(staged(range(1000), depth=2), lambda n: n * n, depth=3)
    assert list(squares) == [n * n for n in range(1000)]


def test_each_stage_runs_in_its_own_thread() -> None:
    threads: set[str] = set()

    def record(n: int) -> int:
        threads.add(threading.current_thread().name)
        return n

    assert list(mapped(range(5), record, name="stage-x")) == list(range(5))
    assert threads == {"stage-x"}


def test_read_ahead_is_bounded() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for n in range(100):
            produced.append(n)
            yield n

    stream = staged(source(), depth=2)
    assert next(stream) == 0
    time.sleep(0.3)  # the producer runs ahead as far as it may
    # one handed out, two in the queue, one produced and waiting to be queued
    assert len(produced) <= 4
    assert list(stream) == list(range(1, 100))


def test_an_error_in_a_stage_reaches_the_consumer_after_the_good_items() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("ligne 3 illisible")

    stream = mapped(staged(source()), lambda n: n * 10)
    assert next(stream) == 10
    assert next(stream) == 20
    with pytest.raises(ValueError, match="ligne 3 illisible"):
        next(stream)


def test_an_early_stop_closes_the_source_in_its_thread() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    stream = staged(source(), depth=2)
    for n in stream:
        if n == 5:
            break
    stream.close()  # what a for loop's consumer does when it fails downstream
    assert closed.wait(2)
    assert not [t for t in threading.enumerate() if t.name == "beffroi-stage"]


def test_closing_a_stage_never_read_stops_its_threads() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.set()

    stream = mapped(staged(source(), depth=2, name="never-read"), lambda n: n, name="never-map")
    time.sleep(0.2)  # both stages fill their queues and wait
    stream.close()  # type: ignore[attr-defined]
    assert closed.wait(5)
    assert not [t for t in threading.enumerate() if t.name in {"never-read", "never-map"}]
