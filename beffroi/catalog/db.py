"""Catalogue database: engine, sessions and Alembic migrations (same scripts for SQLite and PG)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from beffroi.errors import ConfigurationError, ServiceUnavailableError
from beffroi.settings import Settings


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
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("beffroi.catalog") / "migrations")
    )
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    try:
        command.upgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise ServiceUnavailableError(
            f"Base du catalogue injoignable : {exc.orig}",
            hint="vérifiez BEFFROI_DATABASE_URL et que le serveur de base de données répond",
        ) from exc


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Revert migrations down to ``revision``."""
    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision shipped with this version of Beffroi."""
    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def check_schema_current(engine: Engine) -> None:
    """Fail with a fix hint when the catalogue is missing or behind the code."""
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise ServiceUnavailableError(
            f"Base du catalogue injoignable : {exc.orig}",
            hint="vérifiez BEFFROI_DATABASE_URL et que le serveur de base de données répond",
        ) from exc
    if current != head_revision(engine):
        raise ConfigurationError(
            f"Le catalogue est à la révision {current or 'vide'}, le code attend "
            f"{head_revision(engine)}",
            hint="lancez `beffroi init` (applique les migrations)",
        )
