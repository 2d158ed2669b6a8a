"""``beffroi publish``: open-data publication (data.gouv.fr readiness)."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from beffroi.cli.base import CliContext, cli, json_option, pass_context
from beffroi.publish.check import check_public

_STYLE = {"error": "red", "warning": "yellow", "unknown": "cyan", "ok": "green"}
_LABEL = {"error": "à corriger", "warning": "à améliorer", "unknown": "inconnu", "ok": "ok"}
_LABEL_EN = {"error": "to fix", "warning": "to improve", "unknown": "unknown", "ok": "ok"}


@cli.group()
def publish() -> None:
    """Publication en données ouvertes (data.gouv.fr, DCAT, CKAN)."""


@publish.command("check")
@click.option("--all", "show_all", is_flag=True, help="Afficher aussi les critères satisfaits.")
@click.option("--strict", is_flag=True, help="Code de sortie 1 si un jeu de données a une erreur.")
@click.option("--dataset", "slugs", multiple=True, help="Un jeu de données (répétable).")
@json_option
@pass_context
def publish_check(
    ctx: CliContext, show_all: bool, strict: bool, slugs: tuple[str, ...], as_json: bool
) -> None:
    """Ce qui ferait baisser la note de qualité data.gouv.fr de chaque jeu public."""
    with ctx.transaction() as session:
        results = check_public(session, slugs=slugs or None)
    if as_json:
        for result in results:
            click.echo(
                json.dumps(
                    {
                        "slug": result.slug,
                        "title": result.title,
                        "ready": result.ready,
                        "checks": [
                            {"code": c.code, "status": c.status, "message": c.message,
                             "hint": c.hint, "message_en": c.message_en, "hint_en": c.hint_en}
                            for c in result.checks
                        ],
                    },
                    ensure_ascii=False,
                )
            )  # fmt: skip
    else:
        en = ctx.lang == "en"
        labels = _LABEL_EN if en else _LABEL
        ready_word, fix_word = ("ready", "to fix") if en else ("prêt", "à corriger")
        columns = (
            ("criterion", "status", "finding", "how to fix")
            if en
            else ("critère", "état", "constat", "pour corriger")
        )
        console = Console(soft_wrap=True, highlight=False)
        for result in results:
            shown = result.checks if show_all else result.problems
            verdict = f"[green]{ready_word}[/]" if result.ready else f"[red]{fix_word}[/]"
            table = Table(title=f"{result.slug} — {verdict}", title_justify="left")
            for column in columns:
                table.add_column(column)
            for check in shown:
                style = _STYLE[check.status]
                message, hint = check.localized(ctx.lang)
                table.add_row(
                    check.code, f"[{style}]{labels[check.status]}[/]", message, hint or ""
                )
            if shown:
                console.print(table)
            elif en:
                console.print(f"{result.slug} — [green]ready[/]: every criterion is met")
            else:
                console.print(f"{result.slug} — [green]prêt[/] : tous les critères sont remplis")
        ready = sum(r.ready for r in results)
        if en:
            console.print(f"{ready} dataset(s) ready out of {len(results)} public dataset(s).")
        else:
            console.print(f"{ready} jeu(x) prêt(s) sur {len(results)} jeu(x) public(s).")
    if strict and not all(r.ready for r in results):
        raise click.exceptions.Exit(1)
