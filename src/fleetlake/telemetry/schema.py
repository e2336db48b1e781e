"""The canonical telemetry record: one shape for every provider, units in the names.

Every field but the four identifying ones may be null: a provider sends what it has, and
null means "not reported" (a parked Tesla's speed is null, not 0).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import pyarrow as pa

CHARGING_STATES = ("disconnected", "plugged", "charging", "complete", "stopped", "fault")
GEARS = ("P", "R", "N", "D")

# The measured fields, in the order of the Arrow schema (after vin, ts, received_at, source).
MEASURES: dict[str, pa.DataType] = {
    "lat": pa.float64(),
    "lon": pa.float64(),
    "heading_deg": pa.float64(),
    "speed_kmh": pa.float64(),
    "odometer_km": pa.float64(),
    "soc_pct": pa.float64(),
    "energy_remaining_kwh": pa.float64(),
    "range_km": pa.float64(),
    "charging_state": pa.string(),
    "charge_power_kw": pa.float64(),
    "gear": pa.string(),
    "outside_temp_c": pa.float64(),
}

UTC_MICROS = pa.timestamp("us", tz="UTC")

TELEMETRY_SCHEMA = pa.schema(
    [
        pa.field("vin", pa.string(), nullable=False),
        pa.field("ts", UTC_MICROS, nullable=False),
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("source", pa.string(), nullable=False),
        *(pa.field(name, kind) for name, kind in MEASURES.items()),
        pa.field("extra", pa.string()),  # JSON object of the fields no canonical one took
    ]
)


@dataclass(slots=True)
class TelemetryRecord:
    """One observation of one vehicle at `ts` (UTC), as received at `received_at`."""

    vin: str
    ts: datetime
    received_at: datetime
    source: str
    lat: float | None = None
    lon: float | None = None
    heading_deg: float | None = None
    speed_kmh: float | None = None
    odometer_km: float | None = None
    soc_pct: float | None = None
    energy_remaining_kwh: float | None = None
    range_km: float | None = None
    charging_state: str | None = None
    charge_power_kw: float | None = None
    gear: str | None = None
    outside_temp_c: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        vin: str,
        ts: datetime,
        received_at: datetime,
        source: str,
        values: Mapping[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> TelemetryRecord:
        """A record from canonical measures by name (a name not in MEASURES is a bug)."""
        unknown = set(values) - MEASURES.keys()
        assert not unknown, f"not canonical measures: {sorted(unknown)}"
        return cls(vin, ts, received_at, source, **values, extra=extra or {})

    def measured(self) -> dict[str, Any]:
        """The canonical measures that are not null."""
        return {name: value for name in MEASURES if (value := getattr(self, name)) is not None}


FIELD_NAMES = tuple(f.name for f in fields(TelemetryRecord))
COLUMNS = tuple(name for name in FIELD_NAMES if name != "extra")  # stored as they are


@dataclass(frozen=True, slots=True)
class RejectedPayload:
    """A message no record could be made of, kept with where it was and why."""

    position: int
    reason: str
    raw: str


@dataclass(slots=True)
class MappedBatch:
    """What an adapter made of a payload: records, and the messages it had to reject."""

    records: list[TelemetryRecord] = field(default_factory=list)
    rejected: list[RejectedPayload] = field(default_factory=list)

    def extend(self, other: MappedBatch) -> None:
        self.records.extend(other.records)
        self.rejected.extend(other.rejected)


def json_safe(value: Any) -> Any:
    """`value` with non-finite numbers as the texts "NaN", "Infinity", "-Infinity": JSON has
    no such numbers, and a reader of `extra` must get valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def record_text(record: TelemetryRecord) -> str:
    """A canonical record as the JSON message it reads as (for a quarantine's `raw`)."""
    fields = {name: getattr(record, name) for name in record.__slots__}
    shown = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
    return json.dumps(json_safe({k: v for k, v in shown.items() if v is not None}), default=str)


def extra_json(extra: dict[str, Any]) -> str | None:
    """`extra` as stored: a JSON object text, null when empty."""
    if not extra:
        return None
    return json.dumps(json_safe(extra), sort_keys=True, default=str, allow_nan=False)


def records_to_table(records: Iterable[TelemetryRecord]) -> pa.Table:
    """Records → an Arrow table of TELEMETRY_SCHEMA (`extra` as a JSON text, null when empty)."""
    records = list(records)
    columns = {name: [getattr(r, name) for r in records] for name in COLUMNS}
    columns["extra"] = [extra_json(r.extra) for r in records]
    return pa.Table.from_pydict(columns, schema=TELEMETRY_SCHEMA)


def table_to_records(table: pa.Table) -> list[TelemetryRecord]:
    """The inverse of records_to_table."""
    records = []
    for row in table.select(list(TELEMETRY_SCHEMA.names)).to_pylist():
        extra = row.pop("extra")
        records.append(TelemetryRecord(**row, extra=json.loads(extra) if extra else {}))
    return records
