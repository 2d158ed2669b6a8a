"""What a remote catalogue says of one dataset, mapped to Beffroi's fields (one shape for
DCAT and CKAN), and the mapping helpers both readers share."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from beffroi.catalog.identifiers import is_insee_commune_code, is_siren
from beffroi.catalog.vocabularies import FREQUENCIES, HVD_CATEGORIES, LICENSES, THEMES

# The first distribution in one of these formats is downloaded as the dataset's data.
DATA_FORMATS = ("csv", "json", "geojson", "xlsx")
_MEDIA = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "application/geo+json": "geojson",
    "application/vnd.geo+json": "geojson",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_INSEE_COMMUNE = re.compile(r"^https?://id\.insee\.fr/geo/commune/(\w{5})$")
_INSEE_EPCI = re.compile(r"^https?://id\.insee\.fr/geo/intercommunalite/(\d{9})$")


@dataclass
class Distribution:
    """A downloadable file of a remote dataset."""

    url: str
    format: str | None  # csv / json / geojson / xlsx, or None when not one of those


@dataclass
class RemoteDataset:
    """One remote dataset: its stable identity, its metadata, its files."""

    remote_id: str
    remote_uri: str | None
    slug_hint: str
    fields: dict[str, Any] = field(default_factory=dict)  # DatasetUpdate-compatible
    distributions: list[Distribution] = field(default_factory=list)

    def data(self) -> Distribution | None:
        """The first distribution Beffroi can ingest (CSV, JSON, GeoJSON, XLSX)."""
        return next((d for d in self.distributions if d.format in DATA_FORMATS), None)

    def digest(self) -> str:
        """A digest of the metadata: a change of any field changes it."""
        text = json.dumps(self.fields, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_format(label: str | None, media_type: str | None = None, url: str = "") -> str | None:
    """``csv``/``json``/``geojson``/``xlsx`` from a format label, media type or URL."""
    for value in (label, media_type):
        if not value:
            continue
        text = value.strip().lower().rstrip("/")
        tail = text.rsplit("/", 1)[-1]
        if text in _MEDIA:
            return _MEDIA[text]
        if "media-types/" in text and text.split("media-types/", 1)[1] in _MEDIA:
            return _MEDIA[text.split("media-types/", 1)[1]]
        if tail in DATA_FORMATS:
            return tail
        if tail in {"geo+json", "geo_json"}:
            return "geojson"
    path = url.lower().split("?", 1)[0]
    for ext in ("geojson", "csv", "json", "xlsx"):
        if path.endswith(f".{ext}"):
            return ext
    return None


def theme(value: str) -> str | None:
    """An EU data theme code from its URI or code (any case)."""
    code = value.rstrip("/").rsplit("/", 1)[-1].upper()
    return code if code in THEMES else None


def frequency(value: str) -> str | None:
    """An EU frequency code from its URI, code or CKAN/udata label (``daily``)."""
    code = value.rstrip("/").rsplit("/", 1)[-1].upper().replace("-", "_")
    aliases = {"YEARLY": "ANNUAL", "SEMIANNUAL": "ANNUAL_2", "CONTINUOUS": "CONT"}
    code = aliases.get(code, code)
    return code if code in FREQUENCIES else None


def license_code(value: str | None) -> str:
    """A licence id or URI Beffroi knows; an unknown licence text is not an open licence."""
    if not value:
        return "other-closed"
    text = value.strip()
    if text in LICENSES:
        return text

    def bare(uri: str) -> str:
        return uri.lower().split("://", 1)[-1].rstrip("/")

    for code, (_name, uri) in LICENSES.items():
        if uri and bare(uri) == bare(text):
            return code
    lowered = text.lower()
    by_words = {
        "licence ouverte": "etalab-2.0",
        "open licence": "etalab-2.0",
        "etalab": "etalab-2.0",
        "odbl": "ODbL-1.0",
    }
    named = next((code for words, code in by_words.items() if words in lowered), None)
    if named is None and lowered in {"cc-by", "cc-by-4.0", "cc_by"}:
        named = "CC-BY-4.0"
    if named is None and text.startswith(("http://", "https://")):
        named = text
    return named or "other-closed"


def spatial(value: str) -> str | None:
    """``commune:<INSEE>`` / ``epci:<SIREN>`` from an INSEE URI or a Beffroi code."""
    if match := _INSEE_COMMUNE.match(value):
        return f"commune:{match.group(1)}" if is_insee_commune_code(match.group(1)) else None
    if match := _INSEE_EPCI.match(value):
        return f"epci:{match.group(1)}" if is_siren(match.group(1)) else None
    kind, _, code = value.strip().partition(":")
    if (kind == "commune" and is_insee_commune_code(code)) or (kind == "epci" and is_siren(code)):
        return f"{kind}:{code}"
    return None


def hvd_category(value: str) -> str | None:
    """An HVD category code from its URI."""
    code = value.rstrip("/").rsplit("/", 1)[-1]
    return code if code in HVD_CATEGORIES else None


def day(value: Any) -> dt.date | None:
    """A date from an ISO date or date-time text (or value); None when unreadable."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values and keep the period in order (a remote error must not block)."""
    out = {k: v for k, v in fields.items() if v not in (None, "", [])}
    start, end = out.get("temporal_start"), out.get("temporal_end")
    if start and end and start > end:
        out.pop("temporal_end")
    if "keywords" in out:
        out["keywords"] = list(dict.fromkeys(k.strip()[:100] for k in out["keywords"] if k.strip()))
    for key in ("themes", "spatial", "applicable_legislation"):
        if key in out:
            out[key] = list(dict.fromkeys(out[key]))
    if "title" in out:
        out["title"] = str(out["title"]).strip()[:300]
        if len(out["title"]) < 3:
            out["title"] = f"{out['title']} (jeu moissonné)"
    return out
