"""Indicators: in-app alerts for sources late against their declared update frequency.

One row per (indicator, source dataset, publication): the scheduler raises each once, even
across restarts. Only a new table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator_source_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=100), nullable=False),
        sa.Column("frequency", sa.String(length=40), nullable=True),
        sa.Column("published_at", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_source_alert_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_source_alert")),
        sa.UniqueConstraint(
            "indicator_id",
            "dataset",
            "published_at",
            name=op.f("uq_indicator_source_alert_indicator_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("indicator_source_alert")
