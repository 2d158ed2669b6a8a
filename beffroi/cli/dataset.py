"""``beffroi dataset``: dataset records."""

from __future__ import annotations

import click

from beffroi.catalog import services
from beffroi.catalog.models import AccessLevel
from beffroi.catalog.schemas import DatasetCreate, DatasetUpdate, parse
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows


@cli.group()
def dataset() -> None:
    """Fiches des jeux de données du catalogue."""


@dataset.command("create")
@click.argument("title")
@click.option("--publisher", required=True, help="Identifiant de l'organisation productrice.")
@click.option("--slug", help="Identifiant stable (déduit du titre sinon).")
@click.option("--description", default="", help="Description (Markdown).")
@click.option(
    "--license",
    "license_",
    default="etalab-2.0",
    show_default=True,
    help="etalab-2.0, ODbL-1.0, CC-BY-4.0, CC0-1.0 ou une URI.",
)
@click.option(
    "--access",
    "access_level",
    default="public",
    show_default=True,
    type=click.Choice([a.value for a in AccessLevel]),
    help="Niveau d'accès.",
)
@click.option("--keyword", "keywords", multiple=True, help="Mot-clé (répétable).")
@click.option("--theme", "themes", multiple=True, help="Thème UE, ex. TRAN (répétable).")
@click.option("--frequency", help="Fréquence (vocabulaire UE), ex. ANNUAL.")
@click.option("--spatial", multiple=True, help="commune:<INSEE> ou epci:<SIREN> (répétable).")
@click.option("--granularity", "spatial_granularity", help="fr:commune, fr:epci, poi…")
@click.option("--schema", "schema_ref", help="Schéma de données (nom ou URL).")
@click.option(
    "--hvd",
    "hvd_category",
    help="Catégorie de données de forte valeur (UE), ex. c_ac64a52d (géospatiales).",
)
@click.option(
    "--legislation",
    "applicable_legislation",
    multiple=True,
    help="URI ELI de la législation applicable (répétable ; ajoutée d'office pour --hvd).",
)
@pass_context
def dataset_create(
    ctx: CliContext, /, title: str, license_: str, **options: str | tuple[str, ...] | None
) -> None:
    """Créer une fiche de jeu de données."""
    fields = {k: v for k, v in options.items() if v not in (None, (), "")}
    data = parse(DatasetCreate, {"title": title, "license": license_, **fields})
    with ctx.transaction() as session:
        created = services.create_dataset(session, ctx.actor, data)
        click.echo(f"Jeu de données créé : {created.slug}")


@dataset.command("list")
@click.option("--publisher", help="Identifiant de l'organisation productrice.")
@click.option("-q", "--query", "q", help="Mots du titre ou de la description.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@json_option
@pass_context
def dataset_list(
    ctx: CliContext, publisher: str | None, q: str | None, limit: int, as_json: bool
) -> None:
    """Lister les jeux de données."""
    with ctx.transaction() as session:
        result = services.list_datasets(
            session, ctx.actor, publisher=publisher, q=q, page_size=limit
        )
        rows = [services.dataset_public(d).model_dump(mode="json") for d in result.items]
    print_rows(
        rows,
        ["slug", "title", "publisher", "access_level", "license"],
        as_json=as_json,
        title=f"Jeux de données ({result.total})",
    )


@dataset.command("show")
@click.argument("slug")
@pass_context
def dataset_show(ctx: CliContext, slug: str) -> None:
    """Afficher une fiche (JSON)."""
    with ctx.transaction() as session:
        shown = services.dataset_public(services.get_dataset(session, ctx.actor, slug))
    click.echo(shown.model_dump_json(indent=2))


@dataset.command("update")
@click.argument("slug")
@click.option("--title", help="Nouveau titre.")
@click.option("--description", help="Nouvelle description (Markdown).")
@click.option(
    "--hvd",
    "hvd_category",
    help="Catégorie de données de forte valeur (UE), ex. c_ac64a52d ; « none » pour l'ôter.",
)
@click.option(
    "--legislation",
    "applicable_legislation",
    multiple=True,
    help="URI ELI de la législation applicable (répétable ; remplace la liste).",
)
@pass_context
def dataset_update(
    ctx: CliContext,
    slug: str,
    title: str | None,
    description: str | None,
    hvd_category: str | None,
    applicable_legislation: tuple[str, ...],
) -> None:
    """Modifier une fiche : titre, description, catégorie HVD, législation applicable."""
    changes: dict[str, object] = {}
    if title is not None:
        changes["title"] = title
    if description is not None:
        changes["description"] = description
    if hvd_category is not None:
        changes["hvd_category"] = None if hvd_category.lower() == "none" else hvd_category
    if applicable_legislation:
        changes["applicable_legislation"] = list(applicable_legislation)
    if not changes:
        raise click.UsageError(
            "rien à modifier : donnez --title, --description, --hvd ou --legislation"
        )
    data = parse(DatasetUpdate, changes)
    with ctx.transaction() as session:
        updated = services.update_dataset(session, ctx.actor, slug, data)
        click.echo(f"Jeu de données modifié : {updated.slug}")
