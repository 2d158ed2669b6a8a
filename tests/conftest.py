"""Shared fixtures: catalogue databases (SQLite and the real PostgreSQL), instances, apps.

PostgreSQL tests use ``BEFFROI_TEST_POSTGRES_URL`` (default: the local server, database
``test``), each in a schema of its own. They skip when the server is absent, unless
``BEFFROI_REQUIRE_SERVICES`` is set (as in CI), where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog.db import make_engine, upgrade
from beffroi.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_URL = os.environ.get(
    "BEFFROI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_SECRET = "test-secret-key-" + "x" * 32


def services_required() -> bool:
    """True in CI: a missing service is a failure, not a skip."""
    return bool(os.environ.get("BEFFROI_REQUIRE_SERVICES"))


def skip_or_fail(reason: str) -> None:
    """Skip locally when a service is absent; fail when services are required."""
    if services_required():
        pytest.fail(f"{reason} (BEFFROI_REQUIRE_SERVICES is set)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test PostgreSQL database (skips/fails when absent)."""
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        skip_or_fail(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc.orig}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A URL pointing at a fresh, private schema of the test database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty catalogue database URL: SQLite file, then real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated catalogue engine (on both backends)."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back at the end of the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        db = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield db
        finally:
            db.close()
            transaction.rollback()


@pytest.fixture
def system() -> Actor:
    """The local operator (full rights)."""
    return Actor.system(name="test")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of an embedded instance in a temporary directory (no environment leaks)."""
    for name in list(os.environ):
        if name.startswith("BEFFROI_") and name not in {
            "BEFFROI_REQUIRE_SERVICES",
            "BEFFROI_TEST_POSTGRES_URL",
        }:
            monkeypatch.delenv(name)
    data_dir = tmp_path / "instance"
    data_dir.mkdir()
    return load_settings(data_dir=data_dir, secret_key=TEST_SECRET)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for an instance in ``data_dir`` with the test secret."""
    return load_settings(data_dir=data_dir, secret_key=TEST_SECRET, **overrides)
