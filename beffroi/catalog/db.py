"""Catalogue database: engine, sessions and Alembic migrations (same scripts for SQLite and PG)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from beffroi.errors import ConfigurationError, ServiceUnavailableError
from beffroi.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: every CLI command pays its import time otherwise.


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers; foreign keys on; wait instead of failing when busy."""
    # SQLite's own lower() folds ASCII only: « Énergie » would not match a search for
    # « énergie ». Replace it with Python's, as PostgreSQL's lower() already does.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for the catalogue URL (SQLite gets WAL and foreign keys)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def engine_for(settings: Settings) -> Engine:
    """The catalogue engine of an instance; refuses an SQLite file in a missing directory."""
    if settings.is_embedded and not settings.data_dir.is_dir():
        raise ConfigurationError(
            f"Le dossier de données {settings.data_dir} n'existe pas",
            hint="lancez `beffroi init` ou indiquez une instance avec BEFFROI_DATA_DIR",
        )
    return make_engine(settings.catalog_url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def ping(session: Session) -> str:
    """Ask the catalogue database a trivial query; its dialect name once it has answered."""
    session.execute(text("SELECT 1"))
    return session.get_bind().dialect.name


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # noqa: PLC0415 - lazy, see the module imports

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("beffroi.catalog") / "migrations")
    )
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    from alembic import command  # noqa: PLC0415 - lazy, see the module imports

    try:
        command.upgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise ServiceUnavailableError(
            f"Base du catalogue injoignable : {exc.orig}",
            hint="vérifiez BEFFROI_DATABASE_URL et que le serveur de base de données répond",
        ) from exc


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Revert migrations down to ``revision``."""
    from alembic import command  # noqa: PLC0415 - lazy, see the module imports

    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - lazy

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision shipped with this version of Beffroi."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - lazy

    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


_REVISION_LINE = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:"([^"]*)"|None)', re.M)


@functools.cache
def shipped_head() -> str | None:
    """The head revision read straight from the migration scripts' ``revision`` lines.

    The same answer as :func:`head_revision` (a test checks it) without importing Alembic
    and loading every script: each CLI command checks the schema before it runs.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    folder = resources.files("beffroi.catalog") / "migrations" / "versions"
    for script in folder.iterdir():
        if not script.name.endswith(".py") or script.name.startswith("_"):
            continue
        for name, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents - {""}
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def check_schema_current(engine: Engine) -> None:
    """Fail with a fix hint when the catalogue is missing or behind the code."""
    try:
        current = _stored_revision(engine)
    except OperationalError as exc:
        raise ServiceUnavailableError(
            f"Base du catalogue injoignable : {exc.orig}",
            hint="vérifiez BEFFROI_DATABASE_URL et que le serveur de base de données répond",
        ) from exc
    head = shipped_head() or head_revision(engine)
    if current != head:
        raise ConfigurationError(
            f"Le catalogue est à la révision {current or 'vide'}, le code attend {head}",
            hint="lancez `beffroi init` (applique les migrations)",
        )
