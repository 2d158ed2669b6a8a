"""The background recomputation of indicators (a tick of the web server's scheduler).

Every ``BEFFROI_INDICATORS_REFRESH_S`` seconds the :class:`beffroi.jobs.JobRunner`'s
scheduler thread calls :func:`tick`: the stale indicators (a source published a new
version) are recomputed, and each indicator's sources are checked against their declared
update frequency; a late source raises an alert once per publication (remembered by the
process: a restart may repeat it once).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.catalog.db import transaction
from beffroi.catalog.models import Indicator
from beffroi.indicators import notify
from beffroi.settings import Settings

log = logging.getLogger(__name__)

TRIGGER = "recalcul planifié (publication d'une source)"


def tick(
    factory: sessionmaker[Session], settings: Settings, notified: set[tuple[int, str, str]]
) -> int:
    """Recompute the stale indicators and raise the late-source alerts; computations run.

    ``notified`` holds the (indicator, dataset, publication) already alerted as late.
    """
    from beffroi.indicators.compute import refresh_stale  # noqa: PLC0415 - DuckDB on demand
    from beffroi.indicators.services import source_freshness  # noqa: PLC0415

    with transaction(factory) as session:
        runs = refresh_stale(session, settings, trigger=TRIGGER)
    with transaction(factory) as session:
        for indicator in session.scalars(select(Indicator).order_by(Indicator.code)):
            late = []
            for source in source_freshness(session, indicator):
                key = (indicator.id, source["dataset"], str(source["published_at"]))
                if source["late"] and key not in notified:
                    notified.add(key)
                    late.append(notify.late_payload(indicator, source))
                    log.warning("source %s of %s is late", source["dataset"], indicator.code)
            notify.after_commit(session, settings, indicator, late)
    return len(runs)
