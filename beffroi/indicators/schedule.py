"""The background recomputation of indicators (a tick of the web server's scheduler).

Every ``BEFFROI_INDICATORS_REFRESH_S`` seconds the :class:`beffroi.jobs.JobRunner`'s
scheduler thread calls :func:`tick`: the stale indicators (a source published a new
version) are recomputed, and each indicator's sources are checked against their declared
update frequency; a late source raises an alert once per publication: an in-app record
(:class:`~beffroi.catalog.models.IndicatorSourceAlert`, listed with the threshold alerts)
whose unique key also keeps a restart from repeating the e-mail and the webhook.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.catalog.db import transaction
from beffroi.catalog.models import Indicator, IndicatorSourceAlert
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
                if not source["late"] or key in notified or _recorded(session, *key):
                    continue
                notified.add(key)
                session.add(
                    IndicatorSourceAlert(
                        indicator_id=indicator.id,
                        dataset=source["dataset"],
                        frequency=source["frequency"],
                        published_at=key[2],
                    )
                )
                late.append(notify.late_payload(indicator, source))
                log.warning("source %s of %s is late", source["dataset"], indicator.code)
            notify.after_commit(session, settings, indicator, late)
    return len(runs)


def _recorded(session: Session, indicator_id: int, dataset: str, published_at: str) -> bool:
    found = session.scalar(
        select(IndicatorSourceAlert.id).where(
            IndicatorSourceAlert.indicator_id == indicator_id,
            IndicatorSourceAlert.dataset == dataset,
            IndicatorSourceAlert.published_at == published_at,
        )
    )
    return found is not None
