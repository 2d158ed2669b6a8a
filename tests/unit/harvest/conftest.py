"""Fixtures of the harvesting unit tests (the publication tests' catalogues)."""

from __future__ import annotations

from tests.unit.publish.conftest import demo

__all__ = ["demo"]
