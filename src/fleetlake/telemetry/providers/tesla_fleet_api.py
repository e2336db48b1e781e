"""Tesla Fleet API `vehicle_data` (polled): one snapshot → one record.

`ts` is the newest of the sections' own timestamps (ms); the GPS fix's time (`gps_as_of`,
s) can be older and stays in `extra`. Speed is mph and null when parked (kept null).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleetlake.telemetry.providers.base import Fields, flatten, messages, rejected
from fleetlake.telemetry.schema import MappedBatch, TelemetryRecord
from fleetlake.telemetry.units import epoch_to_utc

SECTIONS = ("drive_state", "charge_state", "vehicle_state", "climate_state", "gui_settings")

CHARGING_STATES = {
    "disconnected": "disconnected",
    "starting": "plugged",
    "charging": "charging",
    "complete": "complete",
    "stopped": "stopped",
    "nopower": "fault",  # plugged in, the charger gives no power
}

# canonical field ← (flattened path, unit)
NUMBERS = {
    "lat": ("drive_state.latitude", None),
    "lon": ("drive_state.longitude", None),
    "heading_deg": ("drive_state.heading", None),
    "speed_kmh": ("drive_state.speed", "mph"),
    "odometer_km": ("vehicle_state.odometer", "miles"),
    "soc_pct": ("charge_state.battery_level", None),
    "energy_remaining_kwh": ("charge_state.energy_remaining", None),
    "range_km": ("charge_state.battery_range", "miles"),
    "charge_power_kw": ("charge_state.charger_power", None),
    "outside_temp_c": ("climate_state.outside_temp", None),
}
CHARGING_PATH = "charge_state.charging_state"
GEAR_PATH = "drive_state.shift_state"


class TeslaFleetApi:
    name = "tesla_fleet_api"

    def map(self, payload: Any, *, received_at: datetime, vin: str | None = None) -> MappedBatch:
        batch = MappedBatch()
        for position, message in messages(payload):
            body = message.get("response", message) if isinstance(message, dict) else None
            if not isinstance(body, dict):
                batch.rejected.append(rejected(position, "not a vehicle_data object", message))
                continue
            record_vin = body.get("vin") or vin
            stamps = [
                epoch_to_utc(section.get("timestamp"))
                for name in SECTIONS
                if isinstance(section := body.get(name), dict)
            ]
            ts = max((stamp for stamp in stamps if stamp is not None), default=None)
            if not record_vin or ts is None:
                reason = "no vin" if not record_vin else "no section timestamp"
                batch.rejected.append(rejected(position, reason, message))
                continue
            fields = Fields(flatten(body))
            fields.mark_used("vin")
            values: dict[str, Any] = fields.numbers(NUMBERS)
            values["charging_state"] = fields.state(CHARGING_PATH, CHARGING_STATES)
            values["gear"] = fields.gear(GEAR_PATH)
            record = TelemetryRecord.of(
                vin=str(record_vin),
                ts=ts,
                received_at=received_at,
                source=self.name,
                values=values,
                extra=fields.extra(),
            )
            batch.records.append(record)
        return batch
