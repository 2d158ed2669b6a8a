"""A dataset as a Frictionless Data Package (``datapackage.json``), and as a zipped one.

One tabular resource, the CSV export of the published version, with its Table Schema (the
column types the ingestion recorded in the version's profile), the licence, the sources and
the contributors. A dataset without a published version has no resource. The zipped package
holds ``datapackage.json`` and the CSV itself (``data/<slug>.csv``), streamed.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any, Final

from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog.models import Dataset, DatasetVersion
from beffroi.catalog.vocabularies import LICENSES
from beffroi.publish import formats
from beffroi.settings import Settings

# Arrow types of DatasetVersion.columns → Table Schema types (when no profile says it).
_ARROW: Final = (
    (re.compile(r"^u?int\d+$"), "integer"),
    (re.compile(r"^(double|float|halffloat|decimal)"), "number"),
    (re.compile(r"^bool"), "boolean"),
    (re.compile(r"^date\d+"), "date"),
    (re.compile(r"^timestamp"), "datetime"),
)


def _field(name: str, kind: str) -> dict[str, Any]:
    if kind in {"string", "integer", "number", "boolean", "date", "datetime"}:
        return {"name": name, "type": kind}
    if kind in {"geometry", "geojson"}:
        return {"name": name, "type": "string", "description": "géométrie (WKT)"}
    return {"name": name, "type": "any"}


def table_schema(version: DatasetVersion, visible: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The Table Schema of a version: profile kinds, else the stored Arrow types; only the
    ``visible`` columns (in that order) when the reader may not see them all."""
    kinds = {str(p.get("name")): str(p.get("type")) for p in version.profile}
    stored = {str(c.get("name")): c for c in version.columns}
    names = list(visible) if visible is not None else list(stored)
    fields = []
    for name in names:
        column = stored.get(name, {})
        kind = kinds.get(name)
        if kind is None:
            arrow = str(column.get("type", ""))
            kind = next((k for pattern, k in _ARROW if pattern.match(arrow)), "string")
        fields.append(_field(name, kind))
    return {"fields": fields, "missingValues": [""]}


def _license(value: str) -> dict[str, str]:
    if value in LICENSES:
        title, url = LICENSES[value]
        descriptor = {"name": value, "title": title}
        if url:
            descriptor["path"] = url
        return descriptor
    return {"path": value, "title": value}


def datapackage(
    dataset: Dataset,
    base_url: str,
    *,
    data_path: str | None = None,
    visible: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The ``datapackage.json`` descriptor of a dataset (``data_path``: the CSV's path inside
    a zipped package instead of its download URL; ``visible``: the columns the reader may
    see, None for all)."""
    publisher = dataset.publisher
    version = dataset.published_version
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": dataset.slug,
        "id": f"{base_url}/catalog/datasets/{dataset.store_key}",
        "title": dataset.title,
        "description": dataset.description,
        "homepage": formats.landing_page(base_url, dataset),
        "keywords": list(dataset.keywords),
        "licenses": [_license(dataset.license)],
        "sources": [
            {
                "title": publisher.name,
                "path": publisher.website or f"{base_url}/organisations/{publisher.slug}",
            }
        ],
        "contributors": [{"title": publisher.name, "role": "publisher"}],
        "created": dataset.created_at.isoformat(),
        "resources": [],
    }
    if dataset.contact_name or dataset.contact_email:
        contact: dict[str, str] = {"title": dataset.contact_name or publisher.name}
        if dataset.contact_email:
            contact["email"] = dataset.contact_email
        package["contributors"].append({**contact, "role": "maintainer"})
    schema = formats.resolve_schema(dataset.schema_ref)
    if version is None:
        return package
    package["version"] = str(version.number)
    package["sources"].append({"title": f"Fichier déposé : {version.source_name}"})
    resource: dict[str, Any] = {
        "name": re.sub(r"[^a-z0-9._-]", "-", dataset.slug),
        "path": data_path or formats.export_url(base_url, dataset, formats.CSV),
        "profile": "tabular-data-resource",
        "title": f"{dataset.title} (version {version.number})",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": table_schema(version, visible),
    }
    if schema is not None and schema.url:
        resource["sources"] = [{"title": f"Schéma déclaré : {schema.name}", "path": schema.url}]
    package["resources"].append(resource)
    return package


class _Sink:
    """A write-only, unseekable stream whose bytes are taken as they come (zip streaming)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        """Keep ``data`` until the next :meth:`take`."""
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: bytes are handed over by :meth:`take`."""

    def close(self) -> None:
        """Nothing to close."""

    def take(self) -> bytes:
        """The bytes written since the last call."""
        data, self._parts = b"".join(self._parts), []
        return data


def zipped_datapackage(
    session: Session, actor: Actor, settings: Settings, dataset: Dataset
) -> tuple[str, Iterator[bytes]]:
    """File name and streamed bytes of the dataset as a zipped Data Package (descriptor and
    CSV of the published version, read through the query engine's exports)."""
    from beffroi.query import exports, service  # noqa: PLC0415 - DuckDB only when needed

    export = service.export_records(
        session, actor, settings, dataset.slug, [], exports.FORMATS["csv"]
    )
    data_path = f"data/{dataset.slug}.csv"
    visible = visible_columns(session, actor, dataset)
    descriptor = datapackage(dataset, settings.base_url, data_path=data_path, visible=visible)

    def chunks() -> Iterator[bytes]:
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            text = json.dumps(descriptor, ensure_ascii=False, indent=2)
            archive.writestr("datapackage.json", text)
            yield sink.take()
            with archive.open(data_path, "w", force_zip64=True) as entry:
                for chunk in export.chunks:
                    entry.write(chunk)
                    yield sink.take()
        yield sink.take()

    return f"{dataset.slug}-datapackage.zip", chunks()


def visible_columns(session: Session, actor: Actor, dataset: Dataset) -> tuple[str, ...] | None:
    """The columns of the published version ``actor`` may read (personal columns and
    agreement subsets withheld), as the access layer grants them; None: every column."""
    if dataset.published_version is None:
        return None
    from beffroi.access.reading import readable_table  # noqa: PLC0415

    return readable_table(session, actor, dataset.slug).columns


def datapackage_for(
    session: Session, actor: Actor, dataset: Dataset, base_url: str
) -> dict[str, Any]:
    """The descriptor as ``actor`` may see it (its Table Schema lists only readable columns)."""
    return datapackage(dataset, base_url, visible=visible_columns(session, actor, dataset))
