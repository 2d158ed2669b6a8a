"""Records of a dataset's published (or past) version: filters, search, sort, keyset pages,
facets, groups and aggregates. The query language is documented in
:mod:`beffroi.query.records`; access is decided by the access layer."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from beffroi.catalog.usage import record_use
from beffroi.query import service
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import get_actor, get_settings, short_session

router = APIRouter(prefix="/datasets/{slug}", tags=["records"], responses=ERROR_RESPONSES)

FILTER_HELP = (
    "Any other parameter filters on a field: `field=value`, `field__ne`, `field__in=a,b`, "
    "`field__lt`, `__lte`, `__gt`, `__gte`, `field__contains`, `field__startswith`, "
    "`field__null=true|false` (combined with AND). Datasets with a geometry column or "
    "latitude/longitude columns also take `bbox=minlon,minlat,maxlon,maxlat`, "
    "`near=lon,lat,metres` and `commune=<INSEE code>` (simplified outlines); "
    "`as_of=<ISO date or datetime>` reads the version published at that moment."
)


def version_param(value: str | None) -> int | None:
    """The ``version`` parameter (a positive integer), or a 422."""
    from beffroi.errors import InvalidInputError  # noqa: PLC0415 - only on this path

    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) < 1:
        raise InvalidInputError(
            f"version invalide : {value!r}",
            hint="un numéro de version (1, 2, …) de …/versions",
            details={"errors": [{"field": "version", "message": "entier positif attendu"}]},
        )
    return int(value)


@router.get("/records", description=FILTER_HELP)
async def list_records(
    slug: str,
    request: Request,
    q: Annotated[str | None, Query(description="Words that must all appear.")] = None,
    sort: Annotated[str | None, Query(description="Sort keys: `a,-b` (`-`: descending).")] = None,
    select: Annotated[str | None, Query(description="Fields returned: `a,b`.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Rows per page.")] = None,
    cursor: Annotated[str | None, Query(description="From the `next` link.")] = None,
    facet: Annotated[list[str] | None, Query(description="Value counts of a field.")] = None,
    group_by: Annotated[str | None, Query(description="Group keys: `a,b`.")] = None,
    agg: Annotated[
        list[str] | None,
        Query(description="`count`, `sum:f`, `avg:f`, `min:f`, `max:f`, `count_distinct:f`."),
    ] = None,
    version: Annotated[str | None, Query(description="A past version number.")] = None,
    bbox: Annotated[str | None, Query(description="`minlon,minlat,maxlon,maxlat`.")] = None,
    near: Annotated[str | None, Query(description="`lon,lat,metres`.")] = None,
    commune: Annotated[str | None, Query(description="An INSEE commune code.")] = None,
    as_of: Annotated[
        str | None,
        Query(description="The version published at this ISO date (end of day) or datetime."),
    ] = None,
) -> Response:
    """One page of records (or of groups), with the total, the fields and a `next` link."""
    del q, sort, select, limit, cursor, facet, group_by, agg  # read from the raw query
    del bbox, near, commune, as_of
    number = version_param(version)
    # One trip to the thread pool for the whole request (session, actor, query, JSON)
    # instead of one per synchronous dependency and one for the handler: on a cached page
    # those hops were most of the wait.
    return await run_in_threadpool(_records_response, request, slug, number)


def _records_response(request: Request, slug: str, number: int | None) -> Response:
    with short_session(request) as session:
        actor = get_actor(request, session)
        page = service.records(
            session,
            actor,
            get_settings(request),
            slug,
            request.query_params.multi_items(),
            version=number,
        )
        record_use(session, page.dataset, "api")  # in memory: flushed in batches
    base = str(request.base_url).rstrip("/")
    links: dict[str, Any] = {
        "self": str(request.url),
        "next": (
            str(request.url.include_query_params(cursor=page.next_cursor))
            if page.next_cursor
            else None
        ),
        "dataset": f"{base}/api/v1/datasets/{page.dataset}",
        "versions": f"{base}/api/v1/datasets/{page.dataset}/versions",
    }
    if page.encoded is None:  # a remembered page keeps its JSON: encoded once
        page.encoded = _json({"fields": page.fields, "data": page.data})[1:-1]
    head = _json({"dataset": page.dataset, "version": page.version, "published": page.published})
    tail: dict[str, Any] = {
        "meta": {
            "total": page.total,
            "total_exact": page.total_exact,
            "limit": page.limit,
            "grouped": page.grouped,
        },
        "links": links,
    }
    if page.facets:
        tail["facets"] = page.facets
    # The very bytes JSONResponse would write for the whole object, keys in this order.
    body = b"".join((head[:-1], b",", page.encoded, b",", _json(tail)[1:]))
    return Response(body, media_type="application/json")


def _json(value: Any) -> bytes:
    """JSON as :class:`fastapi.responses.JSONResponse` renders it."""
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")
