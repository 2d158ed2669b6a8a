"""Indicators: catalogue, values with their lineage (JSON, CSV), computations, alerts."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from beffroi.errors import NotFoundError
from beffroi.indicators import compute as comp
from beffroi.indicators import services
from beffroi.indicators.definitions import IndicatorCreate, IndicatorUpdate
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(tags=["indicators"], responses=ERROR_RESPONSES)

CommuneParam = Annotated[
    str | None, Query(description="INSEE code of a member commune, or `epci` for the total.")
]
PeriodParam = Annotated[str | None, Query(description="`2025`, `2025-Q1`, `2025-03`…")]
ComputationParam = Annotated[
    int | None, Query(description="A past computation (history); default: the latest.")
]
CSV_COLUMNS = [
    "commune",
    "commune_name",
    "period",
    "value",
    "raw",
    "population",
    "cell_count",
    "suppressed",
    "target_status",
]


class IndicatorList(BaseModel):
    """The indicators the caller may see."""

    data: list[dict[str, Any]]


@router.get("/indicators", response_model=IndicatorList)
def list_indicators(
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    theme: Annotated[str | None, Query(description="EU data theme code.")] = None,
    owner: Annotated[str | None, Query(description="Owner organisation slug.")] = None,
) -> IndicatorList:
    """Indicators visible to the caller, by theme then code."""
    comp.refresh_stale(session, settings)
    session.commit()
    found = services.list_indicators(session, actor, theme=theme, owner=owner)
    return IndicatorList(data=[services.indicator_public(i) for i in found])


@router.post("/indicators", status_code=status.HTTP_201_CREATED)
def create_indicator(
    body: IndicatorCreate, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> dict[str, Any]:
    """Create an indicator (editors of the owner organisation); computed at once."""
    created = services.create_indicator(session, actor, settings, body)
    session.commit()
    return services.indicator_public(created)


@router.get("/indicators/{code}")
def show_indicator(
    code: str, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> dict[str, Any]:
    """One indicator and the lineage of its current values."""
    comp.refresh_stale(session, settings, [code])
    session.commit()
    values = services.indicator_values(session, actor, code, commune="epci")
    return {
        **services.indicator_public(values.indicator),
        "lineage": values.lineage(),
        "freshness": services.source_freshness(session, values.indicator),
    }


@router.patch("/indicators/{code}")
def update_indicator(
    code: str, body: IndicatorUpdate, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> dict[str, Any]:
    """Change an indicator (editors of the owner); a new definition is recomputed."""
    changed = services.update_indicator(session, actor, settings, code, body)
    session.commit()
    return services.indicator_public(changed)


@router.post("/indicators/{code}/compute")
def compute_indicator(
    code: str, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> dict[str, Any]:
    """Compute now (editors of the owner); answers the new computation's lineage."""
    [run] = services.compute_indicators(session, actor, settings, code)
    session.commit()
    return _computation(run)


def _computation(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "computed_at": run.computed_at.isoformat(),
        "computed_by": run.computed_by,
        "sources": run.sources,
        "sql_hash": run.sql_hash,
        "value_count": run.value_count,
        "error": run.error or None,
    }


@router.get("/indicators/{code}/computations")
def list_computations(code: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Every computation of the indicator (its history), newest first."""
    return {"data": [_computation(r) for r in services.history(session, actor, code)]}


def _values(
    code: str,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    commune: str | None,
    period: str | None,
    computation: int | None,
) -> dict[str, Any]:
    comp.refresh_stale(session, settings, [code])
    session.commit()
    values = services.indicator_values(
        session, actor, code, commune=commune, period=period, computation=computation
    )
    return services.values_public(values)


@router.get("/indicators/{code}/values")
def indicator_values(
    code: str,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    commune: CommuneParam = None,
    period: PeriodParam = None,
    computation: ComputationParam = None,
) -> dict[str, Any]:
    """Values per commune and period, with their lineage (source versions, SQL, hash).

    Values counting fewer units than the sources' minimum cell size are suppressed
    (`value` null, `suppressed` true) except for the owner's members.
    """
    return _values(code, session, actor, settings, commune, period, computation)


@router.get("/indicators/{code}/values.{fmt}")
def export_values(
    code: str,
    fmt: str,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    commune: CommuneParam = None,
    period: PeriodParam = None,
    computation: ComputationParam = None,
) -> Response:
    """The values as a file: `csv` (lineage in the `X-Indicator-*` headers) or `json`."""
    if fmt not in {"csv", "json"}:
        raise NotFoundError(
            f"Format d'export inconnu : {fmt}",
            hint="formats : values.csv, values.json",
            message_en=f"Unknown export format: {fmt}",
            hint_en="formats: values.csv, values.json",
        )
    shown = _values(code, session, actor, settings, commune, period, computation)
    headers = {"Content-Disposition": f'attachment; filename="{code}.{fmt}"'}
    lineage = shown["lineage"] or {}
    if lineage:
        headers["X-Indicator-Computation"] = str(lineage["computation"])
        headers["X-Indicator-Sql-Hash"] = lineage["sql_hash"]
        headers["X-Indicator-Sources"] = ", ".join(
            f"{s['dataset']}@{s['version']}" for s in lineage["sources"]
        )
    if fmt == "json":
        body = json.dumps(shown, ensure_ascii=False)
        return Response(body, media_type="application/json", headers=headers)
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in shown["data"]:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/indicator-alerts")
def list_alerts(
    session: SessionDep,
    actor: ActorDep,
    unread: Annotated[bool, Query(description="Unread alerts only.")] = False,
) -> dict[str, Any]:
    """Alerts of the indicators owned by organisations the caller is a steward of: threshold
    crossings (``data``) and sources late against their update frequency (``late_sources``)."""
    alerts = services.list_alerts(session, actor, unread=unread)
    late = services.list_source_alerts(session, actor, unread=unread)
    return {
        "data": [
            services.alert_public(a, services.code_of(session, a.indicator_id)) for a in alerts
        ],
        "late_sources": [
            services.source_alert_public(a, services.code_of(session, a.indicator_id)) for a in late
        ],
    }


@router.post("/indicator-alerts/{alert_id}/read")
def read_alert(alert_id: int, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Mark an alert read (stewards of the indicator's owner)."""
    alert = services.mark_alert_read(session, actor, alert_id)
    session.commit()
    return services.alert_public(alert, services.code_of(session, alert.indicator_id))
