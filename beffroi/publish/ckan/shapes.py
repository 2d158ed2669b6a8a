"""CKAN dictionaries (package, resource, organization, group, tag) of catalogue objects."""

from __future__ import annotations

import datetime as dt
from typing import Any

from beffroi.catalog.models import Dataset, Organization
from beffroi.catalog.vocabularies import HVD_LEGISLATION, LICENSES, THEMES
from beffroi.publish import formats


def ckan_time(value: dt.datetime | None) -> str | None:
    """CKAN's timestamps: naive UTC, ISO 8601 with microseconds."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def org_id(org: Organization) -> str:
    """Stable CKAN id of an organisation (its ``name`` is the slug)."""
    return f"org-{org.id}"


def organization_dict(org: Organization, *, package_count: int | None = None) -> dict[str, Any]:
    """An organisation as CKAN's ``organization_show`` returns it."""
    data: dict[str, Any] = {
        "id": org_id(org),
        "name": org.slug,
        "title": org.name,
        "display_name": org.name,
        "type": "organization",
        "description": org.description,
        "image_url": org.logo_url or "",
        "image_display_url": org.logo_url or "",
        "created": ckan_time(org.created_at),
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
        "num_followers": 0,
        # Beffroi's own fields, as CKAN extensions add theirs
        "siren": org.siren,
        "kind": org.kind,
    }
    if package_count is not None:
        data["package_count"] = package_count
    return data


def group_dict(code: str, *, package_count: int | None = None) -> dict[str, Any]:
    """An EU data theme as a CKAN group (name: the lower-case code)."""
    data: dict[str, Any] = {
        "id": f"theme-{code.lower()}",
        "name": code.lower(),
        "title": THEMES[code],
        "display_name": THEMES[code],
        "type": "group",
        "description": f"Thème de données de l'Union européenne {code}",
        "image_url": "",
        "image_display_url": "",
        "is_organization": False,
        "approval_status": "approved",
        "state": "active",
        "uri": f"http://publications.europa.eu/resource/authority/data-theme/{code}",
    }
    if package_count is not None:
        data["package_count"] = package_count
    return data


def tag_dict(name: str) -> dict[str, Any]:
    """A keyword as a CKAN free tag."""
    return {
        "id": f"tag-{name}",
        "name": name,
        "display_name": name,
        "state": "active",
        "vocabulary_id": None,
    }


def license_fields(value: str) -> dict[str, Any]:
    """CKAN's licence fields for a licence id or URI."""
    if value in LICENSES:
        title, url = LICENSES[value]
    else:
        title, url = value, value
    return {
        "license_id": value,
        "license_title": title,
        "license_url": url,
        "isopen": bool(url),
    }


def resource_dicts(dataset: Dataset, base_url: str) -> list[dict[str, Any]]:
    """One resource per download format of the published version (none without one)."""
    version = dataset.published_version
    if version is None:
        return []
    published = ckan_time(version.published_at or version.created_at)
    resources = []
    for position, fmt in enumerate(formats.downloads(dataset)):
        resources.append(
            {
                "id": formats.resource_id(dataset, fmt),
                "package_id": dataset.store_key,
                "name": f"{dataset.title} — {fmt.title}",
                "description": f"Version {version.number} publiée, {version.row_count} lignes",
                "format": fmt.label,
                "mimetype": fmt.media_type,
                "url": formats.export_url(base_url, dataset, fmt),
                "created": published,
                "last_modified": published,
                "metadata_modified": published,
                "position": position,
                "state": "active",
                "url_type": None,
                "size": None,
                "hash": "",
                "resource_type": "datapackage" if fmt in formats.PACKAGE_FORMATS else "file",
                # table downloads are queryable with datastore_search / datastore_search_sql
                "datastore_active": fmt not in formats.PACKAGE_FORMATS,
            }
        )
    return resources


def _legislation(dataset: Dataset) -> list[str]:
    laws = list(dataset.applicable_legislation or [])
    if dataset.hvd_category and HVD_LEGISLATION not in laws:
        laws.append(HVD_LEGISLATION)
    return laws


def _extras(dataset: Dataset, base_url: str) -> list[dict[str, str]]:
    schema = formats.resolve_schema(dataset.schema_ref)
    values = {
        "uri": f"{base_url}/catalog/datasets/{dataset.store_key}",
        "identifier": dataset.store_key,
        "frequency": dataset.frequency,
        "spatial-text": ", ".join(dataset.spatial) or None,
        "spatial_granularity": dataset.spatial_granularity,
        "temporal_start": dataset.temporal_start.isoformat() if dataset.temporal_start else None,
        "temporal_end": dataset.temporal_end.isoformat() if dataset.temporal_end else None,
        "schema": dataset.schema_ref,
        "conforms_to": schema.url if schema else None,
        "access_rights": dataset.access_level,
        "hvd_category": dataset.hvd_category,
        # space-separated ELI URIs (the HVD regulation for HVD datasets, as in DCAT)
        "applicable_legislation": " ".join(_legislation(dataset)) or None,
    }
    return [{"key": k, "value": v} for k, v in values.items() if v]


def modified(dataset: Dataset) -> dt.datetime:
    """Last change of the record or of its published data."""
    version = dataset.published_version
    if version is not None and version.published_at and version.published_at > dataset.modified_at:
        return version.published_at
    return dataset.modified_at


def package_dict(dataset: Dataset, base_url: str) -> dict[str, Any]:
    """A public dataset as CKAN's ``package_show`` returns it."""
    resources = resource_dicts(dataset, base_url)
    tags = [tag_dict(k) for k in dataset.keywords]
    version = dataset.published_version
    return {
        "id": dataset.store_key,
        "name": dataset.slug,
        "title": dataset.title,
        "notes": dataset.description,
        "url": formats.landing_page(base_url, dataset),
        "type": "dataset",
        "state": "active",
        "private": False,
        "version": str(version.number) if version is not None else None,
        "author": dataset.publisher.name,
        "author_email": None,
        "maintainer": dataset.contact_name,
        "maintainer_email": dataset.contact_email,
        **license_fields(dataset.license),
        "metadata_created": ckan_time(dataset.created_at),
        "metadata_modified": ckan_time(modified(dataset)),
        "creator_user_id": None,
        "owner_org": org_id(dataset.publisher),
        "organization": organization_dict(dataset.publisher),
        "groups": [group_dict(code) for code in dataset.themes],
        "tags": tags,
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": _extras(dataset, base_url),
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }
