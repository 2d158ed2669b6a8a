"""The root command group, its shared context and the error rendering."""

from __future__ import annotations

import getpass
import importlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from beffroi import __version__
from beffroi.errors import BeffroiError

if TYPE_CHECKING:  # imported where used: `beffroi validate` needs neither SQLAlchemy nor settings
    from sqlalchemy.orm import Session, sessionmaker

    from beffroi.access import Actor
    from beffroi.settings import Settings

EXIT_USER_ERROR = 1
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: try again later


class Finished:
    """A command that has closed every file it wrote and printed all it had to print can
    ask the ``beffroi`` script to end the process at once: ``os._exit`` after flushing,
    without the interpreter's clean-up (40 ms of a 0.9 s validation, freeing what Arrow
    and DuckDB allocated). Only :func:`beffroi.cli.main` acts on it: in-process runs
    (click's test runner) end as usual."""

    requested = False


def exit_now(code: int) -> None:
    """End a finished command with ``code`` (see :class:`Finished`)."""
    Finished.requested = True
    sys.exit(code)


LANGUAGES = ("fr", "en")
LANG_ENV = "BEFFROI_LANG"

# Labels of the error lines, per language (French typography: a space before the colon).
_LABELS = {
    "fr": ("Erreur :", "→ Pour corriger :", " :"),
    "en": ("Error:", "→ To fix:", ":"),
}


def cli_language(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The language of messages: ``--lang``/``BEFFROI_LANG``, else the POSIX locale
    (``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``) when it starts with ``en``, else French."""
    if explicit and explicit.lower() in LANGUAGES:
        return explicit.lower()
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:  # the first one set decides, as in setlocale(3)
            return "en" if value.lower().startswith("en") else "fr"
    return "fr"


class CliError(click.ClickException):
    """A Beffroi error, rendered for a terminal: message, then how to fix it."""

    exit_code = EXIT_USER_ERROR

    def __init__(self, error: BeffroiError, lang: str = "fr") -> None:
        super().__init__(error.localized(lang)[0])
        self.error = error
        self.lang = lang

    def show(self, file: IO[Any] | None = None) -> None:
        from rich.console import Console  # noqa: PLC0415 - keep start-up fast
        from rich.markup import escape  # noqa: PLC0415

        stream: IO[Any] = file if file is not None else sys.stderr
        console = Console(file=stream, highlight=False, soft_wrap=True)
        message, hint = self.error.localized(self.lang)
        error_label, hint_label, colon = _LABELS.get(self.lang, _LABELS["fr"])
        console.print(f"[bold red]{error_label}[/] {escape(message)}", markup=True)
        if hint:
            console.print(f"[yellow]{hint_label}[/] {escape(hint)}", markup=True)
        for problem in self.error.details.get("errors", []):
            console.print(
                f"  • {problem.get('field') or '-'}{colon} {problem['message']}", markup=False
            )


@dataclass
class CliContext:
    """State shared by the commands of one invocation."""

    data_dir: Path | None = None
    debug: bool = False
    lang: str = "fr"
    _settings: Settings | None = field(default=None, repr=False)
    _factory: sessionmaker[Session] | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """The instance settings (the --data-dir option wins over BEFFROI_DATA_DIR)."""
        if self._settings is None:
            from beffroi.settings import load_settings  # noqa: PLC0415 - keep start-up fast

            overrides: dict[str, Any] = {}
            if self.data_dir is not None:
                overrides["data_dir"] = self.data_dir
            self._settings = load_settings(**overrides)
        return self._settings

    def use_data_dir(self, data_dir: Path) -> None:
        """Point this invocation (and child processes) at another instance."""
        self.data_dir = data_dir
        self._settings = None
        self._factory = None
        os.environ["BEFFROI_DATA_DIR"] = str(data_dir)

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """Sessions on the instance's catalogue (checked to be migrated)."""
        if self._factory is None:
            from beffroi.catalog.db import (  # noqa: PLC0415 - keep `--help` fast
                check_schema_current,
                engine_for,
                session_factory,
            )

            engine = engine_for(self.settings)
            check_schema_current(engine)
            self._factory = session_factory(engine)
        return self._factory

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A catalogue session committed at the end (checks the catalogue is migrated)."""
        with self.session_factory() as session, session.begin():
            yield session

    @property
    def actor(self) -> Actor:
        """The local operator."""
        from beffroi.access import Actor  # noqa: PLC0415 - keep start-up fast

        return Actor.system(name=getpass.getuser(), surface="cli")


class TransientCliError(CliError):
    """A transient error (service unavailable): exit status 75, retry later."""

    exit_code = EXIT_TRANSIENT


def cli_error(error: BeffroiError, lang: str | None = None) -> CliError:
    """The terminal rendering of a Beffroi error, with the exit status of its kind (in
    ``lang``; by default the language of the environment, see :func:`cli_language`)."""
    chosen = lang or cli_language()
    return TransientCliError(error, chosen) if error.transient else CliError(error, chosen)


class BeffroiGroup(click.Group):
    """Turns Beffroi errors (and any unexpected one) into a one-line message, and imports
    a command's module only when that command runs (``lazy_commands``: name → module), so
    that ``beffroi ingest`` does not pay for DuckDB, RDF or the web stack."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 - click API
        return sorted(set(self.commands) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            importlib.import_module(self.lazy_commands[cmd_name])  # registers the command
        return self.commands.get(cmd_name)

    def load_all(self) -> None:
        """Import every command module (for the generated reference and the tests)."""
        for module in sorted(set(self.lazy_commands.values())):
            importlib.import_module(module)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # Output piped into `head` or similar that stopped reading: not an error.
            _silence_stdout()
            raise click.exceptions.Exit(0) from None
        except BeffroiError as exc:
            if _debug(ctx):
                raise
            raise cli_error(exc, _lang(ctx)) from exc
        except Exception as exc:
            if _debug(ctx):
                raise
            unexpected = BeffroiError(
                f"Erreur inattendue : {type(exc).__name__}: {exc}",
                hint="relancez avec --debug pour le détail et signalez-la à l'équipe",
                message_en=f"Unexpected error: {type(exc).__name__}: {exc}",
                hint_en="run again with --debug for the details and report it to the team",
            )
            raise cli_error(unexpected, _lang(ctx)) from exc


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (e.g. under a test runner)
        pass


def _debug(ctx: click.Context) -> bool:
    obj = ctx.find_object(CliContext)
    return bool(obj and obj.debug)


def _lang(ctx: click.Context) -> str:
    obj = ctx.find_object(CliContext)
    return obj.lang if obj is not None else cli_language()


pass_context = click.make_pass_decorator(CliContext)


@click.group(cls=BeffroiGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="BEFFROI_DATA_DIR",
    help="Dossier de l'instance (défaut : ./beffroi-data ; variable BEFFROI_DATA_DIR).",
)
@click.option("--debug", is_flag=True, help="Afficher la trace complète des erreurs.")
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES, case_sensitive=False),
    envvar=LANG_ENV,
    help="Langue des messages d'erreur (défaut : anglais si LC_ALL, LC_MESSAGES ou LANG "
    "commence par « en », sinon français ; variable BEFFROI_LANG).",
)
@click.version_option(__version__, prog_name="beffroi")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, debug: bool, lang: str | None) -> None:
    """Beffroi — plateforme de données mutualisée de l'intercommunalité."""
    ctx.obj = CliContext(data_dir=data_dir, debug=debug, lang=cli_language(lang))


def print_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], *, as_json: bool, title: str
) -> None:
    """Print rows as a rich table, or as JSON lines for scripts."""
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False, default=str))
        return
    from rich.console import Console  # noqa: PLC0415 - keep start-up fast
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console(soft_wrap=True).print(table)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Sortie JSON (une ligne par objet)."
)
