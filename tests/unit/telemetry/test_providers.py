"""Every real payload in tests/data/providers mapped with exact values."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetlake.errors import InvalidParameter
from fleetlake.telemetry.providers import adapter_for
from fleetlake.telemetry.providers.bmw_cardata import BmwCarData
from fleetlake.telemetry.providers.high_mobility import HighMobility
from fleetlake.telemetry.providers.tesla_fleet_api import TeslaFleetApi
from fleetlake.telemetry.providers.tesla_telemetry import TeslaFleetTelemetry
from tests.conftest import DATA

PROVIDERS = DATA / "providers"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MILE = 1.609344


def load(relative: str) -> Any:
    return json.loads((PROVIDERS / relative).read_text())


def test_tesla_vehicle_data_parked() -> None:
    batch = TeslaFleetApi().map(load("tesla_fleet_api/vehicle_data.parked.json"), received_at=NOW)
    assert batch.rejected == []
    [record] = batch.records
    assert record.vin == "LRWXF7EK4KC700000"
    assert record.ts == datetime(2024, 1, 19, 23, 38, 40, 649000, tzinfo=UTC)  # 1705707520649 ms
    assert record.received_at == NOW and record.source == "tesla_fleet_api"
    assert (record.lat, record.lon, record.heading_deg) == (-30.222626, -97.6236871, 185.0)
    assert record.speed_kmh is None  # null when parked: not 0
    assert record.gear is None
    assert record.odometer_km == pytest.approx(6481.019282 * MILE)
    assert record.soc_pct == 77.0
    assert record.energy_remaining_kwh == 46.92
    assert record.range_km == pytest.approx(266.87 * MILE)
    assert record.charging_state == "stopped"
    assert record.charge_power_kw == 0.0
    assert record.outside_temp_c == 30.0
    # Nothing thrown away: unmapped fields are in extra, the mapped ones are not.
    assert record.extra["drive_state.gps_as_of"] == 1701129612
    assert record.extra["charge_state.est_battery_range"] == 275.04
    assert record.extra["climate_state.inside_temp"] is not None
    assert "drive_state.speed" not in record.extra and "vehicle_state.odometer" not in record.extra


def test_tesla_vehicle_data_charging() -> None:
    [record] = (
        TeslaFleetApi()
        .map(load("tesla_fleet_api/vehicle_data.charging.json"), received_at=NOW)
        .records
    )
    assert record.vin == "5YJSA11111111111"
    assert record.ts == datetime(2020, 12, 10, 18, 11, 37, 515000, tzinfo=UTC)
    assert (record.lat, record.lon, record.heading_deg) == (33.111111, -88.111111, 5.0)
    assert record.charging_state == "charging"
    assert record.charge_power_kw == 9.0
    assert record.soc_pct == 59.0
    assert record.energy_remaining_kwh is None  # older cars don't send it
    assert record.odometer_km == pytest.approx(57869.762487 * MILE)
    assert record.range_km == pytest.approx(149.92 * MILE)
    assert record.outside_temp_c == 18.0
    assert record.extra["drive_state.power"] == -9
    assert record.extra["charge_state.charge_energy_added"] == 2.42


def test_tesla_vehicle_data_without_vin_or_time_is_rejected_with_reason() -> None:
    payload = [{"response": {"state": "asleep"}}, {"vin": "5YJ", "drive_state": {"speed": 5}}, 7]
    batch = TeslaFleetApi().map(payload, received_at=NOW)
    assert batch.records == []
    assert [(r.position, r.reason) for r in batch.rejected] == [
        (0, "no vin"),
        (1, "no section timestamp"),
        (2, "not a vehicle_data object"),
    ]


def test_fleet_telemetry_record_file() -> None:
    batch = TeslaFleetTelemetry().map(load("tesla_fleet_telemetry/record.json"), received_at=NOW)
    [record] = batch.records
    assert record.vin == "42"
    assert record.ts == NOW  # createdAt is null in the file: the receipt time, and said so
    assert record.extra == {"VehicleName": "cybertruck", "ts_from": "received_at"}
    assert record.measured() == {}


def test_fleet_telemetry_merges_changes_into_state() -> None:
    adapter = TeslaFleetTelemetry()

    def send(created: str, *data: tuple[str, Any]) -> Any:
        message = {"vin": "5YJ3", "createdAt": created, "isResend": False,
                   "data": [{"key": k, "value": v} for k, v in data]}  # fmt: skip
        [record] = adapter.map(message, received_at=NOW).records
        return record

    first = send(
        "2026-11-22T10:00:00Z",
        ("VehicleSpeed", {"stringValue": "31.0686"}),  # a string on some firmware
        ("Odometer", {"doubleValue": 100.0}),
        ("Soc", {"floatValue": 80.5}),
        ("BatteryLevel", {"intValue": 80}),
        ("Location", {"locationValue": {"latitude": 52.5, "longitude": 13.4}}),
        ("Gear", {"shiftStateValue": "ShiftStateD"}),
        ("DetailedChargeState", {"detailedChargeStateValue": "DetailedChargeStateDisconnected"}),
    )
    assert first.ts == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert first.speed_kmh == pytest.approx(50.0, abs=1e-3)
    assert first.odometer_km == pytest.approx(100 * MILE)
    assert first.soc_pct == 80.0  # BatteryLevel first, Soc second
    assert (first.lat, first.lon, first.gear) == (52.5, 13.4, "D")
    assert first.charging_state == "disconnected"
    second = send("2026-11-22T10:00:05Z", ("VehicleSpeed", {"invalid": True}))
    assert second.speed_kmh is None  # invalid clears; everything else carried over
    assert (second.odometer_km, second.soc_pct, second.gear) == (
        first.odometer_km,
        80.0,
        "D",
    )
    third = send("2026-11-22T10:00:09Z", ("Soc", {"floatValue": 79.0}), ("Gear", "Invalid"))
    assert third.soc_pct == 79.0  # Soc alone still fills the field
    assert third.gear is None and third.extra == {"Gear": "Invalid"}  # kept, unreadable


def test_fleet_telemetry_mqtt_one_field_per_message() -> None:
    adapter = TeslaFleetTelemetry()
    adapter.map_mqtt("tesla/5YJ3/v/VehicleSpeed", 60, received_at=NOW)
    batch = adapter.map_mqtt(
        "tesla/5YJ3/v/Location", {"latitude": 37.77, "longitude": -122.41}, received_at=NOW
    )
    [record] = batch.records
    assert (record.vin, record.lat, record.lon) == ("5YJ3", 37.77, -122.41)
    assert record.speed_kmh == pytest.approx(60 * MILE)
    bad = adapter.map_mqtt("tesla/5YJ3/VehicleSpeed", 60, received_at=NOW)
    assert bad.records == [] and "is not <base>/<VIN>/v/<Field>" in bad.rejected[0].reason


def test_bmw_stream_message_file() -> None:
    batch = BmwCarData().map(load("bmw_cardata/stream_message_example.json"), received_at=NOW)
    [record] = batch.records
    assert record.vin == "WBAJA91000CD48772"
    assert record.ts == datetime(2025, 10, 18, 19, 9, 4, tzinfo=UTC)  # the key's own time
    assert record.odometer_km == 87897.0
    assert record.extra["message.entityId"] == "187d32c4-6ce2-470f-9f3d-81ba54bcc4da"


def test_bmw_rest_snapshot_text_values_and_one_record_per_instant() -> None:
    at_10, at_9 = "2025-01-01T10:00:00Z", "2025-01-01T09:00:00Z"
    entry = lambda value, unit, ts: {"value": value, "unit": unit, "timestamp": ts}  # noqa: E731
    payload = {
        "telematicData": {
            "vehicle.drivetrain.batteryManagement.header": entry("67", "%", at_10),
            "vehicle.powertrain.electric.battery.charging.power": entry("7400", "W", at_10),
            "vehicle.drivetrain.electricEngine.charging.status": entry("NOCHARGING", None, at_10),
            "vehicle.drivetrain.electricEngine.charging.connectorStatus": entry(
                "CONNECTED", None, at_10
            ),
            "vehicle.cabin.infotainment.navigation.currentLocation.latitude": entry(
                "48.1", "degrees", at_9
            ),
            "vehicle.isMoving": entry("ASN_isFalse", None, at_9),
            "vehicle.vehicle.travelledDistance": {"value": "12"},  # no time: rejected, kept
        }
    }
    batch = BmwCarData().map(payload, received_at=NOW, vin="WBA0000000000001")
    earlier, later = batch.records
    assert (earlier.ts, earlier.lat, earlier.soc_pct) == (
        datetime(2025, 1, 1, 9, tzinfo=UTC),
        48.1,
        None,
    )
    assert earlier.extra == {"vehicle.isMoving": {"value": "ASN_isFalse", "unit": None}}
    assert later.soc_pct == 67.0 and later.charge_power_kw == pytest.approx(7.4)
    assert later.charging_state == "plugged"  # not charging, but the connector is in
    [kept] = batch.rejected
    assert kept.reason == "keys without a timestamp" and "travelledDistance" in kept.raw
    assert BmwCarData().map(payload, received_at=NOW).rejected[0].reason == "no vin"


def test_high_mobility_example_file() -> None:
    batch = HighMobility().map(load("high_mobility/example.json"), received_at=NOW, vin="V1")
    [record] = batch.records
    assert record.ts == datetime(2021, 10, 6, 13, 59, 25, 648943, tzinfo=UTC)
    assert (record.speed_kmh, record.odometer_km) == (42.0, 2050.0)
    assert record.extra == {"race.vehicle_moving": "moving"}


def test_high_mobility_fraction_units_and_envelope() -> None:
    ts = "2026-01-01T08:00:00Z"
    message = {
        "vin": "HM1",
        "message_id": "m-1",
        "data": {
            "charging": {
                "battery_level": [{"data": 0.425, "timestamp": ts}],
                "status": [{"data": "charging_complete", "timestamp": ts}],
                "charging_rate": [{"data": {"value": 11000, "unit": "watts"}, "timestamp": ts}],
            },
            "diagnostics": {
                "odometer": [{"data": {"value": 1000, "unit": "miles"}, "timestamp": ts}]
            },
            "vehicle_location": {
                "coordinates": [{"data": {"latitude": 52.52, "longitude": 13.4}, "timestamp": ts}]
            },
        },
    }
    [record] = HighMobility().map(message, received_at=NOW).records
    assert record.vin == "HM1" and record.soc_pct == pytest.approx(42.5)
    assert record.charging_state == "complete" and record.charge_power_kw == pytest.approx(11.0)
    assert record.odometer_km == pytest.approx(1000 * MILE)
    assert (record.lat, record.lon) == (52.52, 13.4)
    assert record.extra == {"message_id": "m-1"}


MOBILISIGHT_TOML = """
name = "mobilisight"
records = "payload.items"
vin = "vehicle.vin"
ts = "signals.time"

[fields]
lat = "signals.position.lat"
lon = "signals.position.lon"
speed_kmh = { path = "signals.speed", unit = "mph" }
soc_pct = { path = "signals.soc", unit = "fraction" }
charge_power_kw = { path = "signals.power", unit = "W" }
charging_state = { path = "signals.charge", values = { CHARGING = "charging", IDLE = "plugged" } }
"""


def test_declarative_mapping(tmp_path: Path) -> None:
    spec = tmp_path / "mobilisight.toml"
    spec.write_text(MOBILISIGHT_TOML)
    adapter = adapter_for(mapping=spec)
    item = {
        "vehicle": {"vin": "VF1", "model": "Zoe"},
        "signals": {"time": 1767254400000, "position": {"lat": "45.07", "lon": 7.68},
                    "speed": 10, "soc": 0.8, "power": 22000, "charge": "charging"},
    }  # fmt: skip
    batch = adapter.map({"payload": {"items": [item, {"vehicle": {}}]}}, received_at=NOW)
    [record] = batch.records
    assert record.source == "mobilisight" and record.vin == "VF1"
    assert record.ts == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert (record.lat, record.lon) == (45.07, 7.68)
    assert record.speed_kmh == pytest.approx(16.09344)
    assert (record.soc_pct, record.charge_power_kw) == (80.0, 22.0)
    assert record.charging_state == "charging"
    assert record.extra == {"vehicle.model": "Zoe"}
    assert [r.reason for r in batch.rejected] == ["no vin at 'vehicle.vin'"]


BASE = {"name": "x", "vin": "v", "ts": "t"}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"vin": "v", "ts": "t", "fields": {}}, "name"),
        (BASE | {"fields": {"speed": "s"}}, "fields.speed"),
        (BASE | {"fields": {"speed_kmh": {"path": "s", "unit": "knots"}}}, "fields.speed_kmh.unit"),
        (BASE | {"fields": {"gear": {"path": "g", "values": {"1": "F"}}}}, "fields.gear.values"),
        (
            BASE | {"fields": {"soc_pct": {"path": "s", "values": {"a": "b"}}}},
            "fields.soc_pct.values",
        ),
        (BASE | {"fields": {"soc_pct": {"unit": "%"}}}, "fields.soc_pct"),
    ],
)
def test_a_bad_mapping_names_its_field(tmp_path: Path, spec: dict[str, Any], field: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(InvalidParameter) as raised:
        adapter_for(mapping=path)
    assert raised.value.details["field"] == field


def test_canonical_records_keep_unknown_fields_and_bad_values_in_extra() -> None:
    message = {"vin": "V", "ts": "2026-11-22T11:59:00+01:00", "speed_kmh": "88.5",
               "soc_pct": None, "charging_state": "Charging", "gear": "d",
               "odometer_km": "lots", "tyre_kpa": 240, "source": "fleet-a"}  # fmt: skip
    [record] = adapter_for("canonical").map(message, received_at=NOW).records
    assert record.ts == datetime(2026, 11, 22, 10, 59, tzinfo=UTC)
    assert (record.speed_kmh, record.soc_pct, record.charging_state, record.gear) == (
        88.5,
        None,
        "charging",
        "D",
    )
    assert record.source == "fleet-a"
    assert record.odometer_km is None and record.extra == {"odometer_km": "lots", "tyre_kpa": 240}


def test_unknown_provider_names_the_choices() -> None:
    with pytest.raises(InvalidParameter, match="tesla_fleet_api"):
        adapter_for("teslamate")
