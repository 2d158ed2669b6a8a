"""Harvesting in: remote sources (DCAT, CKAN, file URLs), runs, DCAT fields (HVD, laws).

Two nullable dataset columns (``hvd_category``, ``applicable_legislation``) and three new
tables (``harvest_source``, ``harvest_run``, ``harvest_record``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dataset", sa.Column("hvd_category", sa.String(length=40), nullable=True))
    op.add_column("dataset", sa.Column("applicable_legislation", sa.JSON(), nullable=True))
    op.create_table(
        "harvest_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=True),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("auto_publish", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_harvest_source_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_harvest_source_organization_id_organization"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_source")),
        sa.UniqueConstraint("name", name=op.f("uq_harvest_source_name")),
    )
    op.create_index(
        op.f("ix_harvest_source_dataset_id"), "harvest_source", ["dataset_id"], unique=False
    )
    op.create_index(
        op.f("ix_harvest_source_organization_id"),
        "harvest_source",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_harvest_source_next_run_at"), "harvest_source", ["next_run_at"], unique=False
    )
    op.create_table(
        "harvest_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["harvest_source.id"],
            name=op.f("fk_harvest_run_source_id_harvest_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_run")),
    )
    op.create_index(op.f("ix_harvest_run_source_id"), "harvest_run", ["source_id"], unique=False)
    op.create_table(
        "harvest_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=False),
        sa.Column("remote_uri", sa.String(length=2000), nullable=True),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("metadata_digest", sa.String(length=64), nullable=True),
        sa.Column("data_url", sa.String(length=2000), nullable=True),
        sa.Column("data_etag", sa.String(length=300), nullable=True),
        sa.Column("data_last_modified", sa.String(length=100), nullable=True),
        sa.Column("data_digest", sa.String(length=64), nullable=True),
        sa.Column("harvested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_harvest_record_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["harvest_source.id"],
            name=op.f("fk_harvest_record_source_id_harvest_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_record")),
        sa.UniqueConstraint("dataset_id", name=op.f("uq_harvest_record_dataset_id")),
        sa.UniqueConstraint("source_id", "remote_id", name=op.f("uq_harvest_record_source_id")),
    )
    op.create_index(
        op.f("ix_harvest_record_source_id"), "harvest_record", ["source_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("harvest_record")
    op.drop_table("harvest_run")
    op.drop_table("harvest_source")
    with op.batch_alter_table("dataset") as batch:
        batch.drop_column("applicable_legislation")
        batch.drop_column("hvd_category")
