"""``beffroi ingest`` and ``beffroi version``: load files as versions, list and publish them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from beffroi.catalog import versions as version_services
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows
from beffroi.errors import InvalidInputError


def load_declared_schema(path: Path) -> dict[str, dict[str, Any]]:
    """Field descriptors (by name) of a Table Schema JSON file."""
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(
            f"Schéma illisible : {path} ({exc})",
            hint="indiquez un fichier Table Schema JSON (schema.json)",
        ) from exc
    fields = descriptor.get("fields") if isinstance(descriptor, dict) else None
    if not isinstance(fields, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields
    ):
        raise InvalidInputError(
            f"{path} n'est pas un Table Schema : liste « fields » de champs nommés attendue",
            hint="voir https://specs.frictionlessdata.io/table-schema/",
        )
    return {f["name"]: f for f in fields}


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset", "slug", required=True, help="Identifiant du jeu de données.")
@click.option(
    "--schema",
    "schema_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Table Schema (JSON) à appliquer aux colonnes.",
)
@click.option("--sheet", help="Feuille à lire (classeurs Excel/ODS ; la première sinon).")
@click.option("--encoding", help="Encodage, ex. cp1252, utf-8 (détecté sinon).")
@click.option("--delimiter", help="Séparateur, ex. ';' (détecté sinon).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "ods", "json", "ndjson", "geojson", "parquet"]),
    help="Format (déduit de l'extension et du contenu sinon).",
)
@click.option(
    "--mode",
    type=click.Choice(["replace", "append"]),
    default="replace",
    show_default=True,
    help="Nouvelle version complète, ou ajout aux lignes.",
)
@click.option("--publish", is_flag=True, help="Publier la version aussitôt.")
@pass_context
def ingest(
    ctx: CliContext,
    file: Path,
    slug: str,
    schema_path: Path | None,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
    fmt: str | None,
    mode: str,
    publish: bool,
) -> None:
    """Charger FILE comme nouvelle version d'un jeu de données."""
    from beffroi.ingest.model import ReadOptions  # noqa: PLC0415 - keep --help fast
    from beffroi.ingest.pipeline import ingest_file  # noqa: PLC0415
    from beffroi.store import store_for  # noqa: PLC0415

    if delimiter == "\\t":
        delimiter = "\t"
    options = ReadOptions(encoding=encoding, delimiter=delimiter, sheet=sheet, format=fmt)
    declared = load_declared_schema(schema_path) if schema_path else None
    console = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]:>12,} lignes"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(file.name, total=file.stat().st_size, rows=0)

        def on_progress(done: int, total: int, rows: int) -> None:
            progress.update(task, completed=done, total=total or None, rows=rows)

        summary = ingest_file(
            ctx.session_factory,
            store_for(ctx.settings),
            ctx.actor,
            slug,
            file,
            options=options,
            mode="append" if mode == "append" else "replace",
            publish=publish,
            declared=declared,
            on_progress=on_progress,
        )
        progress.update(task, completed=file.stat().st_size)
    out = Console(highlight=False, soft_wrap=True)
    state = "publiée" if summary.published else "en attente de publication"
    rows = f"{summary.rows:,}".replace(",", "\u202f")  # French digit grouping
    out.print(
        f"[green]✓[/] {slug} : version {summary.version} ({rows} lignes, "
        f"{len(summary.columns)} colonnes) — {state}"
    )
    dialect = ", ".join(f"{k}={v!r}" for k, v in summary.dialect.items() if k != "notes")
    out.print(f"  lu avec : {dialect}")
    for note in summary.dialect.get("notes", []):
        out.print(f"  note : {note}")
    out.print(f"  upload : {summary.upload_id}")
    if not summary.published:
        out.print(f"  publier : beffroi version publish {slug} {summary.version}")


@cli.group()
def version() -> None:
    """Versions des données d'un jeu de données."""


@version.command("list")
@click.argument("slug")
@json_option
@pass_context
def version_list(ctx: CliContext, slug: str, as_json: bool) -> None:
    """Lister les versions (la plus récente en premier)."""
    with ctx.transaction() as session:
        dataset, found = version_services.list_versions(session, ctx.actor, slug)
        published = dataset.published_version_id
        rows = [
            {
                "version": v.number,
                "published": v.id == published,
                "rows": v.row_count,
                "source": v.source_name,
                "by": v.created_by,
                "at": v.created_at.isoformat(timespec="seconds"),
                "upload_id": v.upload_id,
            }
            for v in found
        ]
    print_rows(
        rows,
        ["version", "published", "rows", "source", "by", "at"],
        as_json=as_json,
        title=f"Versions de {slug}",
    )


@version.command("publish")
@click.argument("slug")
@click.argument("number", type=int)
@pass_context
def version_publish(ctx: CliContext, slug: str, number: int) -> None:
    """Publier la version NUMBER (aussi une ancienne : retour arrière)."""
    with ctx.transaction() as session:
        version_services.publish_version(session, ctx.actor, slug, number)
    click.echo(f"{slug} : version {number} publiée.")
