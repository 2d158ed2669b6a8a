"""``beffroi review``: publication requests (list, approve, reject) and review settings."""

from __future__ import annotations

import click

from beffroi.catalog import reviews as service
from beffroi.catalog import services
from beffroi.catalog.reviews import ReviewStatus
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows


@cli.group()
def review() -> None:
    """Relecture avant publication : demandes, décisions, organisations concernées."""


@review.command("list")
@click.option(
    "--status",
    type=click.Choice([*(s.value for s in ReviewStatus), "all"]),
    default=ReviewStatus.PENDING.value,
    show_default=True,
    help="Statut des demandes.",
)
@click.option("--dataset", help="Seulement ce jeu de données.")
@json_option
@pass_context
def review_list(ctx: CliContext, status: str, dataset: str | None, as_json: bool) -> None:
    """Lister les demandes de publication."""
    chosen = None if status == "all" else ReviewStatus(status)
    with ctx.transaction() as session:
        rows = [
            service.review_public(r).model_dump(mode="json")
            for r in service.list_reviews(session, ctx.actor, status=chosen, dataset=dataset)
        ]
    print_rows(
        rows,
        ["id", "dataset", "version", "status", "requested_by", "decided_by", "comment"],
        as_json=as_json,
        title="Demandes de publication",
    )


@review.command("approve")
@click.argument("review_id", type=int)
@click.option("--comment", default="", help="Commentaire (facultatif).")
@pass_context
def review_approve(ctx: CliContext, review_id: int, comment: str) -> None:
    """Approuver une demande : la version est publiée."""
    with ctx.transaction() as session:
        found = service.approve_review(session, ctx.actor, review_id, comment)
        click.echo(f"{found.dataset.slug} : version {found.version.number} publiée.")


@review.command("reject")
@click.argument("review_id", type=int)
@click.option("--comment", required=True, help="Ce qu'il faut corriger.")
@pass_context
def review_reject(ctx: CliContext, review_id: int, comment: str) -> None:
    """Refuser une demande, en disant pourquoi."""
    with ctx.transaction() as session:
        service.reject_review(session, ctx.actor, review_id, comment)
    click.echo(f"Demande {review_id} refusée.")


@review.command("require")
@click.argument("organization")
@click.option("--off", is_flag=True, help="Ne plus exiger de relecture.")
@pass_context
def review_require(ctx: CliContext, organization: str, off: bool) -> None:
    """Exiger (ou non, --off) la relecture des publications d'une organisation."""
    with ctx.transaction() as session:
        org = services.get_organization(session, organization)
        service.set_review_required(session, ctx.actor, org, not off)
    state = "n'exige plus" if off else "exige désormais"
    click.echo(f"{organization} {state} de relecture avant publication.")
