"""The lineage of a dataset as its portal page shows it, and view definitions in words.

:func:`dataset_lineage` gathers, for a view, the source versions behind its published
version (with their titles), when it was computed and its definition; for any dataset, the
views computed from it. Everything goes through :func:`beffroi.crossings.services.lineage`
and :func:`beffroi.access.crossings.visible_ids`: the visitor sees only the datasets they
may read, and a view's definition only when they may read every one of its sources.

:func:`describe_definition` puts a declarative join (or a SQL query) into plain French or
English sentences.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from beffroi.access import Actor
from beffroi.access import crossings as access
from beffroi.catalog.models import (
    CrossingSource,
    CrossingView,
    Dataset,
    DatasetVersion,
    VersionLineage,
)
from beffroi.crossings import services
from beffroi.crossings.definitions import JoinDefinition, Normaliser, parse_definition
from beffroi.errors import BeffroiError


@dataclass(frozen=True, slots=True)
class Source:
    """A source version behind the view's version."""

    slug: str
    title: str
    version: int
    current: bool  # still the source's published version
    is_view: bool


@dataclass(frozen=True, slots=True)
class Reader:
    """A view computed from the dataset."""

    slug: str
    title: str
    version: int | None
    from_version: int | None
    stale: bool


@dataclass(slots=True)
class DatasetLineage:
    """What the dataset page shows of a dataset's lineage."""

    is_view: bool
    version: int | None = None
    computed_at: dt.datetime | None = None
    stale: bool = False
    sources: list[Source] = field(default_factory=list)
    hidden_sources: int = 0
    readers: list[Reader] = field(default_factory=list)
    kind: str | None = None
    definition: dict[str, Any] | None = None  # None unless every source is readable
    sql: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to show (a plain dataset no visible view reads)."""
        return not self.is_view and not self.readers


def dataset_lineage(session: Session, actor: Actor, dataset: Dataset) -> DatasetLineage:
    """The lineage of a dataset the actor may read (see the module documentation)."""
    involved = (
        select(CrossingView.id)
        .where(CrossingView.dataset_id == dataset.id)
        .union_all(select(CrossingSource.view_id).where(CrossingSource.dataset_id == dataset.id))
    )
    if session.execute(involved.limit(1)).first() is None:
        return DatasetLineage(is_view=False)  # most datasets: one indexed lookup, no more
    payload = services.lineage(session, actor, dataset.slug)
    slugs = [u["dataset"] for u in payload["upstream"]] + [
        d["dataset"] for d in payload["downstream"]
    ]
    titles: dict[str, str] = {}
    if slugs:
        query = select(Dataset.slug, Dataset.title).where(Dataset.slug.in_(sorted(set(slugs))))
        titles = dict(session.execute(query).all())
    result = DatasetLineage(
        is_view=bool(payload["is_view"]),
        version=payload["version"],
        readers=[
            Reader(
                slug=d["dataset"],
                title=titles.get(d["dataset"], d["dataset"]),
                version=d["version"],
                from_version=d["from_version"],
                stale=bool(d["stale"]),
            )
            for d in payload["downstream"]
        ],
    )
    if not result.is_view:
        return result
    result.sources = [
        Source(
            slug=u["dataset"],
            title=titles.get(u["dataset"], u["dataset"]),
            version=u["version"],
            current=bool(u["published"]),
            is_view=bool(u["is_view"]),
        )
        for u in payload["upstream"]
    ]
    view = session.scalar(select(CrossingView).where(CrossingView.dataset_id == dataset.id))
    if view is None:  # removed between the two reads
        return result
    source_ids = list(
        session.scalars(select(CrossingSource.dataset_id).where(CrossingSource.view_id == view.id))
    )
    visible = access.visible_ids(session, actor, source_ids)
    result.hidden_sources = len(set(source_ids) - visible)
    result.stale = view.stale_since is not None
    result.kind = view.kind
    if not result.hidden_sources:
        result.definition = view.definition
        result.sql = view.sql
    if dataset.published_version_id is not None:
        result.computed_at = session.scalar(
            select(DatasetVersion.created_at).where(
                DatasetVersion.id == dataset.published_version_id
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class VersionSources:
    """The source versions that produced one version of a view."""

    sources: list[Source] = field(default_factory=list)  # those the actor may read
    hidden: int = 0  # the others: counted, never named


def versions_lineage(
    session: Session, actor: Actor, version_ids: Sequence[int]
) -> dict[int, VersionSources]:
    """For each of a view's versions (by id), the source versions that produced it — one
    query for every version, one visibility check; versions without lineage are absent."""
    if not version_ids:
        return {}
    produced = aliased(DatasetVersion)
    rows = session.execute(
        select(
            VersionLineage.version_id,
            produced.id,
            produced.number,
            Dataset.id,
            Dataset.slug,
            Dataset.title,
            Dataset.published_version_id,
            CrossingView.id,
        )
        .join(produced, produced.id == VersionLineage.source_version_id)
        .join(Dataset, Dataset.id == produced.dataset_id)
        .outerjoin(CrossingView, CrossingView.dataset_id == Dataset.id)
        .where(VersionLineage.version_id.in_(sorted(set(version_ids))))
        .order_by(VersionLineage.version_id, Dataset.slug)
    ).all()
    visible = access.visible_ids(session, actor, {row[3] for row in rows})
    found: dict[int, VersionSources] = {}
    for version_id, source_id, number, dataset_id, slug, title, published, view_id in rows:
        entry = found.setdefault(version_id, VersionSources())
        if dataset_id not in visible:
            found[version_id] = VersionSources(entry.sources, entry.hidden + 1)
            continue
        entry.sources.append(
            Source(
                slug=slug,
                title=title,
                version=number,
                current=published == source_id,
                is_view=view_id is not None,
            )
        )
    return found


# ---------------------------------------------------------------- definitions in words

_NORMALISERS = {
    "insee_normalize": ("code INSEE normalisé", "normalised INSEE code"),
    "siren_of_siret": ("SIREN tiré du SIRET", "SIREN taken from the SIRET"),
    "postal_to_insee": ("code INSEE du code postal", "INSEE code of the postal code"),
    "lower": ("en minuscules", "in lower case"),
    "trim": ("sans espaces autour", "without surrounding spaces"),
    "lower_trim": ("en minuscules, sans espaces autour", "in lower case, without spaces"),
}
_AGGREGATES = {
    "count": ("nombre de lignes", "number of rows"),
    "sum": ("somme de", "sum of"),
    "avg": ("moyenne de", "average of"),
    "min": ("minimum de", "minimum of"),
    "max": ("maximum de", "maximum of"),
    "count_distinct": ("nombre de valeurs distinctes de", "number of distinct values of"),
}
_REFERENCES = {
    "communes": ("le référentiel des communes (COG)", "the communes reference (COG)"),
    "departements": ("le référentiel des départements", "the départements reference"),
    "regions": ("le référentiel des régions", "the regions reference"),
    "epci": ("le référentiel des intercommunalités (EPCI)", "the EPCI reference"),
    "postal_codes": ("le référentiel des codes postaux", "the postal codes reference"),
}


def _q(name: str, en: bool) -> str:
    return f"'{name}'" if en else f"« {name} »"


def _normaliser(normaliser: Normaliser | None, en: bool) -> str:
    if normaliser is None:
        return ""
    if normaliser.function == "insee_current":
        text = (
            f"current commune code, from the {normaliser.year} codes"
            if en
            else f"code commune en vigueur, depuis les codes de {normaliser.year}"
        )
    else:
        text = _NORMALISERS[normaliser.function][1 if en else 0]
    return f" ({text})"


def _de(phrase: str) -> str:
    """French « de » before a phrase (« du » before « le »)."""
    return "du " + phrase.removeprefix("le ") if phrase.startswith("le ") else "de " + phrase


def _side_name(name: str, titles: dict[str, str], en: bool) -> str:
    if name.startswith("ref."):
        table = name.removeprefix("ref.")
        labels = _REFERENCES.get(table)
        if labels:
            return labels[1 if en else 0]
        return (
            f"the reference table {_q(name, en)}" if en else f"la table de référence {_q(name, en)}"
        )
    return _q(titles.get(name, name), en)


def describe_definition(
    definition: dict[str, Any], locale: str, titles: dict[str, str] | None = None
) -> list[str]:
    """A view's definition as sentences (French, or English when ``locale`` is ``en``);
    ``titles`` maps the source datasets' slugs to their titles (named by title)."""
    en = locale == "en"
    titles = titles or {}
    try:
        parsed = parse_definition(definition)
    except BeffroiError:
        return ["Unreadable definition." if en else "Définition illisible."]
    if not isinstance(parsed, JoinDefinition):
        # The sources come from the lineage (parsing the SQL again would cost a DuckDB run).
        names = ", ".join(_q(t, en) for t in titles.values()) or ", ".join(
            _q(s, en) for s in parsed.sources
        )
        if en:
            return [f"A read-only SQL query over {names}, shown below."]
        return [f"Une requête SQL en lecture seule sur {names}, reproduite ci-dessous."]
    return _describe_join(parsed, titles, en)


def _describe_join(parsed: JoinDefinition, titles: dict[str, str], en: bool) -> list[str]:
    left = _side_name(parsed.left, titles, en)
    right = _side_name(parsed.right, titles, en)
    sentences: list[str] = []
    if en:
        how = (
            "keeping every row of the left one, matched or not"
            if parsed.how == "left"
            else "keeping only the rows that match"
        )
        sentences.append(f"Join of {left} with {right}, {how}.")
    else:
        how = (
            "en gardant toutes les lignes du premier, qu'elles correspondent ou non"
            if parsed.how == "left"
            else "en ne gardant que les lignes qui correspondent"
        )
        sentences.append(f"Jointure {_de(left)} avec {right}, {how}.")
    for pair in parsed.on:
        a = _q(pair.left, en) + _normaliser(pair.normalize, en)
        b = _q(pair.right, en) + _normaliser(pair.normalize_right, en)
        if en:
            sentences.append(f"Rows match when column {a} of {left} equals column {b} of {right}.")
        else:
            sentences.append(
                f"Les lignes correspondent quand la colonne {a} {_de(left)} "
                f"est égale à la colonne {b} {_de(right)}."
            )
    sentences.extend(_spatial(parsed, en))
    sentences.extend(_columns(parsed, left, right, en))
    return sentences


def _spatial(parsed: JoinDefinition, en: bool) -> list[str]:
    sentences: list[str] = []
    if parsed.spatial is not None:
        spatial = parsed.spatial
        if spatial.point:
            where = (
                f"the point of column {_q(spatial.point, en)}"
                if en
                else f"le point de la colonne {_q(spatial.point, en)}"
            )
        else:
            lon, lat = _q(spatial.longitude or "", en), _q(spatial.latitude or "", en)
            where = (
                f"the position (longitude {lon}, latitude {lat})"
                if en
                else f"la position (longitude {lon}, latitude {lat})"
            )
        if en:
            sentences.append(f"Each row goes with the commune whose outline contains {where}.")
        else:
            sentences.append(
                f"Chaque ligne est rattachée à la commune dont le contour contient {where}."
            )
    return sentences


def _columns(parsed: JoinDefinition, left: str, right: str, en: bool) -> list[str]:
    sentences: list[str] = []
    kept = []
    for column in parsed.columns:
        origin = left if column.side == "left" else right
        text = f"{_q(column.name, en)} ({'from ' + origin if en else _de(origin)})"
        if column.as_ and column.as_ != column.name:
            text += f" {'named' if en else 'nommée'} {_q(column.as_, en)}"
        kept.append(text)
    if parsed.group_by or parsed.aggregates:
        # Every kept column is then a group key (checked by the definition).
        if kept:
            sentences.append(
                ("One row per value of: " if en else "Une ligne par valeur de : ")
                + ("; " if en else " ; ").join(kept)
                + "."
            )
        for aggregate in parsed.aggregates:
            label = _AGGREGATES[aggregate.function][1 if en else 0]
            if aggregate.name:
                origin = left if aggregate.side == "left" else right
                label += f" {_q(aggregate.name, en)} ({'from ' + origin if en else _de(origin)})"
            sentences.append(
                f"Column {_q(aggregate.as_, en)}: {label}."
                if en
                else f"Colonne {_q(aggregate.as_, en)} : {label}."
            )
    else:
        sentences.append(
            ("Columns kept: " if en else "Colonnes gardées : ")
            + ("; " if en else " ; ").join(kept)
            + "."
        )
    return sentences


__all__ = [
    "DatasetLineage",
    "Reader",
    "Source",
    "VersionSources",
    "dataset_lineage",
    "describe_definition",
    "versions_lineage",
]
