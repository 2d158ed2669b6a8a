"""OpenID Connect: identities linking an issuer's subject to a user account.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the revision is reserved so that the chain stays linear."""


def downgrade() -> None:
    """Nothing to revert."""
