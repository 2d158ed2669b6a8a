"""Authentication hardening: token scopes, login lockout, licence acceptances, audit log.

New tables only (``api_token_scope``, ``login_throttle``, ``licence_acceptance``), plus
triggers that make ``audit_event`` append-only on SQLite and PostgreSQL: any UPDATE or
DELETE is refused, except the one update the schema itself makes — ``actor_user_id`` set
to NULL when its user account is deleted (``ON DELETE SET NULL``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Every column of audit_event but actor_user_id: none may ever change.
_FROZEN = "id, at, actor, action, object_type, object_id, surface, details"
_MESSAGE = "audit_event is append-only"

_PG_FUNCTION = f"""
CREATE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.actor_user_id IS NULL
       AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.object_type, NEW.object_id,
            NEW.surface, NEW.details::text)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.object_type, OLD.object_id,
            OLD.surface, OLD.details::text)
    THEN
        RETURN NEW;  -- ON DELETE SET NULL of the user account: the event itself is kept
    END IF;
    RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER audit_event_no_update BEFORE UPDATE OF {_FROZEN} ON audit_event
    BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END""",
    """CREATE TRIGGER audit_event_no_update_user BEFORE UPDATE OF actor_user_id ON audit_event
    WHEN NEW.actor_user_id IS NOT NULL
    BEGIN SELECT RAISE(ABORT, '"""
    + _MESSAGE
    + """'); END""",
    f"""CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
    BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END""",
)


def upgrade() -> None:
    op.create_table(
        "api_token_scope",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("dataset_ids", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_token.id"],
            name=op.f("fk_api_token_scope_token_id_api_token"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_token_scope")),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "licence_acceptance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("licence", sa.String(length=300), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("surface", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_licence_acceptance_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_licence_acceptance_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_acceptance")),
        sa.UniqueConstraint(
            "user_id", "dataset_id", "licence", name=op.f("uq_licence_acceptance_user_id")
        ),
    )
    with op.batch_alter_table("licence_acceptance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_licence_acceptance_dataset_id"), ["dataset_id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    else:
        for name in (
            "audit_event_no_update",
            "audit_event_no_update_user",
            "audit_event_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("licence_acceptance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_acceptance_dataset_id"))
    op.drop_table("licence_acceptance")
    op.drop_table("login_throttle")
    op.drop_table("api_token_scope")
