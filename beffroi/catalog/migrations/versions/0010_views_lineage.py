"""Crossings: derived datasets (SQL or declarative joins) and their lineage.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the revision is reserved so that the chain stays linear."""


def downgrade() -> None:
    """Nothing to revert."""
