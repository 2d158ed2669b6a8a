"""Dataset records of the catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from beffroi.catalog import services
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
)
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[DatasetPublic])
def list_datasets(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    page: PageParam = 1,
    page_size: PageSizeParam = None,
    publisher: Annotated[str | None, Query(description="Publisher slug.")] = None,
    access_level: Annotated[AccessLevel | None, Query()] = None,
    theme: Annotated[str | None, Query(description="EU data theme code.")] = None,
    keyword: Annotated[str | None, Query()] = None,
    commune: Annotated[str | None, Query(description="INSEE code in spatial coverage.")] = None,
    q: Annotated[str | None, Query(description="Words in title or description.")] = None,
) -> Page[DatasetPublic]:
    """Datasets the caller may read, newest first."""
    result = services.list_datasets(
        session,
        actor,
        page=page,
        page_size=effective_page_size(settings, page_size),
        publisher=publisher,
        access_level=access_level.value if access_level else None,
        theme=theme,
        keyword=keyword,
        commune=commune,
        q=q,
    )
    return Page[DatasetPublic](
        data=[services.dataset_public(d) for d in result.items],
        meta=PageMeta(page=result.page, page_size=result.page_size, total=result.total),
        links=page_links(request, result.page, result.has_next),
    )


@router.get("/{slug}", response_model=DatasetPublic, responses={308: {"description": "Renamed"}})
def show_dataset(slug: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """One dataset; a former slug redirects (308) to the current one."""
    dataset, redirected = services.resolve_dataset(session, actor, slug)
    if redirected:
        target = request.url_for("show_dataset", slug=dataset.slug)
        return RedirectResponse(str(target), status_code=status.HTTP_308_PERMANENT_REDIRECT)
    return Response(
        services.dataset_public(dataset).model_dump_json(), media_type="application/json"
    )


@router.post("", response_model=DatasetPublic, status_code=status.HTTP_201_CREATED)
def create_dataset(body: DatasetCreate, session: SessionDep, actor: ActorDep) -> DatasetPublic:
    """Create a dataset record (editors of the publisher)."""
    dataset = services.create_dataset(session, actor, body)
    session.commit()
    return services.dataset_public(dataset)


@router.patch("/{slug}", response_model=DatasetPublic)
def update_dataset(
    slug: str, body: DatasetUpdate, session: SessionDep, actor: ActorDep
) -> DatasetPublic:
    """Change metadata (editors of the publisher); a new slug keeps a redirect."""
    dataset = services.update_dataset(session, actor, slug, body)
    session.commit()
    return services.dataset_public(dataset)


@router.delete("/{slug}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dataset(slug: str, session: SessionDep, actor: ActorDep) -> Response:
    """Withdraw a dataset (stewards of the publisher); its slug stays reserved."""
    services.delete_dataset(session, actor, slug)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
