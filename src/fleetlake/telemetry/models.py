"""Telemetry tables in the serving database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fleetlake.platform.db import UtcDateTime, metadata
from fleetlake.telemetry.schema import MEASURES

TEXT_MEASURES = ("charging_state", "gear")


def _measure_columns() -> list[sa.Column[Any]]:
    columns: list[sa.Column[Any]] = []
    for name in MEASURES:
        kind: Any = sa.String(16) if name in TEXT_MEASURES else sa.Float()
        columns.append(sa.Column(name, kind))
        columns.append(sa.Column(f"{name}_at", UtcDateTime))  # when that value was seen
    return columns


# Gold: the latest valid value of each field per vehicle, with the time it was seen.
vehicle_state = sa.Table(
    "telemetry_vehicle_state",
    metadata,
    sa.Column("vin", sa.String(64), primary_key=True),
    sa.Column("last_ts", UtcDateTime, nullable=False),
    sa.Column("source", sa.Text),
    *_measure_columns(),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
