"""Dataset usage counters for the portal's most used datasets.

One table, ``dataset_usage``: per dataset and per day (UTC), the number of dataset page
views, downloads (exports) and records API calls. Counts only — no address, no user.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_usage",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("downloads", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("api_calls", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_dataset_usage_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "day", name=op.f("pk_dataset_usage")),
    )
    op.create_index(op.f("ix_dataset_usage_day"), "dataset_usage", ["day"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dataset_usage_day"), table_name="dataset_usage")
    op.drop_table("dataset_usage")
