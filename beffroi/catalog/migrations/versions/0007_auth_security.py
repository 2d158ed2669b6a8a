"""Authentication hardening: token scopes, login lockout, licence acceptances, audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the revision is reserved so that the chain stays linear."""


def downgrade() -> None:
    """Nothing to revert."""
