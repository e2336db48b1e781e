"""Telemetry: the last state of every vehicle (gold), served by GET /api/v1/vehicles.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from fleetlake.platform.db import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MEASURES = (
    "lat", "lon", "heading_deg", "speed_kmh", "odometer_km", "soc_pct", "energy_remaining_kwh",
    "range_km", "charging_state", "charge_power_kw", "gear", "outside_temp_c",
)  # fmt: skip
TEXT = ("charging_state", "gear")


def upgrade() -> None:
    columns = []
    for name in MEASURES:
        columns.append(sa.Column(name, sa.String(16) if name in TEXT else sa.Float()))
        columns.append(sa.Column(f"{name}_at", UtcDateTime))
    op.create_table(
        "telemetry_vehicle_state",
        sa.Column("vin", sa.String(64), primary_key=True),
        sa.Column("last_ts", UtcDateTime, nullable=False),
        sa.Column("source", sa.Text),
        *columns,
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telemetry_vehicle_state")
