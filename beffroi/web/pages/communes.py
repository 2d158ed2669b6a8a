"""The commune page: everything about one commune across all producers.

It gathers the commune's organisation (when it is a member), the datasets whose spatial
coverage names it, those it publishes, and the rows of every readable published dataset
whose column was detected as an INSEE commune code (the ingestion profile's semantic type)
and holds its code — each read through the records query service, so the access layer
decides what is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from beffroi import reference
from beffroi.access import Actor
from beffroi.catalog import services
from beffroi.catalog.models import Dataset
from beffroi.errors import BeffroiError, NotFoundError
from beffroi.query import service as query_service
from beffroi.settings import Settings
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.pages.rendering import render

router = APIRouter()

INSEE_SEMANTIC = "code_commune_insee"
SAMPLE_ROWS = 5
SCANNED_DATASETS = 200


@dataclass
class CommuneRows:
    """The rows of one dataset about the commune (a sample and the total)."""

    dataset: Dataset
    column: str
    fields: list[dict[str, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    link: str = ""


def insee_columns(dataset: Dataset) -> list[str]:
    """Columns of the published version detected as INSEE commune codes."""
    version = dataset.published_version
    if version is None:
        return []
    return [
        str(column["name"])
        for column in version.profile or []
        if column.get("semantic") == INSEE_SEMANTIC
    ]


def rows_about(
    session: SessionDep, actor: Actor, settings: Settings, insee: str
) -> list[CommuneRows]:
    """Rows naming the commune in each readable published dataset with an INSEE column."""
    found: list[CommuneRows] = []
    readable = services.list_datasets(session, actor, page_size=SCANNED_DATASETS)
    for dataset in readable.items:
        for column in insee_columns(dataset):
            params = [(column, insee), ("limit", str(SAMPLE_ROWS))]
            try:
                page = query_service.records(session, actor, settings, dataset.slug, params)
            except BeffroiError:
                continue  # not readable as rows by this visitor (e.g. column withheld)
            if page.total:
                found.append(
                    CommuneRows(
                        dataset=dataset,
                        column=column,
                        fields=page.fields,
                        rows=page.data,
                        total=page.total,
                        link=f"/jeux-de-donnees/{dataset.slug}?"
                        + urlencode({"colonne": column, "valeur": insee})
                        + "#apercu",
                    )
                )
    return found


@router.get("/communes/{insee}", response_class=HTMLResponse, name="commune_page")
def commune_page(
    insee: str, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> HTMLResponse:
    """One commune across all producers."""
    commune = reference.communes().get(insee)
    if commune is None:
        raise NotFoundError(
            f"Commune inconnue : {insee!r}",
            hint="donnez le code INSEE à cinq caractères (ex. 56121 pour Lorient)",
            message_en=f"Unknown commune: {insee!r}",
            hint_en="give the five-character INSEE code (e.g. 56121 for Lorient)",
        )
    org = next((o for o in services.list_organizations(session) if o.insee_code == insee), None)
    epci = reference.epcis().get(commune.epci_siren) if commune.epci_siren else None
    covering = services.list_datasets(session, actor, commune=insee, page_size=50)
    published = (
        services.list_datasets(session, actor, publisher=org.slug, page_size=50) if org else None
    )
    return render(
        request,
        "commune.html",
        {
            "actor": actor,
            "commune": commune,
            "org": org,
            "epci": epci,
            "departement": reference.departements().get(commune.departement),
            "covering": covering,
            "published": published,
            "rows": rows_about(session, actor, settings, insee),
        },
    )
