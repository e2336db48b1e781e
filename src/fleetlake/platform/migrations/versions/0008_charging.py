"""Charging lot: sessions (the parked cars and their history), the plan's lock row, refused
import rows, meter readings.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from fleetlake.platform.db import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "charging_sessions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("plate", sa.String(32), nullable=False),
        sa.Column("parked", sa.Boolean, nullable=False),
        sa.Column("capacity_kwh", sa.Float, nullable=False),
        sa.Column("start_charge_kwh", sa.Float, nullable=False),
        sa.Column("charge_kwh", sa.Float, nullable=False),
        sa.Column("charge_at", UtcDateTime, nullable=False),
        sa.Column("desired_pct", sa.Float, nullable=False),
        sa.Column("max_power_kw", sa.Float),
        sa.Column("departure", UtcDateTime),
        sa.Column("plugged_at", UtcDateTime, nullable=False),
        sa.Column("unplugged_at", UtcDateTime),
        sa.Column("final_charge_kwh", sa.Float),
        sa.Column("energy_delivered_kwh", sa.Float),
        sa.Column("plan", sa.JSON),
        sa.Column("planned_at", UtcDateTime),
        sa.Column("ready_at", UtcDateTime),
        sa.Column("reaches_target", sa.Boolean),
        sa.Column("end_charge_kwh", sa.Float),
        sa.Column("ready_notified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("fit_power_kw", sa.Float),
        sa.Column("fit_taper_start_pct", sa.Float),
        sa.Column("fit_taper_end_pct", sa.Float),
        sa.Column(
            "job_id",
            sa.Integer,
            sa.ForeignKey("jobs.id", ondelete="SET NULL", name="fk_charging_sessions_job_id_jobs"),
        ),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_charging_sessions_plate_parked",
        "charging_sessions",
        ["plate"],
        unique=True,
        sqlite_where=sa.text("parked"),
        postgresql_where=sa.text("parked"),
    )
    op.create_index("ix_charging_sessions_plate", "charging_sessions", ["plate"])
    op.create_table(
        "charging_lot",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("plan_version", sa.BigInteger, nullable=False),
        sa.Column("planned_at", UtcDateTime),
        sa.Column("load", sa.JSON),
    )
    op.execute("INSERT INTO charging_lot (id, plan_version) VALUES (1, 0)")
    op.create_table(
        "charging_quarantine",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "job_id",
            sa.Integer,
            sa.ForeignKey("jobs.id", ondelete="CASCADE", name="fk_charging_quarantine_job_id_jobs"),
        ),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_charging_quarantine_job_id", "charging_quarantine", ["job_id"])
    op.create_table(
        "charging_readings",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "session_id",
            sa.BigInteger,
            sa.ForeignKey(
                "charging_sessions.id",
                ondelete="CASCADE",
                name="fk_charging_readings_session_id_charging_sessions",
            ),
            nullable=False,
        ),
        sa.Column("ts", UtcDateTime, nullable=False),
        sa.Column("energy_kwh", sa.Float),
        sa.Column("soc_pct", sa.Float),
        sa.Column("power_kw", sa.Float),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_charging_readings_session_id_ts", "charging_readings", ["session_id", "ts"])


def downgrade() -> None:
    op.drop_table("charging_readings")
    op.drop_table("charging_quarantine")
    op.drop_table("charging_lot")
    op.drop_table("charging_sessions")
