"""Publication history of a dataset: which version was the published one at a given moment.

Every publication (also a rollback to an older version) goes through
:func:`beffroi.catalog.versions.publish_version`, which records a ``version.publish`` audit
event (kept forever) under the dataset's slug of the time. The history is those events, under
the current slug and every former one; versions published before the audit trail existed
fall back on their first ``published_at``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.catalog.models import AuditEvent, Dataset, DatasetVersion, SlugRedirect
from beffroi.errors import InvalidInputError, NotFoundError


@dataclass(frozen=True, slots=True)
class Publication:
    """One publication: version ``number`` became the published one ``at``."""

    at: dt.datetime
    number: int


def publications(session: Session, dataset: Dataset) -> list[Publication]:
    """Every publication of the dataset, oldest first."""
    slugs = [
        dataset.slug,
        *session.scalars(
            select(SlugRedirect.old_slug).where(SlugRedirect.dataset_id == dataset.id)
        ),
    ]
    events = session.execute(
        select(AuditEvent.at, AuditEvent.id, AuditEvent.details).where(
            AuditEvent.action == "version.publish",
            AuditEvent.object_type == "dataset",
            AuditEvent.object_id.in_(slugs),
        )
    ).all()
    found = [
        (at, event_id, int(details["version"]))
        for at, event_id, details in events
        if isinstance(details, dict) and isinstance(details.get("version"), int)
    ]
    if not found:  # no audit trail: each version's first publication
        rows = session.execute(
            select(DatasetVersion.published_at, DatasetVersion.id, DatasetVersion.number).where(
                DatasetVersion.dataset_id == dataset.id, DatasetVersion.published_at.is_not(None)
            )
        ).all()
        found = [(at, version_id, number) for at, version_id, number in rows if at is not None]
    found.sort(key=lambda item: (item[0], item[1]))
    return [Publication(at, number) for at, _id, number in found]


def parse_moment(value: str, timezone: str) -> tuple[dt.datetime, bool]:
    """An ``as_of`` value as an aware instant, and whether it was a whole day.

    A date means the end of that day and a datetime without offset is local time, both in
    ``timezone`` (the instance's, Europe/Paris by default). Returns the instant *after*
    which publications do not count (a day: its next midnight, exclusive).
    """
    text = value.strip()
    zone = ZoneInfo(timezone)
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
            return midnight, True
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise InvalidInputError(
            f"as_of invalide : {value!r} (date ou date-heure ISO 8601 attendue)",
            hint="ex. as_of=2026-01-15 (fin de journée) ou as_of=2026-01-15T08:30:00+01:00",
            message_en=f"invalid as_of: {value!r} (an ISO 8601 date or datetime is expected)",
            hint_en="e.g. as_of=2026-01-15 (end of day) or as_of=2026-01-15T08:30:00+01:00",
            details={"errors": [{"field": "as_of", "message": "date ISO 8601 attendue"}]},
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment, False


def version_at(session: Session, dataset: Dataset, value: str, timezone: str) -> int:
    """The number of the version that was published at moment ``value`` (``as_of``), or a
    404 naming the first publication when the dataset was not yet published then."""
    moment, whole_day = parse_moment(value, timezone)
    history = publications(session, dataset)
    current: int | None = None
    for publication in history:
        if publication.at < moment or (not whole_day and publication.at == moment):
            current = publication.number
    if current is None:
        if history:
            first = history[0].at.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")
            hint = f"première publication : {first} ; choisissez un as_of postérieur"
            hint_en = f"first publication: {first}; choose a later as_of"
        else:
            hint = "ce jeu de données n'a jamais été publié"
            hint_en = "this dataset was never published"
        raise NotFoundError(
            f"Le jeu de données {dataset.slug} n'était pas encore publié le {value}",
            hint=hint,
            message_en=f"Dataset {dataset.slug} was not published yet on {value}",
            hint_en=hint_en,
        )
    return current
