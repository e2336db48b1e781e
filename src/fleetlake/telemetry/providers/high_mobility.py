"""High Mobility auto-api JSON: `{"<capability>": {"<property>": [{"data", "timestamp"}]}}`.

Units are spelled out in the data (`{"value": 42, "unit": "kilometers_per_hour"}`), the
battery level is a fraction 0 to 1, and each property has its own time: the properties seen at
one instant make one record. A delivery envelope `{"vin", "message_id", "data": {…}}` is
accepted too (MQTT is at-least-once: `message_id` is kept to deduplicate on).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from fleetlake.telemetry.providers.base import charging_state, messages, rejected
from fleetlake.telemetry.schema import MappedBatch, TelemetryRecord
from fleetlake.telemetry.units import CONVERSIONS, convert, to_utc

# (capability, property) → (canonical field, the unit when the data names none)
NUMBERS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("diagnostics", "odometer"): ("odometer_km", "kilometers"),
    ("diagnostics", "speed"): ("speed_kmh", "kilometers_per_hour"),
    ("charging", "battery_level"): ("soc_pct", "fraction"),
    ("charging", "estimated_range"): ("range_km", "kilometers"),
    ("charging", "charging_rate"): ("charge_power_kw", "kilowatts"),
    ("charging", "battery_energy"): ("energy_remaining_kwh", "kilowatt_hours"),
    ("vehicle_location", "heading"): ("heading_deg", "degrees"),
    ("climate", "outside_temperature"): ("outside_temp_c", "celsius"),
}
CHARGING_STATES = {
    "not_charging": "disconnected",  # "plugged" when plugged_in says so
    "cable_unplugged": "disconnected",
    "initialising": "plugged",
    "discharging": "plugged",
    "charging": "charging",
    "slow_charging": "charging",
    "fast_charging": "charging",
    "charging_complete": "complete",
    "charging_paused": "stopped",
    "charging_error": "fault",
}
Observation = tuple[dict[str, Any], dict[str, Any]]  # canonical values, extra


def _observe(key: tuple[str, str], data: Any, into: Observation) -> None:
    values, extra = into
    if key in NUMBERS:
        name, default_unit = NUMBERS[key]
        raw, unit = data, default_unit
        if isinstance(data, dict):
            raw = data.get("value")
            unit = data["unit"] if data.get("unit") in CONVERSIONS else default_unit
        number = convert(raw, unit)
        if number is not None:
            values[name] = number
            return
    elif key == ("vehicle_location", "coordinates") and isinstance(data, dict):
        lat, lon = convert(data.get("latitude"), None), convert(data.get("longitude"), None)
        if lat is not None and lon is not None:
            values.update(lat=lat, lon=lon)
            return
    elif key == ("charging", "status") and charging_state(data, CHARGING_STATES):
        values["charging_state"] = charging_state(data, CHARGING_STATES)
        return
    extra[".".join(key)] = data


class HighMobility:
    name = "high_mobility"

    def map(self, payload: Any, *, received_at: datetime, vin: str | None = None) -> MappedBatch:
        batch = MappedBatch()
        for position, message in messages(payload):
            if not isinstance(message, dict):
                batch.rejected.append(rejected(position, "not an auto-api object", message))
                continue
            enveloped = isinstance(message.get("data"), dict) and "vin" in message
            capabilities = message["data"] if enveloped else message
            record_vin = (message.get("vin") if enveloped else None) or vin
            if not record_vin:
                batch.rejected.append(rejected(position, "no vin", message))
                continue
            by_time, unusable = _observations(capabilities)
            for ts, (values, extra) in sorted(by_time.items()):
                if enveloped and message.get("message_id") is not None:
                    extra["message_id"] = message["message_id"]
                _resolve_plug(values, extra)
                batch.records.append(
                    TelemetryRecord.of(
                        vin=str(record_vin),
                        ts=ts,
                        received_at=received_at,
                        source=self.name,
                        values=values,
                        extra=extra,
                    )
                )
            if unusable:
                batch.rejected.append(
                    rejected(position, "properties without a timestamp", unusable)
                )
        return batch


def _observations(
    capabilities: dict[str, Any],
) -> tuple[dict[datetime, Observation], dict[str, Any]]:
    by_time: dict[datetime, Observation] = defaultdict(lambda: ({}, {}))
    unusable: dict[str, Any] = {}
    for capability, properties in capabilities.items():
        if not isinstance(properties, dict):
            unusable[capability] = properties
            continue
        for prop, items in properties.items():
            for item in items if isinstance(items, list) else [items]:
                ts = to_utc(item.get("timestamp")) if isinstance(item, dict) else None
                if ts is None:
                    unusable.setdefault(f"{capability}.{prop}", []).append(item)
                    continue
                _observe((capability, prop), item.get("data"), by_time[ts])
    return by_time, unusable


def _resolve_plug(values: dict[str, Any], extra: dict[str, Any]) -> None:
    plugged = extra.get("charging.plugged_in")
    if values.get("charging_state") == "disconnected" and plugged in (
        "plugged_in",
        "plugged_in_both_sides",
    ):
        values["charging_state"] = "plugged"
