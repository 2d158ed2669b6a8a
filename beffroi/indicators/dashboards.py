"""What the dashboards show: per indicator, the headline figure with trend and target
status, a time series and a bar chart comparing communes (SVG with text alternatives).

The EPCI dashboard shows the whole territory's figures; a commune's dashboard shows that
commune's, beside the territory's. Values go through :func:`services.indicator_values`
(visibility and statistical secrecy apply).
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from beffroi import reference
from beffroi.access import Actor
from beffroi.catalog.models import Indicator
from beffroi.indicators import charts, services
from beffroi.indicators.compute import territory

EN = {
    "objectif": "target",
    "Territoire": "Territory",
    "secret statistique": "statistical secrecy",
    "Évolution de « {title} »": "Trend of “{title}”",
    "« {title} » par commune, {period}": "“{title}” by commune, {period}",
    "Valeurs par période : {values}.": "Values by period: {values}.",
    "Valeurs par commune : {values}.": "Values by commune: {values}.",
    "Objectif : {target}.": "Target: {target}.",
    "Carte de « {title} », {period}": "Map of “{title}”, {period}",
    "pas de valeur": "no value",
    "sans valeur publiée": "no published value",
}


@cache
def shapes(siren: str) -> dict[str, tuple[str, list[list[tuple[float, float]]]]]:
    """The shipped commune outlines of an EPCI (code → name, rings); empty when none.

    An EPCI's own file (``communes-<SIREN>.geojson``) is read when shipped; otherwise its
    member communes are taken from the national layer (``communes-france.geojson.gz``,
    every commune with its EPCI's SIREN), so that any EPCI gets its map.
    """
    data = resources.files("beffroi.indicators") / "data"
    source = data / f"communes-{siren}.geojson"
    if source.is_file():
        features = json.loads(source.read_text(encoding="utf-8"))["features"]
    else:
        features = [
            feature
            for feature in _national_features()
            if feature["properties"].get("epci_siren") == siren
        ]
    found: dict[str, tuple[str, list[list[tuple[float, float]]]]] = {}
    for feature in features:
        geometry = feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        rings = [
            [(float(x), float(y)) for x, y in ring] for polygon in polygons for ring in polygon
        ]
        found[feature["properties"]["code_insee"]] = (feature["properties"]["nom"], rings)
    return found


@cache
def _national_features() -> list[dict[str, Any]]:
    """Every commune of the national simplified layer (read once, on the first map)."""
    source = resources.files("beffroi.indicators") / "data" / "communes-france.geojson.gz"
    features: list[dict[str, Any]] = json.loads(gzip.decompress(source.read_bytes()))["features"]
    return features


def tr(text: str, locale: str) -> str:
    """French text in the page language."""
    return EN.get(text, text) if locale == "en" else text


def number(value: float | None, locale: str = "fr") -> str:
    """A value with the precision its size calls for, written as the locale does."""
    if value is None or not math.isfinite(value):
        return "—"
    size = abs(value)
    digits = 0 if size >= 100 or float(value).is_integer() else 1 if size >= 10 else 2
    text = f"{value:,.{digits}f}"
    if locale == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


@dataclass(slots=True)
class Card:
    """One indicator on a dashboard."""

    indicator: Indicator
    title: str
    period: str | None = None
    value: float | None = None
    suppressed: bool = False
    previous_period: str | None = None
    previous: float | None = None
    trend: str | None = None  # up / down / flat
    status: str | None = None  # reached / below / alert
    territory_value: float | None = None
    series: Markup | None = None
    bars: Markup | None = None
    map: Markup | None = None
    series_rows: list[tuple[str, float | None, float | None]] = field(default_factory=list)
    bar_rows: list[tuple[str, str, float | None, bool]] = field(default_factory=list)
    lineage: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


@dataclass(slots=True)
class Dashboard:
    """A dashboard: its cards, and the communes and themes to navigate to."""

    cards: list[Card]
    communes: list[tuple[str, str]]  # (INSEE code, name)
    themes: list[str]
    commune: tuple[str, str] | None = None
    theme: str | None = None


def _trend(previous: float | None, value: float | None) -> str | None:
    if previous is None or value is None:
        return None
    if math.isclose(previous, value, rel_tol=0.005):
        return "flat"
    return "up" if value > previous else "down"


def _card(
    session: Session,
    actor: Actor,
    indicator: Indicator,
    commune: str | None,
    locale: str,
    siren: str | None = None,
) -> Card:
    title = (indicator.title_en or indicator.title) if locale == "en" else indicator.title
    values = services.indicator_values(session, actor, indicator.code)
    card = Card(indicator=indicator, title=title, lineage=values.lineage())
    if values.last_failure is not None:
        card.failure = values.last_failure.error
    names = reference.communes()
    whole = {r.period: r for r in values.rows if r.commune is None}
    own = (
        {r.period: r for r in values.rows if r.commune == commune} if commune is not None else whole
    )
    periods = sorted(own)
    if periods:
        latest = own[periods[-1]]
        card.period = latest.period
        card.value = latest.value
        card.suppressed = latest.suppressed
        if len(periods) > 1:
            card.previous_period = periods[-2]
            card.previous = own[periods[-2]].value
        card.trend = _trend(card.previous, card.value)
        card.status = services.target_status(indicator, card.value)
        if latest.period in whole:
            card.territory_value = whole[latest.period].value

    def fmt(value: float | None) -> str:
        return number(value, locale)

    unit = f" {indicator.unit}"
    ident = f"g-{indicator.code}"
    all_periods = sorted(set(whole) | set(own))
    if len(all_periods) > 1:
        card.series_rows = [
            (p, own[p].value if p in own else None, whole[p].value if p in whole else None)
            for p in all_periods
        ]
        lines = [charts.Series(tr("Territoire", locale), [(p, t) for p, _v, t in card.series_rows])]
        if commune is not None:
            name = names[commune].name if commune in names else commune
            lines.insert(0, charts.Series(name, [(p, v) for p, v, _t in card.series_rows]))
        listed = "; ".join(
            f"{p} : {fmt(v) if v is not None else '—'}" for p, v, _t in card.series_rows
        )
        description = tr("Valeurs par période : {values}.", locale).format(values=listed + unit)
        if indicator.target is not None:
            description += " " + tr("Objectif : {target}.", locale).format(
                target=fmt(indicator.target)
            )
        card.series = charts.line_chart(
            lines,
            title=tr("Évolution de « {title} »", locale).format(title=title),
            description=description,
            ident=f"{ident}-serie",
            fmt=fmt,
            target=indicator.target,
            target_label=tr("objectif", locale),
        )
    if indicator.breakdown == "commune" and card.period is not None:
        rows = sorted(
            (r for r in values.rows if r.commune is not None and r.period == card.period),
            key=lambda r: (r.value is None, -(r.value or 0.0)),
        )
        card.bar_rows = [
            (r.commune_name or r.commune or "", r.commune or "", r.value, r.commune == commune)
            for r in rows
        ]
        secret = tr("secret statistique", locale)
        bars = [
            charts.Bar(label, value, highlight, "" if value is not None else secret)
            for label, _code, value, highlight in card.bar_rows
        ]
        listed = "; ".join(
            f"{label} : {fmt(value) if value is not None else secret}"
            for label, _code, value, _h in card.bar_rows
        )
        card.bars = charts.bar_chart(
            bars,
            title=tr("« {title} » par commune, {period}", locale).format(
                title=title, period=card.period or "—"
            ),
            description=tr("Valeurs par commune : {values}.", locale).format(values=listed + unit),
            ident=f"{ident}-communes",
            fmt=fmt,
            target=indicator.target,
        )
        outlines = shapes(siren) if siren else {}
        if outlines:
            by_code = {code: (value, highlight) for _l, code, value, highlight in card.bar_rows}
            areas = [
                charts.Area(
                    code,
                    name,
                    rings,
                    by_code.get(code, (None, False))[0],
                    code == commune,
                    secret if code in by_code else tr("pas de valeur", locale),
                )
                for code, (name, rings) in sorted(outlines.items())
            ]
            card.map = charts.choropleth(
                areas,
                title=tr("Carte de « {title} », {period}", locale).format(
                    title=title, period=card.period or "—"
                ),
                description=tr("Valeurs par commune : {values}.", locale).format(
                    values=listed + unit
                ),
                ident=f"{ident}-carte",
                fmt=fmt,
                missing_label=tr("sans valeur publiée", locale),
            )
    return card


def dashboard(
    session: Session,
    actor: Actor,
    *,
    commune: str | None = None,
    theme: str | None = None,
    locale: str = "fr",
    codes: list[str] | None = None,
) -> Dashboard:
    """The EPCI dashboard (``commune=None``) or a member commune's, optionally one theme."""
    where = territory(session)
    names = reference.communes()
    communes = sorted(((c, names[c].name) for c in where.members if c in names), key=lambda c: c[1])
    chosen = None
    if commune is not None:
        found = [c for c in communes if c[0] == commune]
        if not found:
            from beffroi.access.policy import not_found  # noqa: PLC0415

            raise not_found("Commune membre", commune)
        chosen = found[0]
    indicators = services.list_indicators(session, actor)
    themes = sorted({i.theme for i in indicators})
    if theme is not None:
        indicators = [i for i in indicators if i.theme == theme]
    if codes is not None:
        indicators = [i for i in indicators if i.code in codes]
    if commune is not None:
        indicators = [i for i in indicators if i.breakdown == "commune"]
    cards = [_card(session, actor, i, commune, locale, where.siren) for i in indicators]
    return Dashboard(cards=cards, communes=communes, themes=themes, commune=chosen, theme=theme)


@dataclass(slots=True)
class Comparison:
    """Chosen communes side by side: per indicator, their latest values and series."""

    communes: list[tuple[str, str]]  # chosen (INSEE code, name)
    choices: list[tuple[str, str]]  # every member commune
    cards: list[Card]


MAX_COMPARED = 3


def comparison(
    session: Session, actor: Actor, communes: list[str], *, locale: str = "fr"
) -> Comparison:
    """Up to three member communes compared on every visible per-commune indicator."""
    where = territory(session)
    names = reference.communes()
    choices = sorted(((c, names[c].name) for c in where.members if c in names), key=lambda c: c[1])
    known = dict(choices)
    chosen = [(c, known[c]) for c in dict.fromkeys(communes) if c in known][:MAX_COMPARED]
    cards = []
    for indicator in services.list_indicators(session, actor):
        if indicator.breakdown != "commune":
            continue
        title = (indicator.title_en or indicator.title) if locale == "en" else indicator.title
        values = services.indicator_values(session, actor, indicator.code)
        card = Card(indicator=indicator, title=title, lineage=values.lineage())
        by_key = {(r.commune, r.period): r.value for r in values.rows}
        periods = sorted({r.period for r in values.rows})
        card.period = periods[-1] if periods else None
        card.bar_rows = [
            (name, code, by_key.get((code, card.period or "")), False) for code, name in chosen
        ]
        if len(periods) > 1 and chosen:

            def fmt(value: float | None) -> str:
                return number(value, locale)

            lines = [
                charts.Series(name, [(p, by_key.get((code, p))) for p in periods])
                for code, name in chosen
            ]
            listed = "; ".join(
                f"{name}, {p} : {fmt(by_key.get((code, p)))}"
                for code, name in chosen
                for p in periods
            )
            card.series = charts.line_chart(
                lines,
                title=tr("Évolution de « {title} »", locale).format(title=title),
                description=tr("Valeurs par période : {values}.", locale).format(
                    values=f"{listed} {indicator.unit}"
                ),
                ident=f"g-{indicator.code}-comparaison",
                fmt=fmt,
                target=indicator.target,
                target_label=tr("objectif", locale),
            )
        cards.append(card)
    return Comparison(communes=chosen, choices=choices, cards=cards)
