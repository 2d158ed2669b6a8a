"""Read-only look-ups of harvest records for other packages (publication surfaces)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.catalog.models import HarvestRecord, HarvestSource


def remote_identifiers(session: Session) -> dict[int, tuple[str, str | None]]:
    """Dataset id → (remote identifier, remote URI) of every dataset harvested from a
    catalogue (file feeds excluded: their dataset is a local one)."""
    query = (
        select(HarvestRecord.dataset_id, HarvestRecord.remote_id, HarvestRecord.remote_uri)
        .join(HarvestSource, HarvestSource.id == HarvestRecord.source_id)
        .where(HarvestSource.kind != "file")
    )
    return {dataset_id: (remote, uri) for dataset_id, remote, uri in session.execute(query)}
