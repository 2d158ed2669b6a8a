"""``beffroi review``: publication requests and metadata change proposals (list, approve,
reject) and review settings."""

from __future__ import annotations

import click

from beffroi.catalog import metadata_reviews, services
from beffroi.catalog import reviews as service
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
    """Lister les demandes : versions à publier et modifications de métadonnées."""
    chosen = None if status == "all" else ReviewStatus(status)
    with ctx.transaction() as session:
        rows = [
            {"kind": "version", **service.review_public(r).model_dump(mode="json")}
            for r in service.list_reviews(session, ctx.actor, status=chosen, dataset=dataset)
        ]
        for proposal in metadata_reviews.list_proposals(
            session, ctx.actor, status=chosen, dataset=dataset
        ):
            public = metadata_reviews.proposal_public(proposal).model_dump(mode="json")
            rows.append(
                {
                    "kind": "metadata",
                    "id": public["id"],
                    "dataset": public["dataset"],
                    "version": None,
                    "fields": ", ".join(sorted(public["changes"])),
                    "status": public["status"],
                    "requested_by": public["proposed_by"],
                    "requested_at": public["proposed_at"],
                    "decided_by": public["decided_by"],
                    "decided_at": public["decided_at"],
                    "comment": public["comment"],
                    "changes": public["changes"],
                    "before": public["before"],
                }
            )
    print_rows(
        rows,
        ["kind", "id", "dataset", "version", "fields", "status", "requested_by", "decided_by",
         "comment"],
        as_json=as_json,
        title="Demandes de publication et de modification",
    )  # fmt: skip


metadata_option = click.option(
    "--metadata",
    is_flag=True,
    help="REVIEW_ID est une modification de métadonnées (colonne kind : metadata).",
)


@review.command("approve")
@click.argument("review_id", type=int)
@click.option("--comment", default="", help="Commentaire (facultatif).")
@metadata_option
@pass_context
def review_approve(ctx: CliContext, review_id: int, comment: str, metadata: bool) -> None:
    """Approuver une demande : la version est publiée, ou la modification appliquée."""
    with ctx.transaction() as session:
        if metadata:
            proposal = metadata_reviews.approve_proposal(session, ctx.actor, review_id, comment)
            fields = ", ".join(sorted(proposal.changes))
            click.echo(f"{proposal.dataset.slug} : modification appliquée ({fields}).")
            return
        found = service.approve_review(session, ctx.actor, review_id, comment)
        click.echo(f"{found.dataset.slug} : version {found.version.number} publiée.")


@review.command("reject")
@click.argument("review_id", type=int)
@click.option("--comment", required=True, help="Ce qu'il faut corriger.")
@metadata_option
@pass_context
def review_reject(ctx: CliContext, review_id: int, comment: str, metadata: bool) -> None:
    """Refuser une demande, en disant pourquoi."""
    with ctx.transaction() as session:
        if metadata:
            metadata_reviews.reject_proposal(session, ctx.actor, review_id, comment)
        else:
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
