"""``beffroi view``: crossings (derived datasets): create, list, recompute, lineage."""

from __future__ import annotations

import json
from pathlib import Path

import click

from beffroi.catalog.schemas import parse
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows
from beffroi.crossings import services
from beffroi.crossings.services import ViewCreate


@cli.group()
def view() -> None:
    """Croisements (vues) : jeux de données dérivés, recalculés à chaque publication d'une
    source, avec leur provenance."""


@view.command("create")
@click.option(
    "--file",
    "file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Fichier JSON : slug, owner, title, access_level, definition (sql ou join).",
)
@click.option("--no-run", is_flag=True, help="Créer sans calculer la première version.")
@pass_context
def view_create(ctx: CliContext, file: Path, no_run: bool) -> None:
    """Créer une vue décrite dans un fichier JSON et calculer sa première version."""
    try:
        fields = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"JSON illisible : {exc}", param_hint="--file") from None
    data = parse(ViewCreate, fields)
    with ctx.transaction() as session:
        created, job = services.create_view(session, ctx.actor, ctx.settings, data)
        slug, job_id = created.dataset.slug, job.id
    click.echo(f"Vue créée : {slug} (tâche {job_id})")
    if not no_run:
        _run(ctx)


@view.command("list")
@json_option
@pass_context
def view_list(ctx: CliContext, as_json: bool) -> None:
    """Lister les vues."""
    with ctx.transaction() as session:
        rows = [
            services.view_payload(session, ctx.actor, v)
            for v in services.list_views(session, ctx.actor)
        ]
    for row in rows:
        row["sources"] = ", ".join(row["sources"])
    print_rows(
        rows,
        ["dataset", "kind", "owner", "access_level", "sources", "version", "rows", "stale"],
        as_json=as_json,
        title=f"Vues ({len(rows)})",
    )


@view.command("refresh")
@click.argument("slug", required=False)
@click.option("--pending", is_flag=True, help="Exécuter les recalculs en attente (toutes vues).")
@pass_context
def view_refresh(ctx: CliContext, slug: str | None, pending: bool) -> None:
    """Recalculer une vue (et les vues qui en dépendent), ou les recalculs en attente."""
    if slug is None and not pending:
        raise click.UsageError("donnez l'identifiant d'une vue, ou --pending")
    if slug is not None:
        with ctx.transaction() as session:
            services.request_refresh(session, ctx.actor, slug)
    _run(ctx)


def _run(ctx: CliContext) -> None:
    runs = services.refresh_pending(ctx.session_factory, ctx.settings)
    failed = 0
    with ctx.session_factory() as session:
        for job_id, name, status in runs:
            if status == "succeeded":
                result = services.job_result(session, job_id)
                sources = ", ".join(f"{s['dataset']} v{s['version']}" for s in result["sources"])
                click.echo(f"✓ {name} v{result['version']} : {result['rows']} ligne(s) — {sources}")
            else:
                failed += 1
                error = services.job_error(session, job_id)
                click.echo(f"✗ {name} : {error.get('detail')} → {error.get('hint')}")
    if not runs:
        click.echo("Aucun recalcul en attente.")
    if failed:
        raise click.exceptions.Exit(1)


@view.command("lineage")
@click.argument("slug")
@click.option("--version", type=click.IntRange(min=1), help="Une version passée.")
@json_option
@pass_context
def view_lineage(ctx: CliContext, slug: str, version: int | None, as_json: bool) -> None:
    """Provenance d'un jeu de données : versions sources (vue) et vues qui le lisent."""
    with ctx.transaction() as session:
        found = services.lineage(session, ctx.actor, slug, version)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    click.echo(f"{found['dataset']} v{found['version']}")
    for item in found["upstream"]:
        click.echo(f"  ← {item['dataset']} v{item['version']}")
    for item in found["downstream"]:
        click.echo(f"  → {item['dataset']} v{item['version']} (depuis v{item['from_version']})")
