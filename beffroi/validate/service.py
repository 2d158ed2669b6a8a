"""Schema resolution for the surfaces (the web API may not read server paths)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from beffroi.errors import InvalidInputError
from beffroi.validate.registry import Registry
from beffroi.validate.schema import Schema, load_schema, parse_schema

SCHEMA_HOSTS = frozenset(
    {
        "schema.data.gouv.fr",
        "raw.githubusercontent.com",
        "github.com",
        "gitlab.com",
        "opendatafrance.gitlab.io",
        "git.opendatafrance.net",
    }
)
"""Hosts the web API fetches schemas from (no request to arbitrary, internal addresses)."""


def web_schema(reference: str | None, descriptor: str | None, registry_root: Path) -> Schema:
    """The schema of an API request: inline JSON, a registry name, or an allowed https URL."""
    if descriptor:
        try:
            decoded = json.loads(descriptor)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"schema_json n'est pas du JSON valide ({exc})",
                hint="envoyez le contenu du fichier schema.json",
            ) from exc
        return parse_schema(decoded, "JSON")
    if not reference:
        raise InvalidInputError(
            "Aucun schéma indiqué.",
            hint="ajoutez le champ « schema » (nom du registre ou URL https) ou « schema_json »",
        )
    if reference.startswith(("http://", "https://")):
        url = urlparse(reference)
        if url.scheme != "https" or url.hostname not in SCHEMA_HOSTS:
            raise InvalidInputError(
                f"Adresse de schéma refusée : {reference}",
                hint=f"seules les adresses https de {', '.join(sorted(SCHEMA_HOSTS))} sont "
                "acceptées ; sinon envoyez le schéma lui-même (schema_json)",
            )
        return load_schema(reference)
    found = Registry(registry_root).resolve(reference)
    if found is None:
        raise InvalidInputError(
            f"Schéma inconnu du registre : « {reference} »",
            hint="utilisez un nom comme « scdl/subventions », une URL https de "
            "schema.data.gouv.fr, ou envoyez le schéma (schema_json)",
            details={"schema": reference},
        )
    return found
