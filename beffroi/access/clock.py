"""The access layer's clock: validity of agreements is evaluated against it at read time.

Production reads the wall clock (UTC). Tests travel in time with :func:`frozen_at`, so
that an agreement's expiry can be checked without waiting for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from beffroi.catalog.models import utcnow

_source: Callable[[], dt.datetime] = utcnow


def now() -> dt.datetime:
    """The current time (timezone-aware, UTC) as the access layer sees it."""
    return _source()


@contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Make :func:`now` answer ``moment`` while the block runs (tests: time travel)."""
    if moment.tzinfo is None:
        msg = "frozen_at needs a timezone-aware datetime"
        raise ValueError(msg)
    global _source  # noqa: PLW0603 - the one injectable clock of the access layer
    previous = _source
    _source = lambda: moment  # noqa: E731 - a constant clock
    try:
        yield
    finally:
        _source = previous


__all__ = ["frozen_at", "now"]
