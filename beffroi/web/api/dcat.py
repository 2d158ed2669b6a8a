"""The DCAT-AP 3 catalogue: ``/catalog`` (Turtle, JSON-LD, RDF/XML), Hydra-paged; and each
dataset's ``datapackage.json`` (:mod:`beffroi.web.api.datapackage`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from beffroi.publish import dcat
from beffroi.web.api import datapackage
from beffroi.web.deps import SessionDep, SettingsDep

router = APIRouter(tags=["dcat"])
# The other open-data surface of a dataset, its Data Package, is served beside the catalogue.
router.include_router(datapackage.router, prefix="/api/v1")

_DESCRIPTION = (
    "Public datasets only (those an anonymous visitor may read). Format by `Accept` "
    "(`text/turtle`, `application/ld+json`, `application/rdf+xml`) or by suffix."
)
PageQuery = Annotated[int, Query(ge=1, description="Page of the catalogue, from 1 (Hydra).")]


def _rdf(body: bytes, fmt: dcat.RdfFormat) -> Response:
    return Response(
        body,
        media_type=f"{fmt.media_type}; charset=utf-8",
        headers={"Vary": "Accept"},
    )


def _catalog(
    request: Request, session: SessionDep, settings: SettingsDep, page: int, suffix: str | None
) -> Response:
    fmt = dcat.by_suffix(suffix) if suffix else dcat.negotiate(request.headers.get("accept"))
    paging = dcat.CatalogPage(
        page=page, page_size=settings.catalog_page_size, suffix=f".{suffix}" if suffix else ""
    )
    graph = dcat.catalog_graph(session, settings.base_url, paging)
    return _rdf(dcat.serialize(graph, fmt), fmt)


@router.get("/catalog", summary="DCAT-AP 3 catalogue", description=_DESCRIPTION)
@router.head("/catalog", include_in_schema=False)
def catalog(
    request: Request, session: SessionDep, settings: SettingsDep, page: PageQuery = 1
) -> Response:
    """The catalogue in the negotiated format."""
    return _catalog(request, session, settings, page, None)


@router.get("/catalog.{suffix}", summary="DCAT-AP 3 catalogue (format by suffix)")
@router.head("/catalog.{suffix}", include_in_schema=False)
def catalog_as(
    suffix: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    page: PageQuery = 1,
) -> Response:
    """The catalogue as ``.ttl``, ``.jsonld`` or ``.rdf``."""
    return _catalog(request, session, settings, page, suffix)


@router.get("/catalog/datasets/{key}", summary="One dataset of the DCAT-AP catalogue")
def catalog_dataset(
    key: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """A public dataset's description (``ds-<id>``, optionally ``.ttl``/``.jsonld``/``.rdf``)."""
    stem, dot, suffix = key.rpartition(".")
    if dot and suffix in dcat.FORMATS:
        fmt, key = dcat.FORMATS[suffix], stem
    else:
        fmt = dcat.negotiate(request.headers.get("accept"))
    graph = dcat.dataset_graph(session, settings.base_url, key)
    return _rdf(dcat.serialize(graph, fmt), fmt)
