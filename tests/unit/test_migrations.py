"""Alembic migrations: reversible, identical to the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.exc import IntegrityError

from beffroi.catalog import db
from beffroi.catalog.models import Base
from beffroi.errors import ConfigurationError

ALEMBIC_TABLE = "alembic_version"


@pytest.fixture
def bare_engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty, never migrated database."""
    engine = db.make_engine(db_url)
    yield engine
    engine.dispose()


def table_names(engine: Engine) -> set[str]:
    """Tables of the catalogue (Alembic keeps its own, emptied, version table)."""
    return set(inspect(engine).get_table_names()) - {ALEMBIC_TABLE}


def schema_differences(engine: Engine, metadata: MetaData) -> list[object]:
    """What autogenerate would write to bring the database to ``metadata``."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_upgrade_downgrade_upgrade(bare_engine: Engine) -> None:
    assert table_names(bare_engine) == set()
    assert db.current_revision(bare_engine) is None

    db.upgrade(bare_engine)
    assert table_names(bare_engine) == set(Base.metadata.tables)
    assert db.current_revision(bare_engine) == db.head_revision(bare_engine) is not None

    db.downgrade(bare_engine)
    assert table_names(bare_engine) == set()
    assert db.current_revision(bare_engine) is None

    db.upgrade(bare_engine)
    assert table_names(bare_engine) == set(Base.metadata.tables)
    assert db.current_revision(bare_engine) == db.head_revision(bare_engine)


def test_fast_schema_check_agrees_with_alembic(bare_engine: Engine) -> None:
    # The CLI reads the head from the scripts' revision lines and the current revision with
    # one SELECT; both must give Alembic's answers at every step.
    assert db.shipped_head() == db.head_revision(bare_engine) is not None
    assert db._stored_revision(bare_engine) is None
    with pytest.raises(ConfigurationError, match="révision vide"):
        db.check_schema_current(bare_engine)
    db.upgrade(bare_engine, "0001")
    assert db._stored_revision(bare_engine) == db.current_revision(bare_engine) == "0001"
    with pytest.raises(ConfigurationError, match="beffroi init"):
        db.check_schema_current(bare_engine)
    db.upgrade(bare_engine)
    assert db._stored_revision(bare_engine) == db.current_revision(bare_engine)
    db.check_schema_current(bare_engine)


def test_migrated_schema_matches_the_models(bare_engine: Engine) -> None:
    db.upgrade(bare_engine)
    # No filtering needed: UTCDateTime compares as its impl DateTime(timezone=True), and
    # JSON columns are declared sa.JSON in the migration as in the models. Tables, columns,
    # types, nullability, indexes, unique constraints and foreign keys are all compared.
    assert schema_differences(bare_engine, Base.metadata) == []


def test_schema_comparison_detects_drift(bare_engine: Engine) -> None:
    """The check above can fail: a model with one more column or table is reported."""
    db.upgrade(bare_engine)
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["dataset"].append_column(Column("extra", String(10), nullable=True))
    Table("brand_new", drifted, Column("id", Integer, primary_key=True))

    added = [diff for diff in schema_differences(bare_engine, drifted) if isinstance(diff, tuple)]
    assert [(d[2], d[3].name) for d in added if d[0] == "add_column"] == [("dataset", "extra")]
    assert [d[1].name for d in added if d[0] == "add_table"] == ["brand_new"]


def test_foreign_keys_and_indexes_exist(bare_engine: Engine) -> None:
    """Spot check through the inspector, independent of autogenerate."""
    db.upgrade(bare_engine)
    inspector = inspect(bare_engine)
    fks = {
        (fk["constrained_columns"][0], fk["referred_table"], fk["options"].get("ondelete"))
        for fk in inspector.get_foreign_keys("dataset")
    }
    assert ("publisher_id", "organization", "RESTRICT") in fks
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("audit_event")}
    assert ("object_type", "object_id") in indexed
    uniques = {tuple(uq["column_names"]) for uq in inspector.get_unique_constraints("dataset")}
    assert ("slug",) in uniques


def test_sqlite_connection_pragmas(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
            # lower() folds non-ASCII letters, as PostgreSQL's does.
            assert connection.execute(text("SELECT lower('ÉNERGIE')")).scalar() == "énergie"
    finally:
        engine.dispose()


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    db.upgrade(engine)
    try:
        with engine.connect() as connection, pytest.raises(IntegrityError, match="FOREIGN KEY"):
            connection.execute(
                text(
                    "INSERT INTO membership (user_id, organization_id, role, created_at) "
                    "VALUES (4242, 4242, 'viewer', '2025-01-01 00:00:00')"
                )
            )
    finally:
        engine.dispose()


def test_check_schema_current(bare_engine: Engine) -> None:
    with pytest.raises(ConfigurationError, match="vide") as raised:
        db.check_schema_current(bare_engine)
    assert "beffroi init" in (raised.value.hint or "")

    db.upgrade(bare_engine)
    db.check_schema_current(bare_engine)  # no error once at head

    db.downgrade(bare_engine)
    with pytest.raises(ConfigurationError):
        db.check_schema_current(bare_engine)


def test_upgrade_keeps_existing_rows(bare_engine: Engine) -> None:
    """Batch mode rebuilds tables on SQLite: referencing rows (slug redirects) must survive."""
    db.upgrade(bare_engine, "0001")
    with bare_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organization (id, slug, name, kind, description, created_at,"
                " modified_at) VALUES (1, 'epci', 'EPCI', 'epci', '', :now, :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO dataset (id, slug, title, description, keywords, themes, license,"
                " publisher_id, spatial, access_level, created_at, modified_at) VALUES"
                " (1, 'new-slug', 'Titre', '', '[]', '[]', 'etalab-2.0', 1, '[]', 'public',"
                " :now, :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO slug_redirect (old_slug, dataset_id, created_at)"
                " VALUES ('old-slug', 1, :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
    db.upgrade(bare_engine)
    with bare_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM slug_redirect")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM dataset")).scalar() == 1
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
