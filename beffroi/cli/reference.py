"""``beffroi reference``: the vintages of the reference data (COG, EPCI, postal codes)."""

from __future__ import annotations

from pathlib import Path

import click

from beffroi.cli.base import CliContext, cli, pass_context, print_rows


@cli.group("reference")
def reference() -> None:
    """Données de référence (COG, EPCI, codes postaux) : millésimes et mise à jour."""


@reference.command("update")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Dossier des fichiers téléchargés (COG communes, mouvements, EPCI, codes postaux…).",
)
@click.option(
    "--year",
    type=click.IntRange(1943, 2100),
    help="Millésime (défaut : année du nom du fichier des communes, sinon des mouvements).",
)
@pass_context
def update(ctx: CliContext, /, source: Path, year: int | None) -> None:
    """Écrire un millésime des données de référence dans le dossier de données.

    Les fichiers sont reconnus par leur en-tête ; ce qui manque est repris du millésime
    précédent. Les millésimes antérieurs sont conservés ; le moteur de requêtes sert le
    plus récent (ref.communes) et tous (ref.communes_vintages).
    """
    from rich.console import Console  # noqa: PLC0415 - keep `--help` fast
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from beffroi.reference.update import update as run_update  # noqa: PLC0415

    console = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn("[bold]{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("lecture des fichiers", total=7)

        def on_progress(step: str, done: int, total: int) -> None:
            progress.update(task, description=step, completed=done, total=total)

        summary = run_update(
            ctx.settings.data_dir, source, actor=ctx.actor, year=year, on_progress=on_progress
        )
    for line in summary.lines():
        click.echo(line)


@reference.command("list")
@pass_context
def list_vintages(ctx: CliContext, /) -> None:
    """Lister les millésimes : livré avec Beffroi et ceux du dossier de données."""
    from beffroi.query.reference import tables  # noqa: PLC0415

    root = Path(ctx.settings.data_dir).absolute() / "reference"
    rows = tables(root)["vintages"].to_pylist()
    print_rows(rows, ["vintage", "source", "current"], as_json=False, title="Millésimes")
