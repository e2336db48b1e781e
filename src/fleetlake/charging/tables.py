"""Charging lot tables: one row per charging session (a car's stay: its inputs while parked,
its history after), the lot row (its plan version, the lock a replan takes so two processes
never plan at once), the whole plan as one blob, refused import rows, and meter readings
(accepted or refused, with the reason)."""

from __future__ import annotations

import sqlalchemy as sa

from fleetlake.platform.db import UtcDateTime, metadata
from fleetlake.platform.tables import BigId

PARKED = sa.text("parked")
PENDING = sa.text("pending")

charging_sessions = sa.Table(
    "charging_sessions",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("plate", sa.String(32), nullable=False),
    sa.Column("parked", sa.Boolean, nullable=False),
    sa.Column("capacity_kwh", sa.Float, nullable=False),
    sa.Column("start_charge_kwh", sa.Float, nullable=False),
    # The charge last measured and when (the import, a meter reading): a plan starts from it.
    sa.Column("charge_kwh", sa.Float, nullable=False),
    sa.Column("charge_at", UtcDateTime, nullable=False),
    sa.Column("desired_pct", sa.Float, nullable=False),
    sa.Column("max_power_kw", sa.Float),
    sa.Column("departure", UtcDateTime),
    sa.Column("plugged_at", UtcDateTime, nullable=False),
    sa.Column("unplugged_at", UtcDateTime),
    sa.Column("final_charge_kwh", sa.Float),
    sa.Column("energy_delivered_kwh", sa.Float),
    sa.Column("ready_notified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("fit_power_kw", sa.Float),
    sa.Column("fit_taper_start_pct", sa.Float),
    sa.Column("fit_taper_end_pct", sa.Float),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # Changed since the last plan: the next replan reads this row (the rest come from the blob).
    sa.Column("pending", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Index(
        "ix_charging_sessions_plate_parked",
        "plate",
        unique=True,
        sqlite_where=PARKED,
        postgresql_where=PARKED,
    ),
    sa.Index("ix_charging_sessions_plate", "plate"),
    sa.Index(
        "ix_charging_sessions_pending", "pending", sqlite_where=PENDING, postgresql_where=PENDING
    ),
)

charging_lot = sa.Table(
    "charging_lot",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("plan_version", sa.BigInteger, nullable=False),
    sa.Column("planned_at", UtcDateTime),
    sa.Column("load", sa.JSON),  # the planned draw: [[Unix s, kW], …] at each step start
    sa.Column("plan_key", sa.String(32)),  # new with every stored plan: what readers cache by
)

# The stored plan, one row: every parked car's plan (lot_plan.LotPlan.to_bytes). Apart from
# the lot row, which SQLite would rewrite whole on every version bump.
charging_plan = sa.Table(
    "charging_plan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("plan", sa.LargeBinary),
)

charging_quarantine = sa.Table(
    "charging_quarantine",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE")),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("line", sa.BigInteger, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_charging_quarantine_job_id", "job_id"),
)

charging_readings = sa.Table(
    "charging_readings",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column(
        "session_id",
        sa.BigInteger,
        sa.ForeignKey("charging_sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("ts", UtcDateTime, nullable=False),
    sa.Column("energy_kwh", sa.Float),
    sa.Column("soc_pct", sa.Float),
    sa.Column("power_kw", sa.Float),
    sa.Column("accepted", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_charging_readings_session_id_ts", "session_id", "ts"),
)
