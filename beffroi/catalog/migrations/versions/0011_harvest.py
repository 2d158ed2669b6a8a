"""Harvesting in: remote sources (DCAT, CKAN, file URLs), runs, DCAT fields (HVD, laws).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the revision is reserved so that the chain stays linear."""


def downgrade() -> None:
    """Nothing to revert."""
