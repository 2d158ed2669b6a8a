"""Indicator services called by the API, the pages and the CLI.

Who sees an indicator: its access level, read like a dataset's (``public`` everyone,
``registered`` signed-in actors, ``internal`` members of the EPCI's organisations,
``organization`` and ``restricted`` the members of the owner), on top of the access layer:
creating an indicator requires reading every source through :mod:`beffroi.access.reading`,
and only a steward of a non-public source's publisher may open its aggregates wider.
Statistical secrecy: a value counting fewer units than the sources' minimum cell size
(:class:`~beffroi.catalog.models.DatasetPrivacy`) is suppressed for everyone but the
owner's members and platform administrators.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi import reference
from beffroi.access import Action, Actor, require
from beffroi.access.policy import can, not_found
from beffroi.access.reading import readable_tables
from beffroi.catalog import audit
from beffroi.catalog.models import (
    AccessLevel,
    Dataset,
    Indicator,
    IndicatorAlert,
    IndicatorComputation,
    IndicatorSourceAlert,
    IndicatorValue,
    Organization,
    Role,
    utcnow,
)
from beffroi.catalog.services import get_organization
from beffroi.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
)
from beffroi.indicators import compute as comp
from beffroi.indicators.definitions import (
    DeclarativeDefinition,
    IndicatorCreate,
    IndicatorUpdate,
    check_consistency,
    sources_of,
)
from beffroi.settings import Settings

_OPEN_LEVELS = (AccessLevel.PUBLIC.value, AccessLevel.REGISTERED.value)


def visible(actor: Actor, indicator: Indicator) -> bool:
    """Whether the actor may see the indicator and its values."""
    if actor.is_platform_admin:
        return True
    level = indicator.access_level
    if level == AccessLevel.PUBLIC.value:
        return True
    if level == AccessLevel.REGISTERED.value:
        return actor.is_authenticated
    if level == AccessLevel.INTERNAL.value and actor.is_territory_member:
        return True
    return indicator.owner_id in actor.roles


def sees_secret_cells(actor: Actor, indicator: Indicator) -> bool:
    """Whether the actor sees values below the minimum cell size (owner, administrators)."""
    return actor.is_platform_admin or indicator.owner_id in actor.roles


def list_indicators(
    session: Session, actor: Actor, *, theme: str | None = None, owner: str | None = None
) -> list[Indicator]:
    """The indicators the actor may see, by theme then code."""
    query = select(Indicator).order_by(Indicator.theme, Indicator.code)
    if theme:
        query = query.where(Indicator.theme == theme)
    if owner:
        query = query.join(Organization, Organization.id == Indicator.owner_id).where(
            Organization.slug == owner
        )
    return [i for i in session.scalars(query) if visible(actor, i)]


def get_indicator(session: Session, actor: Actor, code: str) -> Indicator:
    """One visible indicator (an invisible one answers like a missing one)."""
    indicator = session.scalar(select(Indicator).where(Indicator.code == code))
    if indicator is None or not visible(actor, indicator):
        raise not_found("Indicateur", code)
    return indicator


def _check_sources(session: Session, actor: Actor, sources: list[str], level: str) -> None:
    readable = {t.slug for t in readable_tables(session, actor, slugs=sources)}
    missing = sorted(set(sources) - readable)
    if missing:
        names = ", ".join(missing)
        raise InvalidInputError(
            f"Jeu(x) de données source illisible(s) ou sans version publiée : {names}",
            hint="une définition ne lit que des jeux de données publiés que vous pouvez lire",
            message_en=f"Source dataset(s) unreadable or without a published version: {names}",
            hint_en="a definition reads only published datasets you may read",
        )
    if level not in _OPEN_LEVELS:
        return
    for dataset in session.scalars(select(Dataset).where(Dataset.slug.in_(sources))):
        if dataset.access_level == AccessLevel.PUBLIC.value:
            continue
        role = actor.role_in(dataset.publisher_id)
        if not actor.is_platform_admin and (role is None or role.rank < Role.STEWARD.rank):
            raise PermissionDeniedError(
                f"L'indicateur ne peut pas être {level} : la source {dataset.slug} est de "
                f"niveau {dataset.access_level}",
                hint="choisissez un niveau d'accès au moins aussi fermé que la source, ou "
                "demandez à un référent de son producteur de créer l'indicateur",
                message_en=f"The indicator cannot be {level}: source {dataset.slug} is "
                f"{dataset.access_level}",
                hint_en="choose an access level at least as closed as the source's",
            )


def create_indicator(
    session: Session, actor: Actor, settings: Settings, data: IndicatorCreate
) -> Indicator:
    """Create an indicator (editors of the owner) after checking its definition against
    the current published sources; its first values are computed at once."""
    owner = get_organization(session, data.owner)
    require(actor, Action.DATASET_CREATE, owner.id)
    if session.scalar(select(Indicator.id).where(Indicator.code == data.code)) is not None:
        raise ConflictError(
            f"Un indicateur de code {data.code} existe déjà",
            hint="choisissez un autre code, ou modifiez l'existant (PATCH)",
            message_en=f"An indicator with code {data.code} already exists",
            hint_en="choose another code, or update the existing one",
        )
    sources = sources_of(data.definition)
    _check_sources(session, actor, sources, data.access_level.value)
    comp.compile_definition(
        session,
        settings,
        data.definition,
        period=data.period,
        breakdown=data.breakdown,
        sources=sources,
    )
    indicator = Indicator(
        code=data.code,
        title=data.title,
        title_en=data.title_en,
        description=data.description,
        unit=data.unit,
        definition=data.definition.model_dump(mode="json"),
        period=data.period,
        breakdown=data.breakdown,
        normalisation=data.normalisation,
        cumulative=data.cumulative,
        target=data.target,
        alert_threshold=data.alert_threshold,
        direction=data.direction,
        owner_id=owner.id,
        theme=data.theme,
        access_level=data.access_level.value,
        sources=sources,
        created_by=actor.label,
    )
    session.add(indicator)
    session.flush()
    audit.record(session, actor, "indicator.create", "indicator", indicator.code)
    comp.compute(session, settings, indicator, trigger="création", actor=actor)
    return indicator


def update_indicator(
    session: Session, actor: Actor, settings: Settings, code: str, data: IndicatorUpdate
) -> Indicator:
    """Change an indicator (editors of the owner); a new definition is recomputed."""
    indicator = get_indicator(session, actor, code)
    require(actor, Action.DATASET_UPDATE, indicator.owner_id)
    changes = data.model_dump(exclude_unset=True)
    definition = data.definition or comp.definition_of(indicator)
    period = data.period or indicator.period
    breakdown = data.breakdown or indicator.breakdown
    cumulative = indicator.cumulative if data.cumulative is None else data.cumulative
    try:
        check_consistency(definition, period, breakdown, cumulative)
    except ValueError as exc:
        raise InvalidInputError(
            f"Définition incohérente : {exc}", hint="corrigez les champs signalés"
        ) from None
    sources = sources_of(definition)
    level = (data.access_level or AccessLevel(indicator.access_level)).value
    _check_sources(session, actor, sources, level)
    recompute = bool(
        {"definition", "period", "breakdown", "normalisation", "cumulative"} & set(changes)
    )
    if recompute:
        comp.compile_definition(
            session, settings, definition, period=period, breakdown=breakdown, sources=sources
        )
    for name, value in changes.items():
        if name == "definition":
            indicator.definition = definition.model_dump(mode="json")
        elif name == "access_level":
            indicator.access_level = level
        else:
            setattr(indicator, name, value)
    indicator.sources = sources
    indicator.modified_at = utcnow()
    session.flush()
    audit.record(
        session, actor, "indicator.update", "indicator", indicator.code, {"fields": sorted(changes)}
    )
    if recompute:
        comp.compute(session, settings, indicator, trigger="modification", actor=actor)
    return indicator


# ---------------------------------------------------------------- values


@dataclass(slots=True)
class ValueRow:
    """A value as served: suppressed (statistical secrecy) when it counts too few units."""

    commune: str | None
    commune_name: str | None
    period: str
    value: float | None
    raw: float | None
    population: int | None
    cell_count: int | None
    suppressed: bool


@dataclass(slots=True)
class IndicatorValues:
    """The values of an indicator's computation and that computation's lineage."""

    indicator: Indicator
    computation: IndicatorComputation | None
    rows: list[ValueRow] = field(default_factory=list)
    last_failure: IndicatorComputation | None = None

    def lineage(self) -> dict[str, Any] | None:
        """Where the values come from: source versions, SQL and hash, when, why."""
        run = self.computation
        if run is None:
            return None
        return {
            "computation": run.id,
            "computed_at": run.computed_at.isoformat(),
            "trigger": run.trigger,
            "sources": run.sources,
            "sql": run.sql,
            "sql_hash": run.sql_hash,
            "min_cell_size": run.min_cell_size,
        }


def _suppressed(run: IndicatorComputation, value: IndicatorValue, *, privileged: bool) -> bool:
    if privileged or run.min_cell_size is None:
        return False
    return value.cell_count is None or value.cell_count < run.min_cell_size


def indicator_values(
    session: Session,
    actor: Actor,
    code: str,
    *,
    commune: str | None = None,
    period: str | None = None,
    computation: int | None = None,
) -> IndicatorValues:
    """The current values of a visible indicator (or those of one past computation).

    ``commune``: an INSEE code, or ``epci`` for the whole territory only.
    """
    indicator = get_indicator(session, actor, code)
    if computation is not None:
        run = session.get(IndicatorComputation, computation)
        if run is None or run.indicator_id != indicator.id or run.status != "succeeded":
            raise not_found("Calcul d'indicateur", str(computation))
    else:
        run = comp.latest_computation(session, indicator)
    failure = session.scalar(
        select(IndicatorComputation)
        .where(IndicatorComputation.indicator_id == indicator.id)
        .order_by(IndicatorComputation.id.desc())
        .limit(1)
    )
    result = IndicatorValues(
        indicator=indicator,
        computation=run,
        last_failure=failure if failure is not None and failure.status == "failed" else None,
    )
    if run is None:
        return result
    privileged = sees_secret_cells(actor, indicator)
    names = reference.communes()
    for value in comp.values_of(session, run):
        if commune == "epci" and value.commune is not None:
            continue
        if commune not in {None, "epci"} and value.commune != commune:
            continue
        if period is not None and value.period != period:
            continue
        hidden = _suppressed(run, value, privileged=privileged)
        place = names.get(value.commune) if value.commune else None
        result.rows.append(
            ValueRow(
                commune=value.commune,
                commune_name=place.name if place else None,
                period=value.period,
                value=None if hidden else value.value,
                raw=None if hidden else value.raw,
                population=value.population,
                cell_count=None if hidden else value.cell_count,
                suppressed=hidden,
            )
        )
    return result


def history(session: Session, actor: Actor, code: str) -> list[IndicatorComputation]:
    """Every computation of a visible indicator, newest first (succeeded and failed)."""
    indicator = get_indicator(session, actor, code)
    return list(
        session.scalars(
            select(IndicatorComputation)
            .where(IndicatorComputation.indicator_id == indicator.id)
            .order_by(IndicatorComputation.id.desc())
        )
    )


def target_status(indicator: Indicator, value: float | None) -> str | None:
    """``reached``, ``alert`` (wrong side of the alert threshold), ``below`` or None."""
    if value is None:
        return None
    if comp.is_bad(indicator, value):
        return "alert"
    if indicator.target is None:
        return None
    better = (
        value >= indicator.target
        if indicator.direction == "higher"
        else (value <= indicator.target)
    )
    return "reached" if better else "below"


def compute_indicators(
    session: Session, actor: Actor, settings: Settings, code: str | None = None
) -> list[IndicatorComputation]:
    """Compute one indicator, or all of them (editors of the owner; the CLI's operator)."""
    query = select(Indicator).order_by(Indicator.code)
    if code is not None:
        query = query.where(Indicator.code == code)
    indicators = list(session.scalars(query))
    if code is not None and (not indicators or not visible(actor, indicators[0])):
        raise not_found("Indicateur", code)
    runs = []
    for indicator in indicators:
        if not can(actor, Action.DATASET_UPDATE, indicator.owner_id):
            if code is not None:
                require(actor, Action.DATASET_UPDATE, indicator.owner_id)
            continue
        trigger = "commande" if actor.surface == "cli" else f"demande de {actor.label}"
        runs.append(comp.compute(session, settings, indicator, trigger=trigger, actor=actor))
    return runs


# ---------------------------------------------------------------- alerts


AlertRow = TypeVar("AlertRow", IndicatorAlert, IndicatorSourceAlert)


def _alerts_of(
    session: Session, actor: Actor, model: type[AlertRow], *, unread: bool
) -> list[AlertRow]:
    """Rows of ``model`` for the indicators whose owner the actor is a steward (or admin) of."""
    if not actor.is_authenticated:
        raise AuthenticationError(
            "Connexion requise pour lire les alertes",
            hint="connectez-vous ou passez un jeton : Authorization: Bearer <jeton>",
            message_en="Sign in to read the alerts",
            hint_en="sign in or send a token: Authorization: Bearer <token>",
        )
    query = select(model).order_by(model.id.desc())
    if unread:
        query = query.where(model.read_at.is_(None))
    if not actor.is_platform_admin:
        owned = [org for org, role in actor.roles.items() if role.rank >= Role.STEWARD.rank]
        query = query.join(Indicator, Indicator.id == model.indicator_id).where(
            Indicator.owner_id.in_(owned)
        )
    return list(session.scalars(query))


def list_alerts(session: Session, actor: Actor, *, unread: bool = False) -> list[IndicatorAlert]:
    """Threshold alerts of the indicators whose owner the actor is a steward (or admin) of."""
    return _alerts_of(session, actor, IndicatorAlert, unread=unread)


def list_source_alerts(
    session: Session, actor: Actor, *, unread: bool = False
) -> list[IndicatorSourceAlert]:
    """Late-source alerts of the indicators whose owner the actor is a steward (or admin) of."""
    return _alerts_of(session, actor, IndicatorSourceAlert, unread=unread)


def source_alert_public(alert: IndicatorSourceAlert, code: str) -> dict[str, Any]:
    """The public view of a late-source alert."""
    return {
        "id": alert.id,
        "indicator": code,
        "dataset": alert.dataset,
        "frequency": alert.frequency,
        "published_at": alert.published_at,
        "created_at": alert.created_at.isoformat(),
        "read": alert.read_at is not None,
    }


# ---------------------------------------------------------------- public shapes


def indicator_public(indicator: Indicator) -> dict[str, Any]:
    """The public view of an indicator (API, CLI)."""
    return {
        "code": indicator.code,
        "title": indicator.title,
        "title_en": indicator.title_en,
        "description": indicator.description,
        "unit": indicator.unit,
        "definition": indicator.definition,
        "period": indicator.period,
        "breakdown": indicator.breakdown,
        "normalisation": indicator.normalisation,
        "cumulative": indicator.cumulative,
        "target": indicator.target,
        "alert_threshold": indicator.alert_threshold,
        "direction": indicator.direction,
        "owner": indicator.owner.slug,
        "theme": indicator.theme,
        "access_level": indicator.access_level,
        "sources": list(indicator.sources),
        "stale": indicator.stale_since is not None,
        "modified_at": indicator.modified_at.isoformat(),
    }


def _period_bounds(period: str) -> tuple[str, str] | None:
    """First day of a period and first day of the next (``2025-Q2`` → 2025-04-01, 2025-07-01)."""
    if not period:
        return None
    year = int(period[:4])
    if len(period) == 4:
        return f"{year}-01-01", f"{year + 1}-01-01"
    if period[5] == "Q":
        first = (int(period[6]) - 1) * 3 + 1
        end_year, end_month = (year + 1, 1) if first == 10 else (year, first + 3)
        return f"{year}-{first:02d}-01", f"{end_year}-{end_month:02d}-01"
    month = int(period[5:7])
    end_year, end_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year}-{month:02d}-01", f"{end_year}-{end_month:02d}-01"


def rows_link(indicator: Indicator, run: IndicatorComputation, row: ValueRow) -> str | None:
    """The records API query of the source rows behind a value (declarative definitions),
    at the source version the value was computed from; ``None`` for SQL definitions."""
    definition = comp.definition_of(indicator)
    if not isinstance(definition, DeclarativeDefinition) or not run.sources:
        return None
    params: list[tuple[str, str]] = [("version", str(run.sources[0]["version"]))]
    if row.commune is not None and definition.commune:
        params.append((definition.commune, row.commune))
    bounds = _period_bounds(row.period) if definition.date else None
    if bounds and definition.date:
        if not indicator.cumulative:  # a cumulated value counts every row up to its period
            params.append((f"{definition.date}__gte", bounds[0]))
        params.append((f"{definition.date}__lt", bounds[1]))
    for item in definition.filters:
        if item.op == "eq":
            params.append((item.column, str(item.value)))
        elif item.op in {"null", "notnull"}:
            params.append((f"{item.column}__null", "true" if item.op == "null" else "false"))
        elif isinstance(item.value, list):
            params.append((f"{item.column}__in", ",".join(str(v) for v in item.value)))
        else:
            params.append((f"{item.column}__{item.op}", str(item.value)))
    return f"/api/v1/datasets/{definition.dataset}/records?{urlencode(params)}"


def values_public(values: IndicatorValues) -> dict[str, Any]:
    """The values and their lineage as served by the API (with, for declarative
    definitions, the records query of each value's source rows)."""
    failure = values.last_failure
    run = values.computation
    return {
        "indicator": values.indicator.code,
        "unit": values.indicator.unit,
        "lineage": values.lineage(),
        "last_failure": (
            {"computed_at": failure.computed_at.isoformat(), **failure.error} if failure else None
        ),
        "data": [
            {
                "commune": r.commune,
                "commune_name": r.commune_name,
                "period": r.period,
                "value": r.value,
                "raw": r.raw,
                "population": r.population,
                "cell_count": r.cell_count,
                "suppressed": r.suppressed,
                "target_status": target_status(values.indicator, r.value),
                "rows": None
                if run is None or r.suppressed
                else rows_link(values.indicator, run, r),
            }
            for r in values.rows
        ],
    }


def alert_public(alert: IndicatorAlert, code: str) -> dict[str, Any]:
    """The public view of an alert."""
    return {
        "id": alert.id,
        "indicator": code,
        "commune": alert.commune,
        "period": alert.period,
        "value": alert.value,
        "threshold": alert.threshold,
        "previous": alert.previous,
        "created_at": alert.created_at.isoformat(),
        "read": alert.read_at is not None,
    }


def code_of(session: Session, indicator_id: int) -> str:
    """The code of an indicator by id."""
    indicator = session.get(Indicator, indicator_id)
    return indicator.code if indicator is not None else str(indicator_id)


def mark_alert_read(session: Session, actor: Actor, alert_id: int) -> IndicatorAlert:
    """Mark one of the actor's alerts read (stewards of the owner, administrators)."""
    for alert in list_alerts(session, actor):
        if alert.id == alert_id:
            if alert.read_at is None:
                alert.read_at = utcnow()
                session.flush()
            return alert
    raise not_found("Alerte", str(alert_id))


@dataclass(slots=True)
class AlertView:
    """An alert as listed on the alerts page."""

    alert: IndicatorAlert
    indicator: Indicator
    commune_name: str | None


def alert_views(session: Session, actor: Actor) -> list[AlertView]:
    """The actor's alerts with their indicator and commune name, newest first."""
    names = reference.communes()
    views = []
    for alert in list_alerts(session, actor):
        indicator = session.get(Indicator, alert.indicator_id)
        if indicator is None:
            continue
        place = names.get(alert.commune) if alert.commune else None
        views.append(AlertView(alert, indicator, place.name if place else None))
    return views


def source_alert_views(
    session: Session, actor: Actor
) -> list[tuple[IndicatorSourceAlert, Indicator]]:
    """The actor's late-source alerts with their indicator, newest first."""
    views = []
    for alert in list_source_alerts(session, actor):
        indicator = session.get(Indicator, alert.indicator_id)
        if indicator is not None:
            views.append((alert, indicator))
    return views


#: Days after which a source is late, by declared update frequency (EU vocabulary).
FREQUENCY_DAYS = {
    "DAILY": 2,
    "WEEKLY": 8,
    "BIWEEKLY": 15,
    "MONTHLY": 32,
    "BIMONTHLY": 62,
    "QUARTERLY": 93,
    "ANNUAL_2": 184,
    "ANNUAL": 366,
    "BIENNIAL": 731,
    "TRIENNIAL": 1096,
}


def source_freshness(
    session: Session, indicator: Indicator, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Each source's declared frequency, last publication and whether it is late."""
    moment = now or utcnow()
    result = []
    for dataset in session.scalars(select(Dataset).where(Dataset.slug.in_(indicator.sources))):
        version = dataset.published_version
        published = version.published_at if version is not None else None
        days = FREQUENCY_DAYS.get(dataset.frequency or "")
        late = (
            days is not None
            and published is not None
            and moment - published > dt.timedelta(days=days)
        )
        result.append(
            {
                "dataset": dataset.slug,
                "frequency": dataset.frequency,
                "published_at": published.isoformat() if published else None,
                "late": late,
            }
        )
    return result
