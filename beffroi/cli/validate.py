"""``beffroi validate``: check a file against a Table Schema (SCDL, schema.data.gouv.fr…)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from beffroi.cli.base import CliContext, cli, exit_now, pass_context
from beffroi.errors import BeffroiError, InvalidInputError

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_ERROR = 2


@cli.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--schema",
    "schema_ref",
    required=True,
    help="Schéma : chemin d'un schema.json, URL, ou nom du registre (ex. scdl-subventions, "
    "scdl-subventions@2.1.0).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Rapport en français lisible, ou JSON (structure proche de frictionless).",
)
@click.option("--encoding", help="Encodage, ex. cp1252 (détecté sinon).")
@click.option("--delimiter", help="Séparateur, ex. ';' (détecté sinon).")
@click.option("--sheet", help="Feuille à lire (classeurs Excel/ODS).")
@click.option(
    "--max-errors",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Erreurs détaillées dans le rapport (toutes sont comptées).",
)
@click.option(
    "--no-custom-checks",
    is_flag=True,
    help="Ignorer les contrôles personnalisés du schéma (SIRET, code INSEE…).",
)
@click.option("--duplicate-rows", is_flag=True, help="Signaler aussi les lignes en double.")
@click.option(
    "--invalid-rows",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Écrire les lignes en erreur dans ce fichier CSV (numéro de ligne, cellules, erreurs).",
)
@click.option("--bom", is_flag=True, help="Avec --invalid-rows : CSV avec BOM, pour Excel.")
def validate_command(
    file: Path,
    schema_ref: str,
    output: str,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    max_errors: int,
    no_custom_checks: bool,
    duplicate_rows: bool,
    invalid_rows: Path | None,
    bom: bool,
) -> None:
    """Valider FILE selon un schéma (Table Schema).

    Statut de sortie : 0 fichier conforme, 1 non conforme, 2 validation impossible
    (fichier illisible, schéma introuvable).
    """
    started = time.perf_counter()
    # NumPy's OpenBLAS starts a thread per core when imported, which spins for a while;
    # validation never uses BLAS, and the cores are the reading's and DuckDB's. Only in a
    # process that has not imported NumPy yet (the script), where it has an effect and
    # nothing else sees the variable.
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from beffroi.ingest.model import ReadOptions  # noqa: PLC0415 - keep --help fast
    from beffroi.validate.schema import load_schema  # noqa: PLC0415
    from beffroi.validate.table import open_raw  # noqa: PLC0415 - Arrow, not yet DuckDB

    try:
        schema = load_schema(schema_ref)
        read = ReadOptions(encoding=encoding, delimiter=delimiter, sheet=sheet)
        table = open_raw(file, read)
        # The reading starts now, on other cores, while DuckDB and the checks are imported.
        table.prefetch()
        try:
            from beffroi.validate.engine import Options, validate_table  # noqa: PLC0415

            options = Options(
                max_errors=max_errors,
                custom_checks=not no_custom_checks,
                duplicate_rows=duplicate_rows,
                read=read,
                invalid_rows=invalid_rows,
                invalid_rows_bom=bom,
            )
        except BaseException:
            table.close()  # stop the reading (Ctrl-C while DuckDB loads…)
            raise
        report = validate_table(table, schema, options, started=started)  # closes it
    except BeffroiError as error:
        if output == "json":
            click.echo(
                json.dumps(
                    {
                        "valid": False,
                        "error": {
                            "type": error.code,
                            "message": error.message,
                            "hint": error.hint,
                            "details": error.details,
                        },
                    },
                    ensure_ascii=False,
                    default=str,
                )
            )
        else:
            click.echo(f"Validation impossible : {error.message}", err=True)
            if error.hint:
                click.echo(f"→ Pour corriger : {error.hint}", err=True)
        sys.exit(EXIT_ERROR)
    if output == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(report.text(), nl=False)
    exit_now(EXIT_VALID if report.valid else EXIT_INVALID)  # its files are closed


@cli.group("conformance")
def conformance() -> None:
    """Lier un jeu de données à un schéma et consulter la conformité de ses versions."""


@conformance.command("set")
@click.argument("slug")
@click.option(
    "--schema",
    "schema_ref",
    required=True,
    help="Schéma : chemin, URL, ou nom du registre (ex. scdl/subventions@2.1.1).",
)
@click.option(
    "--on-invalid",
    type=click.Choice(["block", "flag"]),
    default="flag",
    show_default=True,
    help="block : refuser les fichiers non conformes ; flag : les garder marqués « non conforme ».",
)
@pass_context
def conformance_set(ctx: CliContext, slug: str, schema_ref: str, on_invalid: str) -> None:
    """Valider chaque nouveau fichier de SLUG selon un schéma."""
    from beffroi.validate.conformance import set_policy  # noqa: PLC0415 - keep --help fast

    with ctx.transaction() as session:
        policy = set_policy(session, ctx.actor, slug, schema_ref, on_invalid)
        action = "refusés" if policy.on_invalid == "block" else "gardés marqués « non conforme »"
        click.echo(f"✓ {slug} : fichiers validés selon {schema_ref} ; non conformes : {action}.")


@conformance.command("show")
@click.argument("slug")
@click.argument("version", type=int)
@click.option("--json", "as_json", is_flag=True, help="Rapport JSON complet.")
@pass_context
def conformance_show(ctx: CliContext, slug: str, version: int, as_json: bool) -> None:
    """Conformité de la version VERSION de SLUG (statut 0 conforme, 1 non conforme)."""
    from beffroi.validate.conformance import version_conformance  # noqa: PLC0415

    with ctx.transaction() as session:
        row = version_conformance(session, ctx.actor, slug, version)
        report, valid = row.report, row.valid
        summary = f"{row.schema_ref} : {row.error_count} erreur(s) sur {row.rows} ligne(s)"
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(f"{'✔ conforme' if valid else '✘ non conforme'} — {summary}")
    sys.exit(EXIT_VALID if valid else EXIT_INVALID)


@cli.group("schema")
def schema_group() -> None:
    """Registre local des schémas (catalogue schema.data.gouv.fr, versions)."""


@schema_group.command("sync")
@click.option(
    "--from",
    "source",
    default=None,
    help="Catalogue à lire : URL ou fichier schemas.json (défaut : schema.data.gouv.fr).",
)
@pass_context
def schema_sync(ctx: CliContext, source: str | None) -> None:
    """Synchroniser le registre depuis le catalogue schema.data.gouv.fr."""
    from beffroi.validate.registry import CATALOGUE_URL, Registry  # noqa: PLC0415

    registry = Registry(ctx.settings.data_dir / "schemas")
    try:
        known = registry.sync(source or CATALOGUE_URL)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"Catalogue illisible : {source or CATALOGUE_URL} ({exc})",
            hint="vérifiez l'adresse ou la connexion, ou passez un fichier avec --from",
        ) from exc
    click.echo(f"✓ {known} schémas Table Schema connus ({registry.index_path}).")


@schema_group.command("list")
@pass_context
def schema_list(ctx: CliContext) -> None:
    """Lister les schémas du registre et leurs versions."""
    from beffroi.validate.registry import Registry  # noqa: PLC0415

    entries = Registry(ctx.settings.data_dir / "schemas").entries()
    if not entries:
        click.echo("Registre vide : lancez « beffroi schema sync ».")
        return
    for name, entry in sorted(entries.items()):
        versions = ", ".join(sorted(entry.get("versions", {})))
        click.echo(
            f"{name} — {entry.get('title') or ''} (dernière : {entry.get('latest')}) [{versions}]"
        )
