"""Access epoch: one counter every access-relevant catalogue write bumps.

A one-row table ``access_epoch`` (``value``: a counter; ``salt``: a random number drawn
again at each bump, so that a bump rolled back never comes back as the same pair) and
database triggers, on SQLite and PostgreSQL alike, on every table an access decision reads
(see :mod:`beffroi.access.cache`). Triggers rather than ORM hooks: they also see Core
statements, bulk updates and the rows that ``ON DELETE CASCADE`` removes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Table → the columns whose update matters (None: any column). Kept in step with
# beffroi.access.cache.EPOCH_TABLES (a test compares them).
WATCHED: dict[str, tuple[str, ...] | None] = {
    "dataset": None,
    "dataset_version": None,
    "sharing_agreement": None,
    "agreement_grantee": None,
    "agreement_dataset": None,
    "licence_acceptance": None,
    "column_flag": None,
    "dataset_privacy": None,
    "organization": None,
    "membership": None,
    "user_account": ("is_active", "is_platform_admin"),  # not last_login_at
    "api_token": ("user_id", "expires_at", "revoked_at"),  # not last_used_at
    "api_token_scope": None,
}

# The counter wraps before the 32-bit limit (a write must never fail for the epoch's sake);
# the salt, drawn again at each bump, keeps a wrapped value from meeting its old key.
_NEXT = "CASE WHEN value >= 2147483646 THEN 0 ELSE value + 1 END"
_SQLITE_BUMP = (
    f"UPDATE access_epoch SET value = {_NEXT}, salt = abs(random() % 2147483647) "  # noqa: S608
    "WHERE id = 1"
)
_PG_FUNCTION = """
CREATE FUNCTION beffroi_bump_access_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Once per transaction (the flag is transaction-local), and, for the row triggers,
    -- at commit (deferred): the epoch row is locked only while the transaction commits,
    -- so access-relevant writes neither queue behind a long transaction nor deadlock on it.
    IF coalesce(current_setting('beffroi.access_epoch_bumped', true), '') <> '1' THEN
        UPDATE access_epoch
        SET value = NEXT_VALUE, salt = floor(random() * 2147483647)::integer
        WHERE id = 1;
        PERFORM set_config('beffroi.access_epoch_bumped', '1', true);
    END IF;
    RETURN NULL;
END;
$$
""".replace("NEXT_VALUE", _NEXT)
# Marks the transaction as having written access data (a statement trigger, no lock): the
# cache decides afresh and stores nothing while the transaction's own bump is pending.
_PG_DIRTY = """
CREATE FUNCTION beffroi_mark_access_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('beffroi.access_epoch_dirty', '1', true);
    RETURN NULL;
END;
$$
"""


def _trigger(table: str, event: str) -> str:
    return f"access_epoch_{table}_{event.split(maxsplit=1)[0].lower()}"


def upgrade() -> None:
    op.create_table(
        "access_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("salt", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_epoch")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    seed = "floor(random() * 2147483647)::integer" if postgres else "abs(random() % 2147483647)"
    op.execute(f"INSERT INTO access_epoch (id, value, salt) VALUES (1, 0, {seed})")  # noqa: S608
    if postgres:
        op.execute(_PG_FUNCTION)
        op.execute(_PG_DIRTY)
    for table, columns in WATCHED.items():
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        if postgres:
            # A deferred constraint trigger fires at commit, in the writing transaction:
            # the bump becomes visible with the data, never before nor after it.
            op.execute(
                f"CREATE CONSTRAINT TRIGGER access_epoch_bump AFTER INSERT OR DELETE OR "
                f"{update} ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "EXECUTE FUNCTION beffroi_bump_access_epoch()"
            )
            op.execute(
                f"CREATE TRIGGER access_epoch_dirty AFTER INSERT OR DELETE OR {update} "
                f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
                "EXECUTE FUNCTION beffroi_mark_access_dirty()"
            )
            op.execute(  # TRUNCATE has no row: a statement trigger, at once
                f"CREATE TRIGGER access_epoch_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION beffroi_bump_access_epoch()"
            )
            continue
        for event in ("INSERT", "DELETE", update):
            op.execute(
                f"CREATE TRIGGER {_trigger(table, event)} AFTER {event} ON {table} "
                f"FOR EACH ROW BEGIN {_SQLITE_BUMP}; END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in WATCHED.items():
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS access_epoch_bump ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS access_epoch_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS access_epoch_dirty ON {table}")
            continue
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        for event in ("INSERT", "DELETE", update):
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table, event)}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS beffroi_bump_access_epoch()")
        op.execute("DROP FUNCTION IF EXISTS beffroi_mark_access_dirty()")
    op.drop_table("access_epoch")
