"""Computing indicators: values per commune and period, with their lineage and alerts.

A computation reads the **published** versions of the indicator's source datasets through
the access layer (as the instance itself, :meth:`Actor.system`) and the query engine's
sandbox; every SQL text passes the engine's guard. It stores one
:class:`~beffroi.catalog.models.IndicatorComputation` (the lineage: source dataset versions,
the SQL and its SHA-256) and its values; earlier computations stay (history). When a source
dataset publishes a version, :func:`mark_sources_changed` (called by
:func:`beffroi.catalog.versions.publish_version`) marks its indicators stale and
:func:`refresh_stale` recomputes them (the CLI, the API and the pages call it before
reading, so a published version is always reflected).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi import reference
from beffroi.access import Actor
from beffroi.access.reading import ReadableTable, readable_tables
from beffroi.catalog.models import (
    DatasetPrivacy,
    Indicator,
    IndicatorAlert,
    IndicatorComputation,
    IndicatorValue,
    Organization,
    utcnow,
)
from beffroi.errors import BeffroiError, InvalidInputError
from beffroi.indicators import notify
from beffroi.indicators.definitions import (
    DeclarativeDefinition,
    Definition,
    SqlDefinition,
    declarative_sql,
    sql_wrapper,
)
from beffroi.query.engine import QueryDatabase, engine_for
from beffroi.settings import Settings

log = logging.getLogger(__name__)

_DEFINITION: TypeAdapter[DeclarativeDefinition | SqlDefinition] = TypeAdapter(Definition)
COMPUTER = Actor.system(name="indicateurs", surface="jobs")


@dataclass(frozen=True, slots=True)
class Territory:
    """The EPCI the indicators describe: its SIREN, member INSEE codes and populations."""

    siren: str | None
    members: list[str]
    populations: dict[str, int]
    population: int | None

    @property
    def member_set(self) -> set[str]:
        """Member INSEE codes as a set."""
        return set(self.members)


def territory(session: Session) -> Territory:
    """The platform's EPCI (the first organisation of kind ``epci``) and its communes.

    Members come from the reference (COG / BANATIC) when the EPCI's SIREN is known there,
    else from the commune organisations of the catalogue.
    """
    epci = session.scalar(
        select(Organization).where(Organization.kind == "epci").order_by(Organization.id).limit(1)
    )
    communes = reference.communes()
    codes: list[str] = []
    total: int | None = None
    siren = epci.siren if epci is not None else None
    if siren:
        try:
            codes = [c.code_insee for c in reference.epci_members(siren)]
            total = reference.epci(siren).population_municipale
        except BeffroiError:
            codes = []
    if not codes:
        codes = sorted(
            o.insee_code
            for o in session.scalars(select(Organization).where(Organization.kind == "commune"))
            if o.insee_code
        )
    populations = {
        c: p for c in codes if (p := getattr(communes.get(c), "population_municipale", None))
    }
    if total is None and populations:
        total = sum(populations.values())
    return Territory(siren=siren, members=codes, populations=populations, population=total)


def definition_of(indicator: Indicator) -> DeclarativeDefinition | SqlDefinition:
    """The stored definition, validated."""
    return _DEFINITION.validate_python(indicator.definition)


def source_tables(session: Session, slugs: list[str]) -> list[ReadableTable]:
    """The published versions of the sources, or an error naming the missing ones."""
    tables = readable_tables(session, COMPUTER, slugs=slugs)
    missing = sorted(set(slugs) - {t.slug for t in tables})
    if missing:
        names = ", ".join(missing)
        raise InvalidInputError(
            f"Source(s) de l'indicateur sans version publiée ou inconnue(s) : {names}",
            hint="publiez une version de chaque jeu de données source "
            "(beffroi version publish SLUG N) ou corrigez la définition",
            message_en=f"Indicator source(s) unknown or without a published version: {names}",
            hint_en="publish a version of each source dataset or fix the definition",
        )
    return tables


@dataclass(slots=True)
class Compiled:
    """The base queries of a definition in one database."""

    database: QueryDatabase
    tables: list[ReadableTable]
    by_commune: str | None  # checked SQL of the per-commune values
    territory: str | None  # checked SQL of the whole-territory values (declarative only)

    @property
    def sql(self) -> str:
        """Every SQL text run, as recorded in the lineage."""
        return ";\n".join(s for s in (self.by_commune, self.territory) if s)


def compile_definition(
    session: Session,
    settings: Settings,
    definition: DeclarativeDefinition | SqlDefinition,
    *,
    period: str,
    breakdown: str,
    sources: list[str],
    where: Territory | None = None,
) -> Compiled:
    """Check a definition against the current published sources and compile it.

    Raises :class:`InvalidInputError` naming the unknown column, table or bad SQL.
    """
    where = where or territory(session)
    tables = source_tables(session, sources)
    database = engine_for(settings).database(tables)
    members = where.members or None
    if isinstance(definition, DeclarativeDefinition):
        view = database.views[definition.dataset]
        wanted = [definition.measure, definition.commune, definition.date]
        wanted += [f.column for f in definition.filters]
        for column in filter(None, wanted):
            if view.column(column) is None:
                known = ", ".join(view.names)
                raise InvalidInputError(
                    f"Colonne « {column} » absente du jeu de données {definition.dataset}",
                    hint=f"colonnes disponibles : {known}",
                    message_en=f"Column '{column}' is not in dataset {definition.dataset}",
                    hint_en=f"available columns: {known}",
                    details={"errors": [{"field": "definition", "message": column}]},
                )
        per_commune = None
        if breakdown == "commune":
            per_commune = database.check(
                declarative_sql(definition, period, by_commune=True, members=members)
            )
        whole = database.check(
            declarative_sql(
                definition,
                period,
                by_commune=False,
                members=members if definition.commune else None,
            )
        )
        database.describe(whole)  # binds: unknown functions or types fail here
        return Compiled(database, tables, per_commune, whole)
    checked = database.check(definition.sql)
    columns = {c.name: c.type for c in database.describe(checked)}
    wrapped = database.check(sql_wrapper(checked, columns, period))
    database.describe(wrapped)
    return Compiled(database, tables, wrapped, None)


def _rows(
    compiled: Compiled, settings: Settings
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    timeout = settings.query_timeout_seconds * 10
    per_commune = (
        compiled.database.rows(compiled.by_commune, timeout=timeout) if compiled.by_commune else []
    )
    whole = (
        compiled.database.rows(compiled.territory, timeout=timeout) if compiled.territory else []
    )
    return per_commune, whole


@dataclass(slots=True)
class Cell:
    """One value before storage."""

    commune: str | None
    period: str
    raw: float | None
    n: int | None


def _cumulate(cells: list[Cell]) -> list[Cell]:
    periods = sorted({c.period for c in cells})
    by_commune: dict[str | None, dict[str, Cell]] = defaultdict(dict)
    for cell in cells:
        by_commune[cell.commune][cell.period] = cell
    result: list[Cell] = []
    for commune, series in by_commune.items():
        total = 0.0
        count: int | None = 0
        started = False
        for period in periods:
            found = series.get(period)
            if found is not None:
                started = True
                total += found.raw or 0.0
                count = None if count is None or found.n is None else count + found.n
            if started:
                result.append(Cell(commune, period, total, count))
    return result


def _normalise(indicator: Indicator, raw: float | None, population: int | None) -> float | None:
    if raw is None:
        return None
    if indicator.normalisation == "none":
        return raw
    if not population:
        return None
    factor = 1000.0 if indicator.normalisation == "per_1000" else 1.0
    return raw * factor / population


def _cells(
    indicator: Indicator, where: Territory, per_commune: list[tuple[Any, ...]], whole: list[Any]
) -> list[Cell]:
    members = where.member_set
    cells = [
        Cell(str(c), str(p or ""), None if r is None else float(r), None if n is None else int(n))
        for c, p, r, n in per_commune
        if c is not None and (not members or c in members)
    ]
    explicit = [
        Cell(None, str(p or ""), None if r is None else float(r), None if n is None else int(n))
        for c, p, r, n in [*per_commune, *whole]
        if c is None
    ]
    if not explicit and cells:  # SQL definitions: the territory is the sum of its communes
        sums: dict[str, list[float | int | None]] = {}
        for cell in cells:
            acc = sums.setdefault(cell.period, [0.0, 0])
            acc[0] = (acc[0] or 0.0) + (cell.raw or 0.0)
            acc[1] = None if acc[1] is None or cell.n is None else int(acc[1]) + cell.n
        explicit = [
            Cell(None, p, float(v[0] or 0.0), None if v[1] is None else int(v[1]))
            for p, v in sums.items()
        ]
    cells += explicit
    if indicator.cumulative:
        cells = _cumulate(cells)
    return sorted(cells, key=lambda c: (c.commune or "", c.period))


def _min_cell_size(session: Session, tables: list[ReadableTable]) -> int | None:
    sizes = [
        s
        for s in session.scalars(
            select(DatasetPrivacy.min_cell_size).where(
                DatasetPrivacy.dataset_id.in_([t.dataset_id for t in tables])
            )
        )
        if s
    ]
    return max(sizes) if sizes else None


def sql_hash(sql: str, indicator: Indicator) -> str:
    """SHA-256 of what decides the values: the SQL run and the post-processing options."""
    text = "\n".join(
        [
            sql,
            indicator.period,
            indicator.breakdown,
            indicator.normalisation,
            str(indicator.cumulative),
        ]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compute(
    session: Session,
    settings: Settings,
    indicator: Indicator,
    *,
    trigger: str,
    actor: Actor = COMPUTER,
) -> IndicatorComputation:
    """Compute one indicator now and store the values with their lineage.

    A failure (a source renamed a column, a source without published version…) is
    recorded as a failed computation with the error, never raised: the previous values
    stay the current ones.
    """
    run = IndicatorComputation(
        indicator_id=indicator.id,
        status="running",
        trigger=trigger[:200],
        computed_by=actor.label,
        computed_at=utcnow(),
    )
    session.add(run)
    where = territory(session)
    try:
        compiled = compile_definition(
            session,
            settings,
            definition_of(indicator),
            period=indicator.period,
            breakdown=indicator.breakdown,
            sources=list(indicator.sources),
            where=where,
        )
        run.sql = compiled.sql
        run.sql_hash = sql_hash(compiled.sql, indicator)
        run.sources = [
            {
                "dataset": t.slug,
                "dataset_id": t.dataset_id,
                "version": t.version,
                "store_version": t.store_version,
            }
            for t in compiled.tables
        ]
        run.min_cell_size = _min_cell_size(session, compiled.tables)
        per_commune, whole = _rows(compiled, settings)
        cells = _cells(indicator, where, per_commune, whole)
    except BeffroiError as exc:
        run.status = "failed"
        run.error = {"code": exc.code, "detail": exc.message, "hint": exc.hint}
        if exc.message_en:
            run.error |= {"message_en": exc.message_en, "hint_en": exc.hint_en}
        indicator.stale_since = None
        session.flush()
        log.warning("indicator %s failed: %s", indicator.code, exc.message)
        return run
    session.flush()
    previous = latest_computation(session, indicator, before=run.id)
    for cell in cells:
        population = where.populations.get(cell.commune) if cell.commune else where.population
        session.add(
            IndicatorValue(
                indicator_id=indicator.id,
                computation_id=run.id,
                commune=cell.commune,
                period=cell.period,
                raw=cell.raw,
                value=_normalise(indicator, cell.raw, population),
                population=population,
                cell_count=cell.n,
            )
        )
    run.status = "succeeded"
    run.value_count = len(cells)
    indicator.stale_since = None
    session.flush()
    alerts = raise_alerts(session, indicator, run, previous)
    notify.after_commit(
        session, settings, indicator, [notify.threshold_payload(indicator, a) for a in alerts]
    )
    return run


def latest_computation(
    session: Session, indicator: Indicator, *, before: int | None = None
) -> IndicatorComputation | None:
    """The indicator's latest succeeded computation (before computation ``before``)."""
    query = select(IndicatorComputation).where(
        IndicatorComputation.indicator_id == indicator.id,
        IndicatorComputation.status == "succeeded",
    )
    if before is not None:
        query = query.where(IndicatorComputation.id < before)
    return session.scalar(query.order_by(IndicatorComputation.id.desc()).limit(1))


def values_of(session: Session, run: IndicatorComputation) -> list[IndicatorValue]:
    """The values of one computation, by commune (territory first) and period."""
    return list(
        session.scalars(
            select(IndicatorValue)
            .where(IndicatorValue.computation_id == run.id)
            .order_by(
                IndicatorValue.commune.is_not(None), IndicatorValue.commune, IndicatorValue.period
            )
        )
    )


def is_bad(indicator: Indicator, value: float | None) -> bool:
    """Whether a value is on the wrong side of the alert threshold."""
    if value is None or indicator.alert_threshold is None:
        return False
    if indicator.direction == "higher":
        return value < indicator.alert_threshold
    return value > indicator.alert_threshold


def raise_alerts(
    session: Session,
    indicator: Indicator,
    run: IndicatorComputation,
    previous: IndicatorComputation | None,
) -> list[IndicatorAlert]:
    """In-app alerts for the values that crossed the alert threshold.

    A crossing is a value on the wrong side of the threshold whose previous value was on
    the right side: the same commune and period in the previous computation when there is
    one (a new source version changed it), else the commune's previous period.
    """
    if indicator.alert_threshold is None:
        return []
    current = values_of(session, run)
    before = (
        {(v.commune, v.period): v.value for v in values_of(session, previous)} if previous else {}
    )
    by_commune: dict[str | None, list[IndicatorValue]] = defaultdict(list)
    for value in current:
        by_commune[value.commune].append(value)
    alerts = []
    for commune, series in by_commune.items():
        series.sort(key=lambda v: v.period)
        latest = series[-1]
        if (commune, latest.period) in before:
            prior = before[(commune, latest.period)]
        else:
            prior = series[-2].value if len(series) > 1 else None
        if prior is None or not is_bad(indicator, latest.value) or is_bad(indicator, prior):
            continue
        assert latest.value is not None  # noqa: S101 - is_bad is False for None
        alert = IndicatorAlert(
            indicator_id=indicator.id,
            computation_id=run.id,
            commune=commune,
            period=latest.period,
            value=latest.value,
            threshold=indicator.alert_threshold,
            previous=prior,
        )
        session.add(alert)
        alerts.append(alert)
    session.flush()
    return alerts


def refresh_stale(
    session: Session,
    settings: Settings,
    codes: list[str] | None = None,
    *,
    trigger: str = "publication d'une source",
) -> list[IndicatorComputation]:
    """Recompute the stale indicators (optionally only among ``codes``)."""
    query = select(Indicator).where(Indicator.stale_since.is_not(None)).order_by(Indicator.code)
    if codes is not None:
        query = query.where(Indicator.code.in_(codes))
    return [
        compute(session, settings, indicator, trigger=trigger)
        for indicator in session.scalars(query).all()
    ]
