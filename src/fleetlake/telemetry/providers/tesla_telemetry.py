"""Tesla fleet-telemetry (pushed): records of the fields that changed, merged into state.

A record says only what changed since the last one, so each VIN's latest values are kept
and every record yields the vehicle's full state at `createdAt`. A field sent as `invalid`
or null clears that value. Two forms arrive: decoded records
(`{"vin", "createdAt", "data": [{"key", "value": {"<type>Value": …}}]}`) and MQTT, one
field per message on `<base>/<VIN>/v/<Field>` with the bare JSON value as payload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleetlake.telemetry.providers.base import (
    canonical_gear,
    charging_state,
    messages,
    rejected,
)
from fleetlake.telemetry.providers.tesla_fleet_api import CHARGING_STATES  # the same words
from fleetlake.telemetry.schema import MEASURES, MappedBatch, TelemetryRecord
from fleetlake.telemetry.units import convert, to_utc

# Field → (canonical field, unit); listed first wins where two fill one field.
NUMBERS: dict[str, tuple[str, str | None]] = {
    "VehicleSpeed": ("speed_kmh", "mph"),
    "Odometer": ("odometer_km", "miles"),
    "BatteryLevel": ("soc_pct", None),
    "Soc": ("soc_pct", None),
    "GpsHeading": ("heading_deg", None),
    "RatedRange": ("range_km", "miles"),
    "EstBatteryRange": ("range_km", "miles"),
    "EnergyRemaining": ("energy_remaining_kwh", None),
    "ACChargingPower": ("charge_power_kw", None),
    "DCChargingPower": ("charge_power_kw", None),
    "OutsideTemp": ("outside_temp_c", None),
}
PRIORITY = {field: rank for rank, field in enumerate(NUMBERS)}


def unwrap(value: Any) -> Any:
    """`{"doubleValue": 12.3}` → 12.3, `{"invalid": true}` → None, a bare value as it is."""
    if not isinstance(value, dict):
        return value
    if value.get("invalid"):
        return None
    typed = [key for key in value if key.endswith("Value")]
    return value[typed[0]] if len(typed) == 1 else value


def field_values(data: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A record's `data` → (the canonical values it sets, None included; the rest, for
    `extra`: fields with no canonical place and values that did not convert)."""
    found: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    extra: dict[str, Any] = {}
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            extra.setdefault("unreadable", []).append(item)
            continue
        key, value = item["key"], unwrap(item.get("value"))
        values = _canonical(key, value)
        if not values or (value is not None and all(v is None for v in values.values())):
            extra[key] = value
        rank = PRIORITY.get(key, 0)
        for name, canonical in values.items():
            current = found.get(name)
            if name not in found or (
                canonical is not None and (current is None or rank < ranks[name])
            ):
                found[name], ranks[name] = canonical, rank
    return found, extra


def _canonical(key: str, value: Any) -> dict[str, Any]:
    if key in NUMBERS:
        name, unit = NUMBERS[key]
        return {name: convert(value, unit)}
    if key == "Location":
        place = value if isinstance(value, dict) else {}
        return {
            "lat": convert(place.get("latitude"), None),
            "lon": convert(place.get("longitude"), None),
        }
    if key == "Gear":
        return {"gear": canonical_gear(value)}
    if key == "DetailedChargeState":
        text = value.removeprefix("DetailedChargeState") if isinstance(value, str) else value
        return {"charging_state": charging_state(text, CHARGING_STATES)}
    return {}


class TeslaFleetTelemetry:
    name = "tesla_fleet_telemetry"

    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = {}  # VIN → latest canonical values

    def map(self, payload: Any, *, received_at: datetime, vin: str | None = None) -> MappedBatch:
        batch = MappedBatch()
        for position, message in messages(payload):
            if not isinstance(message, dict) or not isinstance(message.get("data"), list):
                batch.rejected.append(rejected(position, "not a fleet-telemetry record", message))
                continue
            record_vin = message.get("vin") or vin
            if not record_vin:
                batch.rejected.append(rejected(position, "no vin", message))
                continue
            batch.records.append(self.merge(str(record_vin), message, received_at=received_at))
        return batch

    def merge(self, vin: str, message: dict[str, Any], *, received_at: datetime) -> TelemetryRecord:
        found, extra = field_values(message["data"])
        state = self.state.setdefault(vin, {})
        state.update(found)
        created = to_utc(message.get("createdAt"))
        if created is None:
            extra["ts_from"] = "received_at"  # the record carried no createdAt
        if message.get("isResend"):
            extra["isResend"] = True
        return TelemetryRecord.of(
            vin=vin,
            ts=created or received_at,
            received_at=received_at,
            source=self.name,
            values={name: state.get(name) for name in MEASURES},
            extra=extra,
        )

    def map_mqtt(self, topic: str, payload: Any, *, received_at: datetime) -> MappedBatch:
        """One MQTT message: topic `<base>/<VIN>/v/<Field>`, payload the field's JSON value."""
        parts = topic.split("/")
        if len(parts) < 3 or parts[-2] != "v" or not parts[-3]:
            return MappedBatch(
                rejected=[rejected(0, f"topic {topic!r} is not <base>/<VIN>/v/<Field>", payload)]
            )
        message = {
            "vin": parts[-3],
            "createdAt": None,
            "data": [{"key": parts[-1], "value": payload}],
        }
        return MappedBatch(records=[self.merge(parts[-3], message, received_at=received_at)])
