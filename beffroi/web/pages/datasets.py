"""Dataset list and dataset page (metadata, versions, table preview, chart, downloads, API).

The preview and the chart are server-rendered from the records query service
(:func:`beffroi.query.service.records`), so they work without JavaScript; the page's form
parameters are translated into the records API's query language here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from beffroi.access import Action, can
from beffroi.access.licences import licence_pending
from beffroi.catalog import search, services
from beffroi.catalog import versions as version_services
from beffroi.catalog.usage import record_use
from beffroi.catalog.vocabularies import FREQUENCIES, GRANULARITIES, LICENSES, THEMES
from beffroi.crossings.lineage import dataset_lineage, describe_definition, versions_lineage
from beffroi.errors import BeffroiError
from beffroi.query import service as query_service
from beffroi.query.exports import FORMATS
from beffroi.validate.conformance import conformance_by_version
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.i18n import negotiate
from beffroi.web.pages.charts import Bar, bar_chart
from beffroi.web.pages.rendering import render

router = APIRouter()

#: Filter operators offered by the preview form (records API suffix → label).
OPERATORS = {
    "eq": "est égal à",
    "ne": "est différent de",
    "contains": "contient",
    "startswith": "commence par",
    "gt": "est supérieur à",
    "gte": "est supérieur ou égal à",
    "lt": "est inférieur à",
    "lte": "est inférieur ou égal à",
}
PAGE_SIZES = (10, 20, 50, 100)
CHART_BARS = 15
NUMERIC = {"integer", "number"}
#: Downloads offered on the page: (label, export format, extra query parameters).
DOWNLOADS = [
    ("CSV", "csv", {}),
    ("CSV pour Excel (Windows-1252, « ; »)", "csv", {"excel_fr": "1"}),
    ("Excel (XLSX)", "xlsx", {}),
    ("JSON", "json", {}),
    ("NDJSON", "ndjson", {}),
    ("Parquet", "parquet", {}),
]


@dataclass
class TableState:
    """What the visitor asked the preview for (the page's query string)."""

    q: str = ""
    column: str = ""
    operator: str = "eq"
    value: str = ""
    sort: str = ""
    order: str = "asc"
    limit: int = 20
    cursor: str = ""
    start: int = 0
    chart: str = ""
    measure: str = "count"

    def filters(self) -> list[tuple[str, str]]:
        """The records-API parameters of the search and the filter."""
        params: list[tuple[str, str]] = []
        if self.q:
            params.append(("q", self.q))
        if self.column and self.value != "":
            params.append((f"{self.column}__{self.operator}", self.value))
        return params

    def records_params(self) -> list[tuple[str, str]]:
        """Parameters of one page of the preview."""
        params = [*self.filters(), ("limit", str(self.limit))]
        if self.sort:
            params.append(("sort", ("-" if self.order == "desc" else "") + self.sort))
        if self.cursor:
            params.append(("cursor", self.cursor))
        return params

    def chart_params(self) -> list[tuple[str, str]]:
        """Parameters of the chart's grouped query (largest groups first)."""
        aggregate = "count" if self.measure == "count" else f"sum:{self.measure}"
        order = "count" if self.measure == "count" else f"sum_{self.measure}"
        return [
            *self.filters(),
            ("group_by", self.chart),
            ("agg", aggregate),
            ("sort", f"-{order}"),
            ("limit", str(CHART_BARS)),
        ]

    def page_query(self, **changes: Any) -> str:
        """The page's query string with some values changed (empty values dropped)."""
        values = {
            "q": self.q,
            "colonne": self.column,
            "operateur": self.operator if self.column else "",
            "valeur": self.value,
            "tri": self.sort,
            "ordre": self.order if self.sort else "",
            "lignes": "" if self.limit == 20 else str(self.limit),
            "curseur": self.cursor,
            "debut": str(self.start) if self.start else "",
            "graphique": self.chart,
            "mesure": self.measure if self.chart and self.measure != "count" else "",
        }
        values.update({k: str(v) for k, v in changes.items()})
        return urlencode({k: v for k, v in values.items() if v})


@dataclass
class Preview:
    """One page of the table preview, or the reason it could not be shown."""

    fields: list[dict[str, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    next_cursor: str | None = None
    error: tuple[str, str | None] | None = None


@dataclass
class Chart:
    """The chart asked for, as SVG and as the table of its values."""

    column: str
    measure: str
    bars: list[Bar] = field(default_factory=list)
    svg: Markup | None = None
    error: tuple[str, str | None] | None = None


#: Query-string names of the search page's facets.
FACET_PARAMS = {facet.value: facet for facet in search.Facet}


@router.get("/jeux-de-donnees", response_class=HTMLResponse, name="dataset_list")
def dataset_list(request: Request, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    """Search the datasets the visitor may see: words, facets (counted over what the visitor
    may see), sort and paging — a plain GET form that works without JavaScript."""
    query = search.SearchQuery.from_params(request.query_params.multi_items(), names=FACET_PARAMS)
    result = search.search_datasets(session, actor, query)
    pairs = [(f.value, v) for f, v in query.active]
    base = [("q", query.q)] if query.q else []
    sort = [] if query.sort is search.Sort.RELEVANCE else [("tri", query.sort.value)]

    def link(drop: tuple[str, str] | None = None, page: int | None = None) -> str:
        kept = [p for p in pairs if p != drop]
        more = [("page", str(page))] if page and page > 1 else []
        return "?" + urlencode([*base, *kept, *sort, *more])

    return render(
        request,
        "dataset_list.html",
        {
            "actor": actor,
            "result": result,
            "query": query,
            "q": query.q,
            "facet_labels": search.FACET_LABELS,
            "sorts": SORT_LABELS,
            "removals": [
                (search.FACET_LABELS[f], _facet_label(result, f, v), link(drop=(f.value, v)))
                for f, v in query.active
            ],
            "clear_link": "?" + urlencode([*base, *sort]),
            "previous_link": link(page=result.page - 1),
            "next_link": link(page=result.page + 1),
        },
    )


SORT_LABELS = {
    search.Sort.RELEVANCE: "Pertinence",
    search.Sort.RECENT: "Les plus récents",
    search.Sort.TITLE: "Titre (A → Z)",
}


def _facet_label(result: search.SearchResult, facet: search.Facet, value: str) -> str:
    for item in result.facets.get(facet, []):
        if item.value == value:
            return item.label
    return value


def _state(request: Request) -> TableState:
    params = request.query_params
    limit = params.get("lignes", "20")
    start = params.get("debut", "0")
    return TableState(
        q=params.get("q", "").strip()[:200],
        column=params.get("colonne", "").strip(),
        operator=params.get("operateur", "eq") if params.get("operateur") in OPERATORS else "eq",
        value=params.get("valeur", "")[:500],
        sort=params.get("tri", "").strip(),
        order="desc" if params.get("ordre") == "desc" else "asc",
        limit=int(limit) if limit.isdigit() and int(limit) in PAGE_SIZES else 20,
        cursor=params.get("curseur", "")[:2000],
        start=int(start) if start.isdigit() else 0,
        chart=params.get("graphique", "").strip(),
        measure=params.get("mesure", "count").strip() or "count",
    )


def _has_positions(profile: Any) -> bool:
    """Whether the version's profile names a geometry column or a latitude/longitude pair
    (the map page draws them)."""
    columns = [p for p in profile or [] if isinstance(p, dict)]
    if any(p.get("type") == "geometry" for p in columns):
        return True
    semantics = {p.get("semantic") for p in columns}
    return {"latitude", "longitude"} <= semantics


def _preview(
    request: Request, session: Any, actor: Any, settings: Any, slug: str, state: TableState
) -> Preview:
    locale = negotiate(request, settings.default_locale)
    try:
        page = query_service.records(session, actor, settings, slug, state.records_params())
    except BeffroiError as exc:
        # A wrong column or value from the form: say what to fix, keep the page.
        try:
            bare = query_service.records(session, actor, settings, slug, [("limit", "1")])
            fields = bare.fields
        except BeffroiError:
            fields = []
        return Preview(fields=fields, error=exc.localized(locale))
    return Preview(
        fields=page.fields, rows=page.data, total=page.total, next_cursor=page.next_cursor
    )


def _chart(
    request: Request,
    session: Any,
    actor: Any,
    settings: Any,
    slug: str,
    state: TableState,
    title: str,
) -> Chart | None:
    if not state.chart:
        return None
    locale = negotiate(request, settings.default_locale)
    chart = Chart(column=state.chart, measure=state.measure)
    try:
        page = query_service.records(session, actor, settings, slug, state.chart_params())
    except BeffroiError as exc:
        chart.error = exc.localized(locale)
        return chart
    key = "count" if state.measure == "count" else f"sum_{state.measure}"
    empty = "(vide)" if locale == "fr" else "(empty)"
    for row in page.data:
        label = row.get(state.chart)
        value = row.get(key)
        chart.bars.append(
            Bar(
                label=empty if label is None else str(label),
                value=float(value) if isinstance(value, (int, float)) else 0.0,
            )
        )
    if locale == "en":
        what = "Number of rows" if state.measure == "count" else f"Sum of {state.measure}"
        description = (
            f"{what} by {state.chart}, the {len(chart.bars)} largest groups: "
            + "; ".join(f"{b.label}: {b.value:g}" for b in chart.bars)
        )
    else:
        what = "Nombre de lignes" if state.measure == "count" else f"Somme de {state.measure}"
        description = (
            f"{what} par {state.chart}, les {len(chart.bars)} groupes les plus grands : "
            + " ; ".join(f"{b.label} : {b.value:g}" for b in chart.bars)
        )
    chart.svg = bar_chart(
        chart.bars,
        title=f"{what} {'by' if locale == 'en' else 'par'} {state.chart} — {title}",
        description=description,
        ident="graphique",
        locale=locale,
    )
    return chart


def _snippets(base: str, slug: str, resource_id: str) -> dict[str, str]:
    records = f"{base}/api/v1/datasets/{slug}/records"
    return {
        "curl": f"curl '{records}?limit=20'",
        "python": (
            "import json, urllib.request\n\n"
            f'url = "{records}?limit=20"\n'
            "with urllib.request.urlopen(url) as response:\n"
            '    page = json.load(response)\nprint(page["meta"]["total"], page["data"][:3])'
        ),
        "ckan": (
            "from ckanapi import RemoteCKAN\n\n"
            f'portal = RemoteCKAN("{base}")\n'
            f'result = portal.action.datastore_search(resource_id="{resource_id}", limit=20)\n'
            'print(result["total"], result["records"][:3])'
        ),
    }


@router.get("/jeux-de-donnees/{slug}", response_class=HTMLResponse, name="dataset_page")
def dataset_page(
    slug: str, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> Response:
    """One dataset: metadata, versions, table preview, chart, downloads and API snippets;
    a former slug redirects permanently."""
    dataset, redirected = services.resolve_dataset(session, actor, slug)
    if redirected:
        target = str(request.url_for("dataset_page", slug=dataset.slug))
        if request.url.query:
            target += f"?{request.url.query}"
        return RedirectResponse(target, status_code=308)
    _dataset, versions = version_services.list_versions(session, actor, dataset.slug)
    record_use(session, dataset.id, "view")  # in memory: flushed in batches
    lineage = dataset_lineage(session, actor, dataset)
    # A view's versions each say which source versions produced them (one query for all).
    version_sources = (
        versions_lineage(session, actor, [v.id for v in versions]) if lineage.is_view else {}
    )
    locale = negotiate(request, settings.default_locale)
    definition = (
        describe_definition(lineage.definition, locale, {s.slug: s.title for s in lineage.sources})
        if lineage.definition is not None
        else []
    )
    state = _state(request)
    preview = chart = None
    must_accept = licence_pending(session, actor, dataset)  # registered: data after acceptance
    if dataset.published_version_id is not None and not must_accept:
        preview = _preview(request, session, actor, settings, dataset.slug, state)
        chart = _chart(request, session, actor, settings, dataset.slug, state, dataset.title)
    base = str(request.base_url).rstrip("/")
    filters = urlencode(state.filters())
    published = dataset.published_version
    mappable = preview is not None and published is not None and _has_positions(published.profile)
    downloads = [
        (
            label,
            f"/api/v1/datasets/{dataset.slug}/export.{fmt}"
            + (f"?{urlencode(extra)}" if extra else ""),
            f"/api/v1/datasets/{dataset.slug}/export.{fmt}?"
            + urlencode([*state.filters(), *extra.items()]),
        )
        for label, fmt, extra in DOWNLOADS
        if fmt in FORMATS
    ]
    return render(
        request,
        "dataset.html",
        {
            "actor": actor,
            "dataset": dataset,
            "versions": versions,
            "mappable": mappable,
            "map_link": f"/jeux-de-donnees/{dataset.slug}/carte"
            + (f"?{filters}" if filters else ""),
            "conformance": conformance_by_version(session, versions),
            "editor": can(actor, Action.DATASET_UPDATE, dataset.publisher_id),
            "places": services.describe_spatial(session, dataset.spatial),
            "licenses": LICENSES,
            "frequencies": FREQUENCIES,
            "themes": THEMES,
            "granularities": GRANULARITIES,
            "state": state,
            "preview": preview,
            "chart": chart,
            "operators": OPERATORS,
            "page_sizes": PAGE_SIZES,
            "numeric": NUMERIC,
            "downloads": downloads,
            "filtered": bool(filters),
            # CKAN resource ids are the store key and the format (beffroi.publish.formats).
            "snippets": _snippets(base, dataset.slug, f"{dataset.store_key}-csv"),
            "licence_pending": must_accept,
            "lineage": lineage,
            "version_sources": version_sources,
            "definition": definition,
        },
    )
