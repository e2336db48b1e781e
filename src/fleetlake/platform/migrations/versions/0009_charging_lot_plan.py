"""Charging: the lot's plan as one columnar blob (table charging_plan, its key on the lot row)
instead of a JSON plan and ready time per session row: a replan of 10,000 cars writes one
value, not 10,000 rows. Sessions say when their inputs changed since the last plan
(`pending`).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from fleetlake.platform.db import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PLANNED = ("plan", "planned_at", "ready_at", "reaches_target", "end_charge_kwh")


def upgrade() -> None:
    # Every existing session is pending: the first replan reads them all into the blob.
    op.add_column(
        "charging_sessions",
        sa.Column("pending", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_index(
        "ix_charging_sessions_pending",
        "charging_sessions",
        ["pending"],
        sqlite_where=sa.text("pending"),
        postgresql_where=sa.text("pending"),
    )
    for name in PLANNED:  # SQLite ≥ 3.35 drops an unindexed column in place
        op.drop_column("charging_sessions", name)
    op.add_column("charging_lot", sa.Column("plan_key", sa.String(32)))
    # A table of its own: SQLite rewrites a whole row on UPDATE, and reads past a blob to
    # reach a column after it, so the lot row (locked and read on every write) stays small.
    op.create_table(
        "charging_plan",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("plan", sa.LargeBinary),
    )
    op.execute("INSERT INTO charging_plan (id) VALUES (1)")
    if op.get_bind().dialect.name == "postgresql":  # already dense floats: skip TOAST's pglz
        op.execute("ALTER TABLE charging_plan ALTER COLUMN plan SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("charging_plan")
    op.drop_column("charging_lot", "plan_key")
    op.add_column("charging_sessions", sa.Column("plan", sa.JSON))
    op.add_column("charging_sessions", sa.Column("planned_at", UtcDateTime))
    op.add_column("charging_sessions", sa.Column("ready_at", UtcDateTime))
    op.add_column("charging_sessions", sa.Column("reaches_target", sa.Boolean))
    op.add_column("charging_sessions", sa.Column("end_charge_kwh", sa.Float))
    op.drop_index("ix_charging_sessions_pending", "charging_sessions")
    op.drop_column("charging_sessions", "pending")
