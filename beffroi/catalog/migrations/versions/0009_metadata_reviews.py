"""Publication workflow: proposed metadata changes awaiting a steward's decision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the revision is reserved so that the chain stays linear."""


def downgrade() -> None:
    """Nothing to revert."""
