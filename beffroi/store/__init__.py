"""Versioned tables: one table per dataset, one immutable version per upload."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beffroi.settings import Settings
    from beffroi.store.interfaces import VersionStore


def store_for(settings: Settings) -> VersionStore:
    """The instance's version store (local Delta Lake tables under the data directory)."""
    from beffroi.store.local import LocalDeltaStore  # noqa: PLC0415 - heavy import, on demand

    return LocalDeltaStore(settings.data_dir / "tables")
