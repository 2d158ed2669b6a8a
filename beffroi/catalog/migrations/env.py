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
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: use batch mode everywhere
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
