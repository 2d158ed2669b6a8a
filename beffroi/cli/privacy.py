"""``beffroi privacy``: personal-data flags, minimum cell size, pseudonymisation of a file."""

from __future__ import annotations

from pathlib import Path

import click

from beffroi.catalog import services
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows
from beffroi.privacy import flags
from beffroi.privacy.flags import FlagDecision, FlagStatus
from beffroi.privacy.pseudonymise import pseudonymise_file


@cli.group()
def privacy() -> None:
    """Données personnelles (RGPD) et secret statistique."""


@privacy.command("show")
@click.argument("slug")
@json_option
@pass_context
def privacy_show(ctx: CliContext, slug: str, as_json: bool) -> None:
    """Colonnes signalées personnelles et taille minimale de cellule d'un jeu de données."""
    with ctx.transaction() as session:
        shown = flags.show_privacy(
            session, ctx.actor, services.get_dataset(session, ctx.actor, slug)
        )
    rows = [f.model_dump(mode="json") for f in shown.flags]
    print_rows(
        rows,
        ["column", "category", "confidence", "status", "hidden", "decided_by"],
        as_json=as_json,
        title=f"{slug} — taille minimale de cellule : {shown.min_cell_size or 'aucune'}",
    )


@privacy.command("flag")
@click.argument("slug")
@click.argument("column")
@click.option("--clear", is_flag=True, help="Lever le signalement (colonne non personnelle).")
@click.option("--category", help="Nature : person_name, email, phone, nir, address, gps…")
@pass_context
def privacy_flag(
    ctx: CliContext, slug: str, column: str, clear: bool, category: str | None
) -> None:
    """Confirmer qu'une colonne est personnelle (ou, --clear, qu'elle ne l'est pas)."""
    status = FlagStatus.CLEARED if clear else FlagStatus.CONFIRMED
    with ctx.transaction() as session:
        dataset = services.get_dataset(session, ctx.actor, slug)
        flags.decide(
            session, ctx.actor, dataset, column, FlagDecision(status=status, category=category)
        )
    click.echo(f"{slug}.{column} : {status.value}")


@privacy.command("min-cell")
@click.argument("slug")
@click.argument("size", type=int, required=False)
@pass_context
def privacy_min_cell(ctx: CliContext, slug: str, size: int | None) -> None:
    """Fixer la taille minimale des groupes servis publiquement (sans SIZE : aucune)."""
    with ctx.transaction() as session:
        dataset = services.get_dataset(session, ctx.actor, slug)
        flags.set_min_cell_size(session, ctx.actor, dataset, size)
    click.echo(f"{slug} : taille minimale de cellule {size or 'retirée'}")


@privacy.command("pseudonymise")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--column", "columns", multiple=True, required=True, help="Colonne à remplacer.")
@click.option("--salt", required=True, help="Sel : l'identifiant du jeu de données.")
@click.option(
    "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSV produit."
)
@pass_context
def privacy_pseudonymise(
    ctx: CliContext, source: Path, columns: tuple[str, ...], salt: str, output: Path
) -> None:
    """Remplacer des colonnes d'un CSV par des pseudonymes (HMAC-SHA256 avec la clé de
    BEFFROI_PSEUDONYMISATION_KEY_FILE), avant de le charger."""
    rows = pseudonymise_file(ctx.settings, source, list(columns), salt=salt, output=output)
    click.echo(f"{output} : {rows} lignes, {len(columns)} colonne(s) pseudonymisée(s)")
