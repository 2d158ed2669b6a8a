"""Conformance: a dataset's Table Schema and policy for invalid uploads, and the validation
of each version (verdict, counts, first errors).

Only new tables (no change to existing ones), so that this revision can be re-chained
after any other by changing ``down_revision`` alone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_conformance",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("schema_ref", sa.String(length=500), nullable=False),
        sa.Column("descriptor", sa.JSON(), nullable=False),
        sa.Column("on_invalid", sa.String(length=10), nullable=False),
        sa.Column("modified_by", sa.String(length=200), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_dataset_conformance_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_dataset_conformance")),
    )
    op.create_table(
        "version_conformance",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("schema_ref", sa.String(length=500), nullable=False),
        sa.Column("schema_version", sa.String(length=50), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_version.id"],
            name=op.f("fk_version_conformance_version_id_dataset_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_version_conformance")),
    )


def downgrade() -> None:
    op.drop_table("version_conformance")
    op.drop_table("dataset_conformance")
