"""Access governance: sharing agreements, organisation settings (review required),
publication reviews, personal-data column flags, minimum cell size.

Only new tables (no change to existing ones), so that this revision can be re-chained
after any other by changing ``down_revision`` alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_setting",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("review_required", sa.Boolean(), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_organization_setting_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_organization_setting")),
    )
    op.create_table(
        "sharing_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("row_filter", sa.JSON(), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["user_account.id"],
            name=op.f("fk_sharing_agreement_approver_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["organization.id"],
            name=op.f("fk_sharing_agreement_owner_id_organization"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_agreement")),
    )
    with op.batch_alter_table("sharing_agreement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_agreement_owner_id"), ["owner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sharing_agreement_status"), ["status"], unique=False)

    op.create_table(
        "agreement_dataset",
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["sharing_agreement.id"],
            name=op.f("fk_agreement_dataset_agreement_id_sharing_agreement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_agreement_dataset_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agreement_id", "dataset_id", name=op.f("pk_agreement_dataset")),
    )
    with op.batch_alter_table("agreement_dataset", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_dataset_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "agreement_grantee",
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["sharing_agreement.id"],
            name=op.f("fk_agreement_grantee_agreement_id_sharing_agreement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_agreement_grantee_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "agreement_id", "organization_id", name=op.f("pk_agreement_grantee")
        ),
    )
    with op.batch_alter_table("agreement_grantee", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_grantee_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "column_flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=300), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detected_in_version", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_column_flag_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_column_flag")),
        sa.UniqueConstraint("dataset_id", "column_name", name=op.f("uq_column_flag_dataset_id")),
    )
    with op.batch_alter_table("column_flag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_column_flag_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "dataset_privacy",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("min_cell_size", sa.Integer(), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_dataset_privacy_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_dataset_privacy")),
    )
    op.create_table(
        "publication_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_publication_review_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_publication_review_requested_by_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_version.id"],
            name=op.f("fk_publication_review_version_id_dataset_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication_review")),
    )
    with op.batch_alter_table("publication_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_publication_review_dataset_id"), ["dataset_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_publication_review_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_publication_review_version_id"), ["version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("publication_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publication_review_version_id"))
        batch_op.drop_index(batch_op.f("ix_publication_review_status"))
        batch_op.drop_index(batch_op.f("ix_publication_review_dataset_id"))

    op.drop_table("publication_review")
    op.drop_table("dataset_privacy")
    with op.batch_alter_table("column_flag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_column_flag_dataset_id"))

    op.drop_table("column_flag")
    with op.batch_alter_table("agreement_grantee", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_grantee_organization_id"))

    op.drop_table("agreement_grantee")
    with op.batch_alter_table("agreement_dataset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_dataset_dataset_id"))

    op.drop_table("agreement_dataset")
    with op.batch_alter_table("sharing_agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_agreement_status"))
        batch_op.drop_index(batch_op.f("ix_sharing_agreement_owner_id"))

    op.drop_table("sharing_agreement")
    op.drop_table("organization_setting")
