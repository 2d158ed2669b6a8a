"""Faceted dataset search: filters by facet, counts per facet value, sort and paging.

Only datasets the actor may read take part (:func:`beffroi.access.readable_datasets` is the
first condition of the one query), so a restricted dataset is neither listed nor counted.
Values of one facet are OR-ed, facets are AND-ed; each facet's counts apply every *other*
facet's selection (the usual "disjunctive" faceting), so ticking a value never hides its
siblings. The candidate rows are few (a territory's catalogue: hundreds, a few thousand),
so facets are counted in Python over one narrow query rather than one query per facet.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from beffroi.access import Actor, readable_datasets
from beffroi.catalog.identifiers import slugify
from beffroi.catalog.models import (
    Dataset,
    DatasetConformance,
    DatasetVersion,
    Organization,
    VersionConformance,
)
from beffroi.catalog.services import _json_list_has
from beffroi.catalog.vocabularies import LICENSES, THEMES


class Facet(enum.StrEnum):
    """The facets of the search, by query-string name."""

    ORGANIZATION = "organisation"
    COMMUNE = "commune"
    THEME = "theme"
    FORMAT = "format"
    LICENSE = "licence"
    SCHEMA = "schema"
    CONFORMANCE = "conformite"


class Sort(enum.StrEnum):
    """Orders of the results."""

    RELEVANCE = "pertinence"
    RECENT = "recents"
    TITLE = "titre"


#: Values of the conformance facet and their (French) labels.
CONFORMANCE_LABELS: dict[str, str] = {
    "conforme": "conforme",
    "non-conforme": "non conforme",
    "sans-schema": "sans schéma",
}
FACET_LABELS: dict[Facet, str] = {
    Facet.ORGANIZATION: "Producteur",
    Facet.COMMUNE: "Commune membre",
    Facet.THEME: "Thème",
    Facet.FORMAT: "Format",
    Facet.LICENSE: "Licence",
    Facet.SCHEMA: "Schéma de données",
    Facet.CONFORMANCE: "Conformité au schéma",
}
MAX_VALUES_PER_FACET = 50


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What the visitor asked: words, selected facet values, order, page."""

    q: str = ""
    selected: Mapping[Facet, frozenset[str]] = field(default_factory=dict)
    sort: Sort = Sort.RELEVANCE
    page: int = 1
    page_size: int = 20
    access_level: str | None = None
    """Prefilter (not a facet): one access level."""
    keyword: str | None = None
    """Prefilter (not a facet): one keyword."""

    def values(self, facet: Facet) -> frozenset[str]:
        """The selected values of one facet (empty: no constraint)."""
        return self.selected.get(facet, frozenset())

    @property
    def active(self) -> list[tuple[Facet, str]]:
        """Every selected (facet, value), in facet order then value order."""
        return [(f, v) for f in Facet for v in sorted(self.values(f))]

    @classmethod
    def from_params(
        cls, params: Iterable[tuple[str, str]], *, page_size: int = 20, names: Mapping[str, Facet]
    ) -> SearchQuery:
        """Read query-string pairs (``names`` maps a parameter name to its facet)."""
        q = ""
        page = 1
        sort = Sort.RELEVANCE
        selected: dict[Facet, set[str]] = {}
        for name, value in params:
            if name == "q":
                q = value.strip()[:200]
            elif name in {"tri", "sort"} and value in Sort._value2member_map_:
                sort = Sort(value)
            elif name == "page" and value.isdigit() and 0 < int(value) < 100_000:
                page = int(value)
            elif name in names and value.strip():
                selected.setdefault(names[name], set()).add(value.strip()[:300])
        return cls(
            q=q,
            selected={f: frozenset(v) for f, v in selected.items()},
            sort=sort,
            page=page,
            page_size=page_size,
        )


@dataclass(frozen=True, slots=True)
class FacetValue:
    """One value of a facet: its code, label and number of matching datasets."""

    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of results and the facets of the whole result."""

    items: list[Dataset]
    total: int
    page: int
    page_size: int
    facets: dict[Facet, list[FacetValue]]

    @property
    def has_next(self) -> bool:
        """Whether a further page exists."""
        return self.page * self.page_size < self.total


@dataclass(slots=True)
class _Row:
    id: int
    title: str
    modified_at: dt.datetime
    score: int
    values: dict[Facet, set[str]]


def _conformance(schema: str | None, valid: bool | None) -> set[str]:
    if valid is not None:
        return {"conforme" if valid else "non-conforme"}
    # A schema declared but no check of the published version yet: neither verdict.
    return set() if schema else {"sans-schema"}


def _candidates(
    session: Session, actor: Actor, wanted: SearchQuery
) -> tuple[list[_Row], dict[str, str]]:
    """Readable datasets matching the words, with their facet values; organisation names."""
    schema = func.coalesce(DatasetConformance.schema_ref, Dataset.schema_ref)
    query = (
        select(
            Dataset.id,
            Dataset.title,
            Dataset.description,
            Dataset.modified_at,
            Organization.slug,
            Organization.name,
            Dataset.themes,
            Dataset.spatial,
            Dataset.license,
            schema,
            DatasetVersion.dialect,
            VersionConformance.valid,
        )
        .join(Organization, Organization.id == Dataset.publisher_id)
        .outerjoin(DatasetVersion, DatasetVersion.id == Dataset.published_version_id)
        .outerjoin(VersionConformance, VersionConformance.version_id == DatasetVersion.id)
        .outerjoin(DatasetConformance, DatasetConformance.dataset_id == Dataset.id)
        .where(readable_datasets(actor))
    )
    if wanted.access_level:
        query = query.where(Dataset.access_level == wanted.access_level)
    if wanted.keyword:
        query = query.where(_json_list_has(Dataset.keywords, wanted.keyword))
    words = wanted.q.lower().split()
    for word in words:
        pattern = f"%{word}%"
        query = query.where(
            or_(
                func.lower(Dataset.title).like(pattern),
                func.lower(Dataset.description).like(pattern),
            )
        )
    rows: list[_Row] = []
    names: dict[str, str] = {}
    for (
        ident, title, description, modified, org_slug, org_name,
        themes, spatial, license_, schema_ref, dialect, valid,
    ) in session.execute(query):  # fmt: skip
        names[org_slug] = org_name
        lowered = title.lower()
        score = sum(3 if w in lowered else 0 for w in words)
        score += sum(1 for w in words if w in (description or "").lower())
        fmt = (dialect or {}).get("format")
        rows.append(
            _Row(
                id=ident,
                title=title,
                modified_at=modified,
                score=score,
                values={
                    Facet.ORGANIZATION: {org_slug},
                    Facet.COMMUNE: {
                        s.partition(":")[2] for s in spatial or [] if s.startswith("commune:")
                    },
                    Facet.THEME: set(themes or []),
                    Facet.FORMAT: {str(fmt)} if fmt else set(),
                    Facet.LICENSE: {license_} if license_ else set(),
                    Facet.SCHEMA: {schema_ref} if schema_ref else set(),
                    Facet.CONFORMANCE: _conformance(schema_ref, valid),
                },
            )
        )
    return rows, names


def _misses(rows: Sequence[_Row], query: SearchQuery) -> list[frozenset[Facet]]:
    """For each row, the facets whose selection it fails (empty: it matches them all)."""
    constraints = [(facet, wanted) for facet, wanted in query.selected.items() if wanted]
    return [frozenset(f for f, wanted in constraints if not wanted & row.values[f]) for row in rows]


def _labels(facet: Facet, values: Collection[str], names: Mapping[str, str]) -> dict[str, str]:
    lookup: Mapping[str, str]
    if facet is Facet.ORGANIZATION:
        lookup = names
    elif facet is Facet.COMMUNE:
        from beffroi import reference  # noqa: PLC0415 - loads the commune table on first use

        communes = reference.communes()
        lookup = {v: communes[v].name for v in values if v in communes}
    elif facet is Facet.THEME:
        lookup = THEMES
    elif facet is Facet.LICENSE:
        lookup = {code: label for code, (label, _url) in LICENSES.items()}
    elif facet is Facet.CONFORMANCE:
        lookup = CONFORMANCE_LABELS
    elif facet is Facet.FORMAT:
        lookup = {v: v.upper() for v in values}
    else:
        lookup = {}
    return {v: lookup.get(v, v) for v in values}


def _facet(
    facet: Facet,
    rows: Sequence[_Row],
    misses: Sequence[frozenset[Facet]],
    query: SearchQuery,
    names: Mapping[str, str],
) -> list[FacetValue]:
    counts: Counter[str] = Counter()
    for row, missed in zip(rows, misses, strict=True):
        # Counted when every *other* facet's selection matches (disjunctive faceting).
        if not missed or missed == {facet}:
            counts.update(row.values[facet])
    selected = query.values(facet)
    for value in selected:
        counts.setdefault(value, 0)  # a selected value stays listed (and removable)
    labels = _labels(facet, counts, names)
    if facet is Facet.CONFORMANCE:
        order = list(CONFORMANCE_LABELS)
        ranked = sorted(counts, key=lambda v: order.index(v) if v in order else len(order))
    else:
        ranked = sorted(counts, key=lambda v: (-counts[v], slugify(labels[v]) or v))
    kept = ranked[:MAX_VALUES_PER_FACET] + [
        v for v in ranked[MAX_VALUES_PER_FACET:] if v in selected
    ]
    return [FacetValue(v, labels[v], counts[v], v in selected) for v in kept]


def _ordered(rows: list[_Row], query: SearchQuery) -> list[_Row]:
    newest = sorted(rows, key=lambda r: (r.modified_at, r.id), reverse=True)
    if query.sort is Sort.TITLE:
        return sorted(rows, key=lambda r: (slugify(r.title), r.id))
    if query.sort is Sort.RELEVANCE and query.q:
        return sorted(newest, key=lambda r: -r.score)  # stable: newest first among equals
    return newest


def search_datasets(session: Session, actor: Actor, query: SearchQuery) -> SearchResult:
    """One page of the readable datasets matching ``query``, with facet counts."""
    rows, names = _candidates(session, actor, query)
    misses = _misses(rows, query)
    matching = [r for r, missed in zip(rows, misses, strict=True) if not missed]
    facets = {facet: _facet(facet, rows, misses, query, names) for facet in Facet}
    start = (query.page - 1) * query.page_size
    wanted = [r.id for r in _ordered(matching, query)[start : start + query.page_size]]
    loaded: dict[int, Dataset] = {}
    if wanted:
        found = session.scalars(
            select(Dataset).where(Dataset.id.in_(wanted)).options(selectinload(Dataset.publisher))
        )
        loaded = {d.id: d for d in found}
    items = [loaded[i] for i in wanted if i in loaded]
    return SearchResult(items, len(matching), query.page, query.page_size, facets)


def facets_public(result: SearchResult) -> dict[str, list[dict[str, Any]]]:
    """The facets as JSON (facet name → values with label, count, selected)."""
    return {
        facet.value: [
            {"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
            for v in values
        ]
        for facet, values in result.facets.items()
    }


__all__ = [
    "CONFORMANCE_LABELS",
    "FACET_LABELS",
    "Facet",
    "FacetValue",
    "SearchQuery",
    "SearchResult",
    "Sort",
    "facets_public",
    "search_datasets",
]
