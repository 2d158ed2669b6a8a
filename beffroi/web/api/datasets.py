"""Dataset records of the catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from beffroi.catalog import metadata_reviews, search, services
from beffroi.catalog.models import AccessLevel
from beffroi.catalog.schemas import DatasetCreate, DatasetPublic, DatasetUpdate
from beffroi.web.api.common import (
    ERROR_RESPONSES,
    Page,
    PageMeta,
    PageParam,
    PageSizeParam,
    effective_page_size,
    page_links,
    renamed,
)
from beffroi.web.api.metadata_reviews import MetadataChangeResult
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=ERROR_RESPONSES)


class FacetValuePublic(BaseModel):
    """One value of a facet."""

    value: str
    label: str
    count: int
    selected: bool


class DatasetSearchPage(Page[DatasetPublic]):
    """A page of datasets and the facets of the whole result (counted over what the caller
    may read)."""

    facets: dict[str, list[FacetValuePublic]] = Field(
        description="By facet (the query parameter's name): values, labels, counts."
    )


#: API query parameters of the facets (the publisher keeps its English name).
API_FACETS = {
    "publisher": search.Facet.ORGANIZATION,
    "commune": search.Facet.COMMUNE,
    "theme": search.Facet.THEME,
    "format": search.Facet.FORMAT,
    "license": search.Facet.LICENSE,
    "schema": search.Facet.SCHEMA,
    "conformance": search.Facet.CONFORMANCE,
}


@router.get("", response_model=DatasetSearchPage)
def list_datasets(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    page: PageParam = 1,
    page_size: PageSizeParam = None,
    publisher: Annotated[list[str] | None, Query(description="Publisher slug(s).")] = None,
    access_level: Annotated[AccessLevel | None, Query()] = None,
    theme: Annotated[list[str] | None, Query(description="EU data theme code(s).")] = None,
    keyword: Annotated[str | None, Query()] = None,
    commune: Annotated[
        list[str] | None, Query(description="INSEE code(s) in spatial coverage.")
    ] = None,
    q: Annotated[str | None, Query(description="Words in title or description.")] = None,
    format: Annotated[  # noqa: A002 - the documented parameter name
        list[str] | None, Query(description="Format(s) of the published version (csv…).")
    ] = None,
    license: Annotated[list[str] | None, Query(description="Licence code(s).")] = None,  # noqa: A002
    schema: Annotated[list[str] | None, Query(description="Table Schema reference(s).")] = None,
    conformance: Annotated[
        list[str] | None, Query(description="conforme, non-conforme or sans-schema.")
    ] = None,
    sort: Annotated[search.Sort, Query(description="pertinence, recents or titre.")] = (
        search.Sort.RELEVANCE
    ),
) -> DatasetSearchPage:
    """Datasets the caller may read (newest first, or by relevance to ``q``), with a
    ``facets`` object: for each facet, its values and how many datasets match each (the
    other facets' selections applied). Several values of one facet: any of them."""
    for slug in publisher or []:
        services.get_organization(session, slug)  # an unknown publisher is a 404
    given = {
        "publisher": publisher,
        "commune": commune,
        "theme": theme,
        "format": format,
        "license": license,
        "schema": schema,
        "conformance": conformance,
    }
    query = search.SearchQuery(
        q=(q or "").strip(),
        selected={API_FACETS[k]: frozenset(v) for k, v in given.items() if v},
        sort=sort,
        page=page,
        page_size=effective_page_size(settings, page_size),
        access_level=access_level.value if access_level else None,
        keyword=keyword,
    )
    result = search.search_datasets(session, actor, query)
    return DatasetSearchPage(
        data=[services.dataset_public(d) for d in result.items],
        meta=PageMeta(page=result.page, page_size=result.page_size, total=result.total),
        links=page_links(request, result.page, result.has_next),
        facets={
            name: [
                FacetValuePublic(value=v.value, label=v.label, count=v.count, selected=v.selected)
                for v in result.facets[facet]
            ]
            for name, facet in API_FACETS.items()
        },
    )


@router.get("/{slug}", response_model=DatasetPublic, responses={308: {"description": "Renamed"}})
def show_dataset(slug: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """One dataset; a former slug redirects (308) to the current one."""
    dataset, redirected = services.resolve_dataset(session, actor, slug)
    if redirected:
        return renamed(request, "show_dataset", dataset.slug)
    return Response(
        services.dataset_public(dataset).model_dump_json(), media_type="application/json"
    )


@router.post("", response_model=DatasetPublic, status_code=status.HTTP_201_CREATED)
def create_dataset(body: DatasetCreate, session: SessionDep, actor: ActorDep) -> DatasetPublic:
    """Create a dataset record (editors of the publisher)."""
    dataset = services.create_dataset(session, actor, body)
    session.commit()
    return services.dataset_public(dataset)


@router.patch(
    "/{slug}",
    response_model=DatasetPublic,
    responses={202: {"model": MetadataChangeResult, "description": "Proposed for review."}},
)
def update_dataset(
    slug: str, body: DatasetUpdate, session: SessionDep, actor: ActorDep
) -> DatasetPublic | JSONResponse:
    """Change metadata (editors of the publisher); a new slug keeps a redirect.

    Where the owner requires review, an editor's change is a proposal (202) that a steward
    approves on the review queue.
    """
    outcome = metadata_reviews.update_or_propose(session, actor, slug, body)
    session.commit()
    if outcome.review is not None:
        result = MetadataChangeResult(
            applied=False,
            fields=sorted(outcome.changed),
            review=metadata_reviews.proposal_public(outcome.review),
        )
        return JSONResponse(result.model_dump(mode="json"), status_code=202)
    return services.dataset_public(outcome.dataset)


@router.delete("/{slug}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dataset(slug: str, session: SessionDep, actor: ActorDep) -> Response:
    """Withdraw a dataset (stewards of the publisher); its slug stays reserved."""
    services.delete_dataset(session, actor, slug)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
