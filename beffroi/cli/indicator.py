"""``beffroi indicator``: the indicator catalogue, computation, values and lineage."""

from __future__ import annotations

import json
from pathlib import Path

import click

from beffroi.catalog.schemas import parse
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows
from beffroi.indicators import compute as comp
from beffroi.indicators import services
from beffroi.indicators.definitions import IndicatorCreate


@cli.group()
def indicator() -> None:
    """Indicateurs : catalogue, calcul, valeurs et provenance."""


@indicator.command("list")
@click.option("--theme", help="Thème UE, ex. TRAN.")
@json_option
@pass_context
def indicator_list(ctx: CliContext, theme: str | None, as_json: bool) -> None:
    """Lister les indicateurs."""
    with ctx.transaction() as session:
        rows = [
            services.indicator_public(i)
            for i in services.list_indicators(session, ctx.actor, theme=theme)
        ]
    print_rows(
        rows,
        ["code", "title", "unit", "period", "owner", "theme", "access_level"],
        as_json=as_json,
        title=f"Indicateurs ({len(rows)})",
    )


@indicator.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def indicator_create(ctx: CliContext, file: Path) -> None:
    """Créer un indicateur décrit dans un fichier JSON (et le calculer)."""
    try:
        fields = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"JSON illisible : {exc}", param_hint="FILE") from None
    data = parse(IndicatorCreate, fields)
    with ctx.transaction() as session:
        created = services.create_indicator(session, ctx.actor, ctx.settings, data)
        click.echo(f"Indicateur créé : {created.code}")


@indicator.command("compute")
@click.argument("code", required=False)
@click.option("--stale", is_flag=True, help="Seulement ceux dont une source a changé.")
@pass_context
def indicator_compute(ctx: CliContext, code: str | None, stale: bool) -> None:
    """Calculer un indicateur (ou tous) sur les versions publiées de ses sources."""
    with ctx.transaction() as session:
        if stale:
            runs = comp.refresh_stale(session, ctx.settings, [code] if code else None)
        else:
            runs = services.compute_indicators(session, ctx.actor, ctx.settings, code)
        failed = 0
        for run in runs:
            name = services.code_of(session, run.indicator_id)
            if run.status == "succeeded":
                sources = ", ".join(f"{s['dataset']} v{s['version']}" for s in run.sources)
                click.echo(
                    f"✓ {name} : {run.value_count} valeur(s) — {sources} — sql {run.sql_hash[:12]}"
                )
            else:
                failed += 1
                click.echo(f"✗ {name} : {run.error.get('detail')} → {run.error.get('hint')}")
    if not runs:
        click.echo("Aucun indicateur à calculer.")
    if failed:
        raise click.exceptions.Exit(1)


@indicator.command("show")
@click.argument("code")
@click.option("--commune", help="Code INSEE, ou epci pour le territoire entier.")
@click.option("--period", help="Période : 2025, 2025-Q1, 2025-03…")
@json_option
@pass_context
def indicator_show(
    ctx: CliContext, code: str, commune: str | None, period: str | None, as_json: bool
) -> None:
    """Afficher un indicateur, ses valeurs et leur provenance."""
    with ctx.transaction() as session:
        comp.refresh_stale(session, ctx.settings, [code])
        found = services.get_indicator(session, ctx.actor, code)
        described = services.indicator_public(found)
        values = services.values_public(
            services.indicator_values(session, ctx.actor, code, commune=commune, period=period)
        )
    if as_json:
        click.echo(json.dumps({**described, "values": values}, ensure_ascii=False, indent=2))
        return
    click.echo(f"{described['title']} ({described['unit']}) — {described['code']}")
    lineage = values["lineage"]
    if lineage:
        sources = ", ".join(f"{s['dataset']} v{s['version']}" for s in lineage["sources"])
        click.echo(f"Calculé le {lineage['computed_at']} sur {sources} (sql {lineage['sql_hash']})")
    print_rows(
        values["data"],
        ["commune", "commune_name", "period", "value", "raw", "population", "target_status"],
        as_json=False,
        title=f"Valeurs ({len(values['data'])})",
    )
