"""``beffroi sql``: read-only SQL over the instance's published datasets and ``ref.*``."""

from __future__ import annotations

import csv
import json
import sys

import click

from beffroi.cli.base import CliContext, cli, pass_context, print_rows
from beffroi.query import service


@cli.command("sql")
@click.argument("query")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table (lisible), csv (toutes les lignes, en flux) ou json (une ligne par objet).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Lignes au plus pour table et json (défaut et plafond : BEFFROI_SQL_MAX_ROWS).",
)
@pass_context
def sql(ctx: CliContext, /, query: str, output: str, limit: int | None) -> None:
    """Exécuter une requête SELECT (DuckDB) sur les jeux de données publiés et ref.*.

    Les tables portent l'identifiant du jeu de données, entre guillemets doubles s'il
    contient un tiret : beffroi sql 'SELECT count(*) FROM "mon-jeu"'.
    """
    with ctx.session_factory() as session:
        if output == "csv":
            schema, batches = service.sql_batches(session, ctx.actor, ctx.settings, query)
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(schema.names)
            for batch in batches:
                for row in batch.to_pylist():
                    writer.writerow(["" if v is None else service.text(v) for v in row.values()])
            return
        result = service.run_sql(session, ctx.actor, ctx.settings, query, limit=limit)
    names = [c.name for c in result.columns]
    if output == "json":
        for row in result.rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    else:
        print_rows(result.rows, names, as_json=False, title=f"{len(result.rows)} ligne(s)")
    if result.truncated:
        click.echo(
            f"(résultat tronqué à {result.limit} lignes : --format csv donne tout)", err=True
        )
