"""Instance commands: init, demo, serve, docs."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from beffroi.cli.base import CliContext, cli, pass_context
from beffroi.errors import ConfigurationError
from beffroi.settings import SECRET_KEY_FILE, generate_secret_key

if TYPE_CHECKING:
    from fastapi import FastAPI

CREDENTIALS_FILE = "demo-credentials.txt"


@cli.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Dossier de la nouvelle instance (sinon celui de l'option globale / BEFFROI_DATA_DIR).",
)
@pass_context
def init(ctx: CliContext, data_dir: Path | None) -> None:
    """Créer (ou mettre à jour) une instance : dossier, clé secrète, catalogue."""
    from beffroi.catalog.db import make_engine, upgrade  # noqa: PLC0415 - keep --help fast

    if data_dir is not None:
        ctx.use_data_dir(data_dir)
    settings = ctx.settings
    console = Console(highlight=False, soft_wrap=True)  # never break paths or passwords
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise ConfigurationError(
            f"{settings.data_dir} existe mais n'est pas un dossier",
            hint="choisissez un autre chemin avec --data-dir",
        )
    # The catalogue holds password hashes and token digests: owner-only from the start.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file = settings.data_dir / SECRET_KEY_FILE
    if settings.secret_key is None and not key_file.exists():
        # Written with owner-only permissions from the start (no window where it is readable).
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(generate_secret_key() + "\n")
        console.print(f"Clé secrète créée : {key_file}")
    upgrade(make_engine(settings.catalog_url))
    if settings.is_embedded:
        (settings.data_dir / "catalog.sqlite3").chmod(0o600)
    where = settings.catalog_url if not settings.is_embedded else settings.data_dir.resolve()
    console.print(f"[green]✓[/] Instance prête : {where}")


@cli.command()
@pass_context
def demo(ctx: CliContext) -> None:
    """Charger l'intercommunalité de démonstration (idempotent)."""
    from beffroi.catalog.demo import load_demo  # noqa: PLC0415 - keep --help fast

    console = Console(highlight=False, soft_wrap=True)  # never break paths or passwords
    with ctx.transaction() as session:
        report = load_demo(session, ctx.actor, ctx.settings)
    console.print(
        f"[green]✓[/] Démo : {report.epci}, {report.communes} communes membres — "
        f"{len(report.created_organizations)} organisation(s), "
        f"{len(report.created_users)} compte(s), "
        f"{len(report.created_datasets)} jeu(x) de données créés."
    )
    credentials = ctx.settings.data_dir / CREDENTIALS_FILE
    if report.created_users:
        lines = [f"{user}\t{password}" for user, password in report.created_users.items()]
        fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        console.print("Comptes de démonstration (mot de passe affiché une seule fois) :")
        for user, password in report.created_users.items():
            console.print(f"  {user:<20} {password}")
    if credentials.exists():
        console.print(f"Identifiants de démonstration : {credentials}")


def _quiet_garbage_collector() -> None:
    """Keep Python's cyclic collector out of request latencies.

    What start-up loaded (modules, the ORM's mappers, templates: hundreds of thousands of
    objects) is frozen out of the collector's reach, and the youngest generation is
    collected less often: a full collection walked all of it every few thousand
    allocations, a pause of tens of milliseconds in the middle of some request.
    """
    import gc  # noqa: PLC0415

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def served_app() -> FastAPI:
    """The application of one ``beffroi serve --workers N`` worker (uvicorn's factory)."""
    from beffroi.web.app import create_app  # noqa: PLC0415

    app = create_app()
    _quiet_garbage_collector()
    return app


@cli.command()
@click.option("--host", default=None, help="Adresse d'écoute (défaut : réglage BEFFROI_HOST).")
@click.option("--port", type=int, default=None, help="Port (défaut : réglage BEFFROI_PORT).")
@pass_context
def serve(ctx: CliContext, host: str | None, port: int | None) -> None:
    """Servir le portail et l'API."""
    import uvicorn  # noqa: PLC0415 - keep --help fast

    from beffroi.web.app import create_app  # noqa: PLC0415

    settings = ctx.settings
    host = host or settings.host
    port = port or settings.port
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104 - display only
    if settings.workers > 1:
        os.environ["BEFFROI_DATA_DIR"] = str(settings.data_dir)
        create_app(settings)  # preflight: a clear error before forking workers
        click.echo(f"Beffroi est servi sur http://{shown}:{port}/ ({settings.workers} workers)")
        uvicorn.run(
            "beffroi.cli.instance:served_app",
            factory=True,
            host=host,
            port=port,
            workers=settings.workers,
            log_level=settings.log_level.lower(),
            access_log=settings.access_log,
        )
        return
    app = create_app(settings)
    _quiet_garbage_collector()
    click.echo(f"Beffroi est servi sur http://{shown}:{port}/  (Ctrl+C pour arrêter)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
    )


@cli.command()
@click.option("--check", is_flag=True, help="Échouer si la documentation générée est périmée.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    help="Racine du dépôt.",
)
def docs(check: bool, root: Path) -> None:
    """(Re)générer la documentation de référence (réglages, erreurs, CLI)."""
    from beffroi.docs import generated_docs  # noqa: PLC0415

    stale = []
    for relative, content in generated_docs().items():
        path = root / relative
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        stale.append(relative)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    if check and stale:
        raise ConfigurationError(
            f"Documentation périmée : {', '.join(stale)}", hint="lancez `beffroi docs`"
        )
    click.echo("Documentation à jour." if not stale else f"Écrit : {', '.join(stale)}")
