"""Remote files feeding datasets: download, compare, ingest as a new version on change.

Shared by the catalogue harvesters (each harvested dataset's first data file) and by file
feeds (``beffroi feed add SLUG URL --every 1h``: a source of kind ``file`` bound to one
local dataset). A file is taken as unchanged when the server's validators say so (strong
``ETag``, else ``Last-Modified``) or, once downloaded, when its SHA-256 is the stored one.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import Action, Actor, require
from beffroi.catalog import audit, services
from beffroi.catalog.db import transaction
from beffroi.catalog.models import HarvestRecord, HarvestSource, utcnow
from beffroi.errors import BeffroiError, ConflictError, InvalidInputError
from beffroi.harvest.fetching import download, probe

if TYPE_CHECKING:
    from beffroi.harvest.service import _Context

_KNOWN_SUFFIXES = {".csv", ".tsv", ".txt", ".json", ".geojson", ".xlsx", ".xls", ".ods"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_if_changed(
    context: _Context, slug: str, record_id: int, url: str, file_format: str | None
) -> bool:
    """Ingest ``url`` as a new version of ``slug`` unless unchanged; True when ingested."""
    from beffroi.ingest.model import ReadOptions  # noqa: PLC0415 - heavy, on demand
    from beffroi.ingest.pipeline import ingest_file  # noqa: PLC0415
    from beffroi.store import store_for  # noqa: PLC0415

    with transaction(context.factory) as session:
        record = session.get(HarvestRecord, record_id)
        if record is None:
            return False
        known = (record.data_url, record.data_etag, record.data_last_modified, record.data_digest)
    same_url = known[0] == url
    validators = probe(url, context.limits)
    if same_url and known[3] and validators.same_as(known[1], known[2]):
        return False
    fetched = download(url, context.work_dir / uuid.uuid4().hex, context.limits)
    digest = _sha256(fetched.path)
    changed = not (same_url and known[3] == digest)
    if changed:
        suffix = PurePosixPath(fetched.path.name).suffix.lower()
        forced = file_format if suffix not in _KNOWN_SUFFIXES else None
        ingest_file(
            context.factory,
            store_for(context.settings),
            context.actor,
            slug,
            fetched.path,
            options=ReadOptions(format=forced),
            publish=context.auto_publish,
            source_name=fetched.name,
        )
    fetched.path.unlink(missing_ok=True)
    with transaction(context.factory) as session:
        record = session.get(HarvestRecord, record_id)
        if record is not None:
            record.data_url = url
            record.data_etag = validators.etag
            record.data_last_modified = validators.last_modified
            record.data_digest = digest
            if changed:
                record.harvested_at = utcnow()
    return changed


def run_feed(context: _Context, slug: str, url: str, errors: list[dict[str, Any]]) -> str:
    """One run of a file feed: ``updated`` (a new version), ``unchanged`` or ``failed``."""
    with transaction(context.factory) as session:
        record_id = session.scalar(
            select(HarvestRecord.id).where(HarvestRecord.source_id == context.source_id)
        )
    if record_id is None or not slug:
        return "unchanged"
    try:
        changed = ingest_if_changed(context, slug, record_id, url, None)
    except BeffroiError as exc:
        errors.append(
            {"remote_id": url, "code": exc.code, "message": exc.message, "hint": exc.hint}
        )
        return "failed"
    return "updated" if changed else "unchanged"


def add_feed(
    session: Session,
    actor: Actor,
    slug: str,
    url: str,
    *,
    every: str | int | None,
    auto_publish: bool = False,
    name: str | None = None,
) -> HarvestSource:
    """Bind a dataset to a remote file fetched on a schedule (its stewards only)."""
    from beffroi.harvest.service import _name_taken, parse_every  # noqa: PLC0415

    dataset = services.get_dataset(session, actor, slug)
    require(actor, Action.HARVEST_MANAGE, dataset.publisher_id)
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise InvalidInputError(
            f"Adresse de flux non prise en charge : {url!r}",
            hint="donnez une adresse http:// ou https:// complète",
            message_en=f"Unsupported feed address: {url!r}",
            hint_en="give a full http:// or https:// address",
        )
    existing = session.scalar(
        select(HarvestRecord.id).where(HarvestRecord.dataset_id == dataset.id)
    )
    if existing is not None:
        raise ConflictError(
            f"Le jeu de données « {dataset.slug} » est déjà alimenté par une source",
            hint="supprimez d'abord l'autre flux ou moissonnage",
            message_en=f"The dataset “{dataset.slug}” is already fed by a source",
            hint_en="remove the other feed or harvest first",
        )
    source_name = name or f"flux-{dataset.slug}"[:100]
    _name_taken(session, source_name)
    interval = parse_every(every)
    source = HarvestSource(
        name=source_name,
        kind="file",
        url=url,
        organization_id=dataset.publisher_id,
        dataset=dataset,
        interval_s=interval,
        auto_publish=auto_publish,
        status="new",
        next_run_at=utcnow() if interval else None,
        created_by=actor.label,
    )
    session.add(source)
    session.flush()
    session.add(
        HarvestRecord(source_id=source.id, remote_id=url, remote_uri=url, dataset_id=dataset.id)
    )
    session.flush()
    audit.record(
        session,
        actor,
        "harvest.feed.create",
        "harvest_source",
        source.name,
        {"dataset": dataset.slug, "url": url, "every_s": interval},
    )
    return source
