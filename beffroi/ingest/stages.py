"""Run the steps of an ingestion side by side: each in its own thread, joined by small queues.

Reading (Arrow's CSV parser, transcoding), typing and profiling (``pyarrow.compute``) and the
Delta Lake writer (delta-rs, in Rust) spend most of their time outside the GIL, so on a
machine with two cores or more they overlap instead of waiting for one another::

    for batch in staged(source.batches(), depth=4):  # read in a thread of its own
        ...

Order is kept, memory is bounded (``depth`` batches wait at most per stage), an exception
raised in a stage reaches the consumer unchanged, and a consumer that stops early (an error
downstream, a ``break``) stops the stage: the stage's iterator is closed in its own thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE: Final = object()
_POLL_SECONDS: Final = 0.1


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def staged(items: Iterable[T], *, depth: int = 4, name: str = "beffroi-stage") -> Iterator[T]:
    """``items``, produced ahead in a background thread (at most ``depth`` waiting)."""
    return mapped(items, _identity, depth=depth, name=name)


def mapped(
    items: Iterable[T],
    function: Callable[[T], U],
    *,
    depth: int = 4,
    name: str = "beffroi-stage",
) -> Iterator[U]:
    """``function(item)`` for each item, in order, computed ahead in a background thread."""
    channel: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                channel.put(value, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def work() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if stop.is_set() or not put(function(item)):
                    return
            put(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, re-raised there
            put(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return _Stage(channel, stop, thread)


class _Stage(Iterator[U]):
    """The consumer's end of a stage. ``close()`` stops the stage even before the first
    item was taken (closing a generator that never started would not run its cleanup)."""

    def __init__(
        self, channel: queue.Queue[object], stop: threading.Event, thread: threading.Thread
    ) -> None:
        self._channel, self._stop, self._thread = channel, stop, thread
        self._items: Iterator[U] = _consume(channel, stop, thread)

    def __next__(self) -> U:
        return next(self._items)

    def close(self) -> None:
        """Stop the stage's thread (which closes its own input in turn)."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()
        _shut(self._channel, self._stop, self._thread)


def _consume(
    channel: queue.Queue[object], stop: threading.Event, thread: threading.Thread
) -> Iterator[U]:
    try:
        while True:
            value = channel.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.error
            yield value  # type: ignore[misc]
    finally:
        _shut(channel, stop, thread)


def _shut(channel: queue.Queue[object], stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    # Unblock a producer waiting on a full queue, then let it close its iterator.
    while thread.is_alive():
        try:
            channel.get_nowait()
        except queue.Empty:
            thread.join(_POLL_SECONDS)


def _identity(item: T) -> T:
    return item


__all__ = ["mapped", "staged"]
