"""Crossings: derived datasets (SQL or declarative joins) and their lineage.

Three new tables: ``crossing_view`` (the definition and its compiled SQL, one per target
dataset), ``crossing_source`` (which datasets a view reads) and ``version_lineage`` (which
source versions produced each view version).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crossing_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("creator_user_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("published_aggregate", sa.Boolean(), nullable=False),
        sa.Column("aggregate_by", sa.String(length=200), nullable=True),
        sa.Column("aggregate_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stale_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_crossing_view_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["creator_user_id"],
            ["user_account.id"],
            name=op.f("fk_crossing_view_creator_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossing_view")),
        sa.UniqueConstraint("dataset_id", name=op.f("uq_crossing_view_dataset_id")),
    )
    op.create_table(
        "crossing_source",
        sa.Column("view_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["view_id"],
            ["crossing_view.id"],
            name=op.f("fk_crossing_source_view_id_crossing_view"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_crossing_source_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("view_id", "dataset_id", name=op.f("pk_crossing_source")),
    )
    op.create_index(
        op.f("ix_crossing_source_dataset_id"), "crossing_source", ["dataset_id"], unique=False
    )
    op.create_table(
        "version_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("source_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_version.id"],
            name=op.f("fk_version_lineage_version_id_dataset_version"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_version_id"],
            ["dataset_version.id"],
            name=op.f("fk_version_lineage_source_version_id_dataset_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_lineage")),
        sa.UniqueConstraint(
            "version_id", "source_version_id", name=op.f("uq_version_lineage_version_id")
        ),
    )
    op.create_index(
        op.f("ix_version_lineage_version_id"), "version_lineage", ["version_id"], unique=False
    )
    op.create_index(
        op.f("ix_version_lineage_source_version_id"),
        "version_lineage",
        ["source_version_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_version_lineage_source_version_id"), table_name="version_lineage")
    op.drop_index(op.f("ix_version_lineage_version_id"), table_name="version_lineage")
    op.drop_table("version_lineage")
    op.drop_index(op.f("ix_crossing_source_dataset_id"), table_name="crossing_source")
    op.drop_table("crossing_source")
    op.drop_table("crossing_view")
