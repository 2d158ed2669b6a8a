"""``beffroi org``: organisations."""

from __future__ import annotations

import click

from beffroi.catalog import services
from beffroi.catalog.models import OrgKind
from beffroi.catalog.schemas import OrganizationCreate, parse
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows


@cli.group()
def org() -> None:
    """Organisations : l'EPCI, les communes, les services, les partenaires."""


@org.command("create")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in OrgKind]),
    required=True,
    help="Nature de l'organisation.",
)
@click.option("--slug", help="Identifiant stable (déduit du nom sinon).")
@click.option("--siren", help="SIREN (9 chiffres).")
@click.option("--insee", "insee_code", help="Code commune INSEE (communes).")
@click.option("--parent", help="Identifiant de l'organisation parente.")
@click.option("--website", help="Site web (https://…).")
@pass_context
def org_create(ctx: CliContext, /, name: str, kind: str, **options: str | None) -> None:
    """Créer une organisation."""
    data = parse(
        OrganizationCreate, {"name": name, "kind": kind, **{k: v for k, v in options.items() if v}}
    )
    with ctx.transaction() as session:
        created = services.create_organization(session, ctx.actor, data)
        click.echo(f"Organisation créée : {created.slug}")


@org.command("list")
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), help="Filtrer par nature.")
@json_option
@pass_context
def org_list(ctx: CliContext, kind: str | None, as_json: bool) -> None:
    """Lister les organisations."""
    with ctx.transaction() as session:
        rows = [
            services.organization_public(o).model_dump(mode="json")
            for o in services.list_organizations(session, kind=kind)
        ]
    print_rows(
        rows,
        ["slug", "name", "kind", "insee_code", "siren", "parent"],
        as_json=as_json,
        title="Organisations",
    )
