"""Indicators: definitions, computations (lineage), values (history), alerts.

Only new tables (no change to existing ones), so that this revision can be re-chained
after any other by changing ``down_revision`` alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("title_en", sa.String(length=300), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=60), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("breakdown", sa.String(length=10), nullable=False),
        sa.Column("normalisation", sa.String(length=20), nullable=False),
        sa.Column("cumulative", sa.Boolean(), nullable=False),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("alert_threshold", sa.Float(), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.Column("access_level", sa.String(length=20), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("stale_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["organization.id"],
            name=op.f("fk_indicator_owner_id_organization"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator")),
        sa.UniqueConstraint("code", name=op.f("uq_indicator_code")),
    )
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicator_access_level"), ["access_level"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_indicator_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_indicator_theme"), ["theme"], unique=False)

    op.create_table(
        "indicator_computation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("trigger", sa.String(length=200), nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("sql_hash", sa.String(length=64), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("min_cell_size", sa.Integer(), nullable=True),
        sa.Column("value_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=False),
        sa.Column("computed_by", sa.String(length=200), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_computation_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_computation")),
    )
    with op.batch_alter_table("indicator_computation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicator_computation_computed_at"), ["computed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_indicator_computation_indicator_id"), ["indicator_id"], unique=False
        )

    op.create_table(
        "indicator_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("computation_id", sa.Integer(), nullable=False),
        sa.Column("commune", sa.String(length=5), nullable=True),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("previous", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["computation_id"],
            ["indicator_computation.id"],
            name=op.f("fk_indicator_alert_computation_id_indicator_computation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_alert_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_alert")),
    )
    with op.batch_alter_table("indicator_alert", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicator_alert_indicator_id"), ["indicator_id"], unique=False
        )

    op.create_table(
        "indicator_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("computation_id", sa.Integer(), nullable=False),
        sa.Column("commune", sa.String(length=5), nullable=True),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("raw", sa.Float(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("cell_count", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["computation_id"],
            ["indicator_computation.id"],
            name=op.f("fk_indicator_value_computation_id_indicator_computation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_value_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_value")),
    )
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicator_value_computation_id"), ["computation_id"], unique=False
        )
        batch_op.create_index(
            "ix_indicator_value_lookup", ["indicator_id", "computation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.drop_index("ix_indicator_value_lookup")
        batch_op.drop_index(batch_op.f("ix_indicator_value_computation_id"))

    op.drop_table("indicator_value")
    with op.batch_alter_table("indicator_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_alert_indicator_id"))

    op.drop_table("indicator_alert")
    with op.batch_alter_table("indicator_computation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_computation_indicator_id"))
        batch_op.drop_index(batch_op.f("ix_indicator_computation_computed_at"))

    op.drop_table("indicator_computation")
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_theme"))
        batch_op.drop_index(batch_op.f("ix_indicator_owner_id"))
        batch_op.drop_index(batch_op.f("ix_indicator_access_level"))

    op.drop_table("indicator")
