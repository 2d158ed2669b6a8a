"""``beffroi agreement``: sharing agreements (create, list, approve, suspend, end)."""

from __future__ import annotations

import json
from typing import Any

import click

from beffroi.access import agreements as service
from beffroi.catalog.models import AgreementStatus
from beffroi.catalog.schemas import parse
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows
from beffroi.errors import InvalidInputError


@cli.group()
def agreement() -> None:
    """Conventions de partage : ouvrir des jeux de données à des organisations."""


@agreement.command("create")
@click.argument("title")
@click.option("--owner", required=True, help="Organisation propriétaire des données.")
@click.option("--grantee", "grantees", multiple=True, required=True, help="Bénéficiaire.")
@click.option("--dataset", "datasets", multiple=True, required=True, help="Jeu partagé.")
@click.option("--purpose", required=True, help="Finalité du partage.")
@click.option("--legal-basis", required=True, help="Base légale (ex. CCP L3131-2).")
@click.option(
    "--row-filter",
    help='Filtre de lignes JSON, ex. {"column": "code_insee", "in_grantee_communes": true}.',
)
@click.option("--column", "columns", multiple=True, help="Colonne partagée (toutes sinon).")
@click.option("--start", "starts_at", required=True, help="Début, ex. 2026-01-01T00:00:00Z.")
@click.option("--end", "ends_at", required=True, help="Fin, ex. 2026-12-31T23:59:59Z.")
@pass_context
def agreement_create(
    ctx: CliContext,
    title: str,
    owner: str,
    grantees: tuple[str, ...],
    datasets: tuple[str, ...],
    purpose: str,
    legal_basis: str,
    row_filter: str | None,
    columns: tuple[str, ...],
    starts_at: str,
    ends_at: str,
) -> None:
    """Créer une convention (brouillon, à approuver par un référent du propriétaire)."""
    data: dict[str, Any] = {
        "title": title,
        "owner": owner,
        "grantees": list(grantees),
        "datasets": list(datasets),
        "purpose": purpose,
        "legal_basis": legal_basis,
        "row_filter": _json(row_filter) if row_filter else None,
        "columns": list(columns) or None,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    body = parse(service.AgreementCreate, data)
    with ctx.transaction() as session:
        created = service.create_agreement(session, ctx.actor, body)
        click.echo(
            f"Convention {created.id} créée (brouillon) : beffroi agreement approve {created.id}"
        )


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"--row-filter n'est pas du JSON : {exc.msg} (colonne {exc.colno})",
            hint='écrivez par exemple --row-filter \'{"column": "code_insee", "in": ["56121"]}\'',
            message_en=f"--row-filter is not JSON: {exc.msg} (column {exc.colno})",
            hint_en='write e.g. --row-filter \'{"column": "code_insee", "in": ["56121"]}\'',
        ) from None


@agreement.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in AgreementStatus]),
    help="Statut effectif.",
)
@json_option
@pass_context
def agreement_list(ctx: CliContext, status: str | None, as_json: bool) -> None:
    """Lister les conventions."""
    with ctx.transaction() as session:
        found = service.list_agreements(
            session, ctx.actor, status=AgreementStatus(status) if status else None
        )
        rows = [service.agreement_public(a, ctx.actor).model_dump(mode="json") for a in found]
    for row in rows:
        row["grantees"] = ",".join(row["grantees"]) if not as_json else row["grantees"]
        row["datasets"] = ",".join(row["datasets"]) if not as_json else row["datasets"]
    print_rows(
        rows,
        ["id", "title", "owner", "grantees", "datasets", "status", "starts_at", "ends_at"],
        as_json=as_json,
        title="Conventions de partage",
    )


def _transition(ctx: CliContext, agreement_id: int, verb: str) -> None:
    action = {
        "approuvée": service.approve_agreement,
        "suspendue": service.suspend_agreement,
        "terminée": service.end_agreement,
    }[verb]
    with ctx.transaction() as session:
        action(session, ctx.actor, agreement_id)
    click.echo(f"Convention {agreement_id} {verb}.")


@agreement.command("approve")
@click.argument("agreement_id", type=int)
@pass_context
def agreement_approve(ctx: CliContext, agreement_id: int) -> None:
    """Approuver (activer) une convention, ou reprendre une convention suspendue."""
    _transition(ctx, agreement_id, "approuvée")


@agreement.command("suspend")
@click.argument("agreement_id", type=int)
@pass_context
def agreement_suspend(ctx: CliContext, agreement_id: int) -> None:
    """Suspendre une convention (effet immédiat)."""
    _transition(ctx, agreement_id, "suspendue")


@agreement.command("end")
@click.argument("agreement_id", type=int)
@pass_context
def agreement_end(ctx: CliContext, agreement_id: int) -> None:
    """Terminer une convention maintenant."""
    _transition(ctx, agreement_id, "terminée")
