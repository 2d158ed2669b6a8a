"""Read a remote CKAN instance through its Action API (``package_search``, paged)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlencode

from beffroi.catalog.vocabularies import LICENSES
from beffroi.errors import InvalidInputError
from beffroi.harvest import model
from beffroi.harvest.fetching import Limits, read_document
from beffroi.harvest.model import Distribution, RemoteDataset

ROWS: Final = 100
MAX_PAGES: Final = 1000


def api_root(url: str) -> str:
    """The Action API root of a CKAN base URL (``…/api/3/action`` appended when absent)."""
    base = url.rstrip("/")
    for tail in ("/api/3/action", "/api/action"):
        if base.endswith(tail):
            return base
    return f"{base}/api/3/action"


def _call(url: str, limits: Limits) -> dict[str, Any]:
    body, _media = read_document(url, limits)
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        answer = None
    if not isinstance(answer, dict) or not answer.get("success"):
        raise InvalidInputError(
            f"Réponse CKAN inattendue de {url}",
            hint="donnez l'adresse de base d'un portail CKAN (son API /api/3/action doit répondre)",
            message_en=f"Unexpected CKAN answer from {url}",
            hint_en="give the base address of a CKAN portal (its /api/3/action API must answer)",
            details={"url": url},
        )
    result: dict[str, Any] = answer["result"]
    return result


def datasets(url: str, limits: Limits) -> Iterator[RemoteDataset]:
    """Every public package of the instance, mapped (``package_search`` by pages of 100)."""
    root = api_root(url)
    start = 0
    for _page in range(MAX_PAGES):
        query = urlencode({"rows": ROWS, "start": start, "sort": "metadata_created asc"})
        result = _call(f"{root}/package_search?{query}", limits)
        packages = result.get("results") or []
        for package in packages:
            if isinstance(package, dict) and not package.get("private"):
                yield package_dataset(package, root)
        start += len(packages)
        if not packages or start >= int(result.get("count") or 0):
            return


def _extras(package: dict[str, Any]) -> dict[str, str]:
    extras = package.get("extras") or []
    return {
        str(e.get("key")): str(e.get("value"))
        for e in extras
        if isinstance(e, dict) and e.get("value") not in (None, "")
    }


def package_dataset(package: dict[str, Any], root: str) -> RemoteDataset:
    """One CKAN package as a :class:`RemoteDataset` (identity: its id at this API)."""
    extras = _extras(package)
    themes = [
        t
        for g in package.get("groups") or []
        if isinstance(g, dict) and (t := model.theme(str(g.get("name", ""))))
    ]
    places = [s for item in extras.get("spatial-text", "").split(",") if (s := model.spatial(item))]
    license_value = package.get("license_id") or package.get("license_url")
    if package.get("license_id") not in LICENSES and package.get("license_url"):
        license_value = package["license_url"]
    email = package.get("maintainer_email") or package.get("author_email")
    fields = {
        "title": package.get("title") or package.get("name") or "",
        "description": package.get("notes") or "",
        "keywords": sorted(
            str(t.get("name")) for t in package.get("tags") or [] if isinstance(t, dict)
        ),
        "themes": sorted(themes),
        "license": model.license_code(license_value),
        "frequency": model.frequency(extras["frequency"]) if "frequency" in extras else None,
        "spatial": sorted(places),
        "temporal_start": model.day(extras.get("temporal_start")),
        "temporal_end": model.day(extras.get("temporal_end")),
        "contact_name": (package.get("maintainer") or None),
        "contact_email": email if email and "@" in str(email) else None,
        "hvd_category": model.hvd_category(extras["hvd_category"])
        if "hvd_category" in extras
        else None,
        "applicable_legislation": sorted(
            uri
            for uri in extras.get("applicable_legislation", "").split()
            if uri.startswith("http://data.europa.eu/eli/")
        ),
    }
    distributions = [
        Distribution(
            str(r["url"]),
            model.file_format(r.get("format"), r.get("mimetype"), str(r["url"])),
        )
        for r in package.get("resources") or []
        if isinstance(r, dict) and str(r.get("url", "")).startswith(("http://", "https://"))
    ]
    remote_id = str(package.get("id") or package.get("name"))
    return RemoteDataset(
        remote_id=remote_id,
        remote_uri=f"{root}/package_show?{urlencode({'id': remote_id})}",
        slug_hint=str(package.get("name") or fields["title"]),
        fields=model.clean(fields),
        distributions=distributions,
    )
