"""A local registry of schemas, synchronised from the schema.data.gouv.fr catalogue.

``sync`` reads the catalogue (``schemas.json``, from its URL or a local copy) and keeps, per
Table Schema, its title and versions with their URLs in ``<data dir>/schemas/registry.json``.
Schemas are downloaded on first use (or added by hand with :meth:`Registry.add`) and kept per
version under ``<data dir>/schemas/<name>/<version>.json``: validation then works offline.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from beffroi.errors import InvalidInputError
from beffroi.validate.schema import MAX_SCHEMA_BYTES, Schema, parse_schema

CATALOGUE_URL = "https://schema.data.gouv.fr/schemas.json"
_SAFE = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")


class Registry:
    """Schemas known by name, with their versions."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def default(cls) -> Registry:
        """The registry of the current instance (``<data dir>/schemas``)."""
        from beffroi.settings import load_settings  # noqa: PLC0415 - only when needed

        return cls(load_settings().data_dir / "schemas")

    @property
    def index_path(self) -> Path:
        """Where the synchronised catalogue is kept."""
        return self.root / "registry.json"

    def entries(self) -> dict[str, dict[str, Any]]:
        """Name → {title, latest, versions: {version: url}}."""
        if not self.index_path.is_file():
            return {}
        data: dict[str, dict[str, Any]] = json.loads(self.index_path.read_text("utf-8"))
        return data

    def sync(self, source: str | Path = CATALOGUE_URL, *, timeout: float = 30) -> int:
        """Read the catalogue (URL or file); the number of Table Schemas now known."""
        text = str(source)
        if text.startswith(("http://", "https://")):
            with urllib.request.urlopen(text, timeout=timeout) as response:  # noqa: S310
                raw = response.read(MAX_SCHEMA_BYTES * 5)
        else:
            raw = Path(text).read_bytes()
        catalogue = json.loads(raw.decode("utf-8-sig"))
        entries = self.entries()
        for item in catalogue.get("schemas", []):
            if item.get("schema_type") != "tableschema" or not isinstance(item.get("name"), str):
                continue
            versions = {
                str(v["version_name"]): str(v["schema_url"])
                for v in item.get("versions") or []
                if v.get("version_name") and v.get("schema_url")
            }
            known = entries.get(item["name"], {}).get("versions", {})
            entries[item["name"]] = {
                "title": item.get("title"),
                "latest": _latest(list(versions)) if versions else None,
                "latest_url": item.get("schema_url"),
                "versions": {**known, **versions},
            }
        self.root.mkdir(parents=True, exist_ok=True)
        self.index_path.write_text(json.dumps(entries, ensure_ascii=False, indent=1), "utf-8")
        return len(entries)

    def add(self, name: str, version: str, descriptor: dict[str, Any]) -> Path:
        """Keep a schema version locally (offline use, tests, hand-made schemas)."""
        path = self._path(name, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(descriptor, ensure_ascii=False), "utf-8")
        entries = self.entries()
        entry = entries.setdefault(name, {"title": descriptor.get("title"), "versions": {}})
        entry["versions"].setdefault(version, None)
        entry["latest"] = _latest(list(entry["versions"]))
        self.root.mkdir(parents=True, exist_ok=True)
        self.index_path.write_text(json.dumps(entries, ensure_ascii=False, indent=1), "utf-8")
        return path

    def resolve(self, reference: str) -> Schema | None:
        """``nom`` (latest version) or ``nom@version``; ``None`` when the name is unknown."""
        name, _, version = reference.partition("@")
        if not _SAFE.match(name) or ".." in name:
            return None
        entries = self.entries()
        entry = entries.get(name)
        if entry is None:
            return None
        version = version or entry.get("latest") or ""
        versions = entry.get("versions", {})
        if version not in versions:
            raise InvalidInputError(
                f"Version « {version} » inconnue pour le schéma « {name} ».",
                hint=f"versions connues : {', '.join(sorted(versions)) or 'aucune'}",
                details={"schema": reference},
            )
        path = self._path(name, version)
        if not path.is_file():
            url = versions.get(version)
            if not url:
                return None
            from beffroi.validate.schema import _fetch_json  # noqa: PLC0415

            descriptor = _fetch_json(url, 20)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(descriptor, ensure_ascii=False), "utf-8")
        descriptor = json.loads(path.read_text("utf-8"))
        schema = parse_schema(descriptor, f"{name}@{version}")
        schema.name = schema.name or name
        schema.version = schema.version or version
        return schema

    def _path(self, name: str, version: str) -> Path:
        if not _SAFE.match(name) or ".." in name or not re.match(r"^[A-Za-z0-9._-]+$", version):
            raise InvalidInputError(
                f"Nom de schéma invalide : « {name}@{version} »",
                hint="lettres, chiffres, « - », « _ », « . » et « / » seulement",
            )
        return self.root / name / f"{version}.json"


def _latest(versions: list[str]) -> str:
    def key(version: str) -> tuple[Any, ...]:
        return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.-]", version))

    return max(versions, key=key)
