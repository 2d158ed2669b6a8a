"""``beffroi harvest`` (remote DCAT catalogues and CKAN APIs) and ``beffroi feed`` (remote
files feeding one dataset on a schedule)."""

from __future__ import annotations

import click

from beffroi.catalog.schemas import parse
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows
from beffroi.harvest import feeds, service

_SOURCE_COLUMNS = [
    "id",
    "name",
    "kind",
    "organization",
    "dataset",
    "every_s",
    "status",
    "last_run_at",
]
_RUN_COLUMNS = ["id", "status", "created", "updated", "unchanged", "failed", "finished_at"]


@cli.group()
def harvest() -> None:
    """Moissonnage : jeux de données importés d'un catalogue DCAT ou d'un portail CKAN."""


@harvest.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "--kind",
    type=click.Choice(["dcat", "ckan"]),
    required=True,
    help="dcat : adresse d'un catalogue (Turtle, RDF/XML, JSON-LD) ; ckan : adresse du portail.",
)
@click.option("--org", "organization", required=True, help="Organisation qui reçoit les jeux.")
@click.option("--every", help="Périodicité : 30min, 1h, 1d… (sans : à la demande seulement).")
@click.option("--publish", "auto_publish", is_flag=True, help="Publier chaque nouvelle version.")
@pass_context
def harvest_add(
    ctx: CliContext,
    name: str,
    url: str,
    kind: str,
    organization: str,
    every: str | None,
    auto_publish: bool,
) -> None:
    """Ajouter une source de moissonnage."""
    data = parse(
        service.SourceCreate,
        {
            "name": name,
            "kind": kind,
            "url": url,
            "organization": organization,
            "every": every,
            "auto_publish": auto_publish,
        },
    )
    with ctx.transaction() as session:
        source = service.add_source(session, ctx.actor, data)
        click.echo(f"Source de moissonnage ajoutée : {source.name} (n° {source.id})")


@harvest.command("list")
@json_option
@pass_context
def harvest_list(ctx: CliContext, as_json: bool) -> None:
    """Lister les sources de moissonnage et les flux de fichiers."""
    with ctx.transaction() as session:
        rows = [service.source_view(s) for s in service.list_sources(session, ctx.actor)]
    print_rows(rows, _SOURCE_COLUMNS, as_json=as_json, title=f"Sources ({len(rows)})")


@harvest.command("run")
@click.argument("name")
@json_option
@pass_context
def harvest_run(ctx: CliContext, name: str, as_json: bool) -> None:
    """Moissonner une source maintenant (ou relever un flux de fichier)."""
    summary = service.start_run(ctx.session_factory, ctx.settings, ctx.actor, name)
    _print_run(summary.as_dict(), as_json=as_json)


@harvest.command("runs")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@pass_context
def harvest_runs(ctx: CliContext, name: str, limit: int, as_json: bool) -> None:
    """Lister les derniers moissonnages d'une source, le plus récent d'abord."""
    with ctx.transaction() as session:
        rows = [
            service.run_view(r, name) for r in service.list_runs(session, ctx.actor, name, limit)
        ]
    print_rows(rows, _RUN_COLUMNS, as_json=as_json, title=f"Moissonnages de {name}")


def _print_run(run: dict[str, object], *, as_json: bool) -> None:
    if as_json:
        print_rows([run], _RUN_COLUMNS, as_json=True, title="")
        return
    click.echo(
        f"Moissonnage {run['source']} : {run['status']} — créés {run['created']}, "
        f"mis à jour {run['updated']}, inchangés {run['unchanged']}, en échec {run['failed']}"
    )
    errors = run.get("errors") or []
    assert isinstance(errors, list)  # noqa: S101 - RunSummary.as_dict
    for error in errors[:20]:
        where = f"[{error.get('remote_id')}] " if error.get("remote_id") else ""
        hint = f" ({error['hint']})" if error.get("hint") else ""
        click.echo(f"  ! {where}{error.get('message')}{hint}", err=True)


@cli.group()
def feed() -> None:
    """Flux de fichiers : un jeu de données relevé à une adresse, à intervalles réguliers."""


@feed.command("add")
@click.argument("slug")
@click.argument("url")
@click.option("--every", required=True, help="Périodicité : 30min, 1h, 1d…")
@click.option("--name", help="Nom de la source (flux-<jeu> sinon).")
@click.option("--publish", "auto_publish", is_flag=True, help="Publier chaque nouvelle version.")
@pass_context
def feed_add(
    ctx: CliContext, slug: str, url: str, every: str, name: str | None, auto_publish: bool
) -> None:
    """Relever le fichier à URL pour le jeu SLUG : nouvelle version quand il a changé."""
    with ctx.transaction() as session:
        source = feeds.add_feed(
            session, ctx.actor, slug, url, every=every, auto_publish=auto_publish, name=name
        )
        click.echo(
            f"Flux ajouté : {source.name} (lancez « beffroi harvest run {source.name} » "
            "pour un premier relevé)"
        )
