"""Marking indicators stale when a source dataset publishes a version (light: no DuckDB).

:func:`beffroi.catalog.versions.publish_version` calls :func:`mark_sources_changed`; the
stale indicators are recomputed by :func:`beffroi.indicators.compute.refresh_stale`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.catalog.models import Dataset, Indicator, utcnow


def mark_sources_changed(session: Session, dataset: Dataset) -> int:
    """Mark the indicators reading ``dataset`` stale; how many were marked."""
    count = 0
    for indicator in session.scalars(select(Indicator).where(Indicator.stale_since.is_(None))):
        if dataset.slug in (indicator.sources or []):
            indicator.stale_since = utcnow()
            count += 1
    return count
