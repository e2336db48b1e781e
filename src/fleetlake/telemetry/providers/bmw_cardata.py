"""BMW CarData: REST `telematicData` snapshots and stream messages.

Both carry `{"<key>": {"value", "unit", "timestamp"}}` with values as text and a time per
key, so the keys observed at one instant make one record (a snapshot re-sends old
instants; silver keeps one row per (vin, ts)). The REST body has no VIN: the poller
passes the one in the URL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from fleetlake.telemetry.providers.base import charging_state, messages, rejected
from fleetlake.telemetry.schema import MappedBatch, TelemetryRecord
from fleetlake.telemetry.units import CONVERSIONS, convert, to_utc

LOCATION = "vehicle.cabin.infotainment.navigation.currentLocation"
# key → (canonical field, the unit when the message names none)
NUMBERS: dict[str, tuple[str, str | None]] = {
    "vehicle.vehicle.travelledDistance": ("odometer_km", "km"),
    "vehicle.drivetrain.batteryManagement.header": ("soc_pct", "%"),
    "vehicle.powertrain.electric.battery.charging.power": ("charge_power_kw", "W"),
    "vehicle.drivetrain.electricEngine.kombiRemainingElectricRange": ("range_km", "km"),
    f"{LOCATION}.latitude": ("lat", None),
    f"{LOCATION}.longitude": ("lon", None),
    f"{LOCATION}.heading": ("heading_deg", None),
}
CHARGING_KEY = "vehicle.drivetrain.electricEngine.charging.status"
CHARGING_STATES = {
    "nocharging": "disconnected",  # "plugged" when the connector says so
    "initialization": "plugged",
    "chargingactive": "charging",
    "chargingpaused": "stopped",
    "chargingended": "complete",
    "chargingerror": "fault",
}
ENTRIES_KEYS = ("telematicData", "data")  # REST, stream
CONNECTOR_KEY = "vehicle.drivetrain.electricEngine.charging.connectorStatus"


def _entry_value(key: str, entry: dict[str, Any]) -> tuple[str, Any] | None:
    """(canonical field, value) for a key with a canonical place; None if it has none or
    its value does not convert."""
    if key in NUMBERS:
        name, default_unit = NUMBERS[key]
        unit = entry.get("unit") if entry.get("unit") in CONVERSIONS else default_unit
        number = convert(entry.get("value"), unit)
        return None if number is None else (name, number)
    if key == CHARGING_KEY:
        state = charging_state(entry.get("value"), CHARGING_STATES)
        return None if state is None else ("charging_state", state)
    return None


class BmwCarData:
    name = "bmw_cardata"

    def map(self, payload: Any, *, received_at: datetime, vin: str | None = None) -> MappedBatch:
        batch = MappedBatch()
        for position, message in messages(payload):
            entries = _entries(message)
            record_vin = (message.get("vin") if isinstance(message, dict) else None) or vin
            if entries is None or not record_vin:
                reason = "no vin" if entries is not None else "no telematicData or data object"
                batch.rejected.append(rejected(position, reason, message))
                continue
            records, unusable = self._records(str(record_vin), entries, received_at=received_at)
            envelope = {k: v for k, v in message.items() if k not in (*ENTRIES_KEYS, "vin")}
            for record in records:
                record.extra.update({f"message.{k}": v for k, v in envelope.items()})
            batch.records.extend(records)
            if unusable:
                batch.rejected.append(rejected(position, "keys without a timestamp", unusable))
        return batch

    def _records(
        self, vin: str, entries: dict[str, Any], *, received_at: datetime
    ) -> tuple[list[TelemetryRecord], dict[str, Any]]:
        by_time: dict[datetime, tuple[dict[str, Any], dict[str, Any]]] = defaultdict(
            lambda: ({}, {})
        )
        unusable: dict[str, Any] = {}
        for key, entry in entries.items():
            ts = to_utc(entry.get("timestamp")) if isinstance(entry, dict) else None
            if ts is None:
                unusable[key] = entry
                continue
            values, extra = by_time[ts]
            found = _entry_value(key, entry)
            if found is None:
                extra[key] = {k: v for k, v in entry.items() if k != "timestamp"}
            else:
                values[found[0]] = found[1]
        records = []
        for ts, (values, extra) in sorted(by_time.items()):
            connector = str(extra.get(CONNECTOR_KEY, {}).get("value", "")).upper()
            if values.get("charging_state") == "disconnected" and connector == "CONNECTED":
                values["charging_state"] = "plugged"
            record = TelemetryRecord.of(
                vin=vin, ts=ts, received_at=received_at, source=self.name, values=values
            )
            record.extra = extra
            records.append(record)
        return records, unusable


def _entries(message: Any) -> dict[str, Any] | None:
    if not isinstance(message, dict):
        return None
    entries = next((message[k] for k in ENTRIES_KEYS if k in message), None)
    return entries if isinstance(entries, dict) else None
