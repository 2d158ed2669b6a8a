"""Shapes shared by the API routers (pagination envelope, problem schema for OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from beffroi.settings import Settings

T = TypeVar("T")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the API is rendered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    hint: str | None = None
    errors: list[dict[str, Any]] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 422)
}


class PageMeta(BaseModel):
    """Where this page sits in the whole list."""

    page: int
    page_size: int
    total: int


class PageLinks(BaseModel):
    """Links to neighbouring pages."""

    self: str
    next: str | None = None
    prev: str | None = None


class Page(BaseModel, Generic[T]):
    """A page of results."""

    data: list[T]
    meta: PageMeta
    links: PageLinks


PageParam = Annotated[int, Query(ge=1, description="Page number, from 1.")]
PageSizeParam = Annotated[int | None, Query(ge=1, description="Items per page.")]


def effective_page_size(settings: Settings, asked: int | None) -> int:
    """The asked page size, capped by the settings."""
    return min(asked or settings.page_size_default, settings.page_size_max)


def page_links(request: Request, page: int, has_next: bool) -> PageLinks:
    """Self / next / prev links keeping the other query parameters."""

    def at(number: int) -> str:
        return str(request.url.include_query_params(page=number))

    return PageLinks(
        self=at(page),
        next=at(page + 1) if has_next else None,
        prev=at(page - 1) if page > 1 else None,
    )


def renamed(request: Request, route: str, slug: str) -> RedirectResponse:
    """308 to the same ``route`` under the dataset's current slug (it was renamed)."""
    target = request.url_for(route, slug=slug)
    return RedirectResponse(str(target), status_code=status.HTTP_308_PERMANENT_REDIRECT)
