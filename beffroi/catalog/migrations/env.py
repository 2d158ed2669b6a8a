"""Alembic environment: the engine is handed over by ``beffroi.catalog.db``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from beffroi.catalog.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only through beffroi.catalog.db
    msg = "run migrations through beffroi.catalog.db.upgrade()"
    raise TypeError(msg)

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table (copy, DROP, rename). With foreign keys on, the DROP
        # deletes the rows first and cascades to the referencing tables (slug redirects…).
        # The pragma only works outside a transaction, so set it before beginning one.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: use batch mode everywhere
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        if broken:
            msg = f"migration left rows violating foreign keys: {broken[:5]}"
            raise RuntimeError(msg)
