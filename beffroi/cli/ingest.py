"""``beffroi ingest`` and ``beffroi version``: load files as versions, list and publish them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows
from beffroi.errors import InvalidInputError

if TYPE_CHECKING:
    from beffroi.store.interfaces import WriteMode

WRITE_MODES: dict[str, WriteMode] = {"replace": "replace", "append": "append", "upsert": "upsert"}


def load_declared_schema(path: Path) -> dict[str, dict[str, Any]]:
    """Field descriptors (by name) of a Table Schema JSON file."""
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(
            f"Schéma illisible : {path} ({exc})",
            hint="indiquez un fichier Table Schema JSON (schema.json)",
            message_en=f"Unreadable schema: {path} ({exc})",
            hint_en="give a Table Schema JSON file (schema.json)",
        ) from exc
    fields = descriptor.get("fields") if isinstance(descriptor, dict) else None
    if not isinstance(fields, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields
    ):
        raise InvalidInputError(
            f"{path} n'est pas un Table Schema : liste « fields » de champs nommés attendue",
            hint="voir https://specs.frictionlessdata.io/table-schema/",
            message_en=f"{path} is not a Table Schema: a list « fields » of named fields expected",
            hint_en="see https://specs.frictionlessdata.io/table-schema/",
        )
    return {f["name"]: f for f in fields}


def declared_primary_key(path: Path) -> list[str] | None:
    """The ``primaryKey`` of a Table Schema JSON file (a name or a list of names), if any."""
    descriptor = json.loads(path.read_text(encoding="utf-8"))  # checked by load_declared_schema
    key = descriptor.get("primaryKey") if isinstance(descriptor, dict) else None
    if isinstance(key, str):
        return [key]
    if isinstance(key, list) and key and all(isinstance(k, str) for k in key):
        return list(key)
    return None


def _key_option(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise InvalidInputError(
            "Clé vide",
            hint="--key colonne (ou plusieurs : --key code_insee,annee)",
            message_en="Empty key",
            hint_en="--key column (or several: --key code_insee,annee)",
        )
    return names


@cli.command()
@click.argument("file")
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
    type=click.Choice(["csv", "fwf", "xlsx", "ods", "json", "ndjson", "geojson", "parquet"]),
    help="Format (déduit de l'extension et du contenu sinon ; fwf : largeur fixe).",
)
@click.option(
    "--widths",
    help="Fichier à largeur fixe : largeurs des colonnes en caractères, ex. 5,4,8,38 "
    "(implique --format fwf ; déduites des colonnes d'espaces sinon).",
)
@click.option(
    "--mode",
    type=click.Choice(["replace", "append", "upsert"]),
    default="replace",
    show_default=True,
    help="Nouvelle version complète, ajout aux lignes, ou mise à jour par clé (upsert).",
)
@click.option(
    "--key",
    help="Colonne(s) de la clé pour --mode upsert, séparées par des virgules (par défaut : "
    "la clé primaire du --schema).",
)
@click.option("--publish", is_flag=True, help="Publier la version aussitôt.")
@pass_context
def ingest(
    ctx: CliContext,
    file: str,
    slug: str,
    schema_path: Path | None,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
    fmt: str | None,
    widths: str | None,
    mode: str,
    key: str | None,
    publish: bool,
) -> None:
    """Charger FILE (un chemin, ou une adresse http(s)://) comme nouvelle version d'un jeu de
    données."""
    if delimiter == "\\t":
        delimiter = "\t"
    declared = load_declared_schema(schema_path) if schema_path else None
    primary_key = _key_option(key)
    if primary_key is None and mode == "upsert" and schema_path is not None:
        primary_key = declared_primary_key(schema_path)
    if primary_key is not None and mode != "upsert":
        raise InvalidInputError(
            "--key ne sert qu'avec --mode upsert",
            hint="ajoutez --mode upsert ou retirez --key",
            message_en="--key only applies to --mode upsert",
            hint_en="add --mode upsert or remove --key",
        )
    if mode == "upsert" and primary_key is None:
        raise InvalidInputError(
            "Le mode upsert demande une clé",
            hint="indiquez --key colonne, ou un --schema qui déclare sa clé primaire (primaryKey)",
            message_en="The upsert mode needs a key",
            hint_en="give --key column, or a --schema that declares its primaryKey",
        )
    run = _IngestRun(ctx, slug, mode, primary_key, publish, declared)
    run.conformance_schema = schema_path  # validated against it too (beffroi.validate)
    from beffroi.ingest.model import parse_widths  # noqa: PLC0415 - keep --help fast

    run.options = _read_options(encoding, delimiter, sheet, fmt, parse_widths(widths))
    # A path never loads the downloader (urllib, http.client): only what starts like a URL.
    if file[:4].lower() == "http":
        from beffroi.ingest.fetch import is_url  # noqa: PLC0415

        if is_url(file):
            run.from_url(file)
            return
    path = Path(file)
    if not path.is_file():
        raise InvalidInputError(
            f"Fichier introuvable : {file}",
            hint="vérifiez le chemin, ou donnez une adresse http(s)://",
            message_en=f"File not found: {file}",
            hint_en="check the path, or give an http(s):// address",
        )
    run.from_path(path, path.name)


def _read_options(
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    fmt: str | None,
    widths: tuple[int, ...] | None,
) -> Any:
    from beffroi.ingest.model import ReadOptions  # noqa: PLC0415 - keep --help fast

    if widths is not None and fmt not in {None, "fwf"}:
        raise InvalidInputError(
            f"--widths ne s'applique qu'aux fichiers à largeur fixe, pas au format {fmt}",
            hint="retirez --widths, ou utilisez --format fwf",
            message_en=f"--widths only applies to fixed-width files, not to the {fmt} format",
            hint_en="remove --widths, or use --format fwf",
        )
    return ReadOptions(
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        format="fwf" if widths is not None else fmt,
        widths=widths,
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]:>12,} lignes"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


class _IngestRun:
    """One ``beffroi ingest``: download (for a URL), then ingest with a progress bar."""

    conformance_schema: Path | None = None

    def __init__(
        self,
        ctx: CliContext,
        slug: str,
        mode: str,
        primary_key: list[str] | None,
        publish: bool,
        declared: dict[str, dict[str, Any]] | None,
    ) -> None:
        self.ctx, self.slug, self.mode, self.primary_key = ctx, slug, mode, primary_key
        self.publish, self.declared = publish, declared
        self.options: Any = None
        self._path: Path | None = None  # the file being ingested (set by from_path)
        self.console = Console(stderr=True, highlight=False)

    def from_url(self, url: str) -> None:
        import shutil  # noqa: PLC0415
        import tempfile  # noqa: PLC0415

        from beffroi.ingest.fetch import fetch  # noqa: PLC0415

        settings = self.ctx.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix="fetch-", dir=settings.data_dir))
        try:
            with _progress(self.console) as progress:
                task = progress.add_task(url.rsplit("/", 1)[-1][:40] or url, total=None, rows=0)

                def on_fetch(done: int, total: int | None) -> None:
                    progress.update(task, completed=done, total=total)

                fetched = fetch(
                    url,
                    directory,
                    max_bytes=settings.upload_max_mb * 1024 * 1024,
                    timeout=settings.fetch_timeout_s,
                    allow_private=settings.fetch_allow_private_networks,
                    on_progress=on_fetch,
                )
            self.from_path(fetched.path, fetched.name)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def from_path(self, path: Path, name: str) -> None:
        from beffroi.ingest.catalogue import fork_catalogue  # noqa: PLC0415 - fast --help

        # First, before any thread starts: the catalogue side in a process of its own, which
        # imports and queries the catalogue while this one reads the file.
        self._path = path
        catalogue = fork_catalogue(self._local_catalogue)
        try:
            self._ingest(path, name, catalogue)
        finally:
            if catalogue is not None:
                catalogue.close()

    def _local_catalogue(self) -> Any:
        from beffroi.ingest.catalogue import LocalCatalogue  # noqa: PLC0415 - fast --help

        assert self._path is not None  # noqa: S101 - set by from_path first
        return LocalCatalogue(
            self.ctx.session_factory,
            self.ctx.actor,
            self.slug,
            self._path,
            options=self.options,
            mode=WRITE_MODES[self.mode],
            publish=self.publish,
            conformance_schema=self.conformance_schema,
        )

    def _ingest(self, path: Path, name: str, forked: Any) -> None:
        from beffroi.ingest.pipeline import ReadAhead, ingest_with  # noqa: PLC0415 - fast --help

        # The file is read (in threads) while the catalogue and the access layer load.
        ahead = ReadAhead(path, self.options, self.declared)
        try:
            from beffroi.store import store_for  # noqa: PLC0415

            mode = WRITE_MODES[self.mode]
            catalogue = forked if forked is not None else self._local_catalogue()
            with _progress(self.console) as progress:
                task = progress.add_task(name, total=path.stat().st_size, rows=0)

                def on_progress(done: int, total: int, rows: int) -> None:
                    progress.update(task, completed=done, total=total or None, rows=rows)

                summary = ingest_with(
                    catalogue,
                    store_for(self.ctx.settings),
                    self.slug,
                    path,
                    options=self.options,
                    mode=mode,
                    declared=self.declared,
                    primary_key=self.primary_key,
                    source_name=name,
                    on_progress=on_progress,
                    read_ahead=ahead,
                )
                progress.update(task, completed=path.stat().st_size)
        finally:
            ahead.close()  # also when the catalogue could not be opened
        _print_summary(self.slug, summary)


def _print_summary(slug: str, summary: Any) -> None:
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
    if summary.conformance is not None:  # beffroi.validate
        verdict = "conforme" if summary.conformance["valid"] else "NON CONFORME"
        out.print(
            f"  schéma : {summary.conformance['schema']} — {verdict} "
            f"({summary.conformance['errors']} erreur(s))"
        )
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
    from beffroi.catalog import versions as version_services  # noqa: PLC0415 - fast start

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
    from beffroi.catalog import versions as version_services  # noqa: PLC0415 - fast start

    with ctx.transaction() as session:
        version_services.publish_version(session, ctx.actor, slug, number)
    click.echo(f"{slug} : version {number} publiée.")
