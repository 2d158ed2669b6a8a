"""Publication workflow: proposed metadata changes awaiting a steward's decision.

One new table, ``metadata_review`` (the proposal, the values it replaces, the decision).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metadata_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("proposed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_metadata_review_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_metadata_review_proposed_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadata_review")),
    )
    op.create_index(
        op.f("ix_metadata_review_dataset_id"), "metadata_review", ["dataset_id"], unique=False
    )
    op.create_index(op.f("ix_metadata_review_status"), "metadata_review", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_metadata_review_status"), table_name="metadata_review")
    op.drop_index(op.f("ix_metadata_review_dataset_id"), table_name="metadata_review")
    op.drop_table("metadata_review")
