"""Run the simulated fleet for some days and hand its messages out: NDJSON files with the
truth beside them, an MQTT broker, or (see `telemetry_api`) a provider-style HTTP API."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fleetlake.simulate.telemetry import make_fleet, simulate_day
from fleetlake.simulate.telemetry_faults import FaultRates, deliver

TRUTH_DIR = "_truth"
# Canonical JSON as the canonical adapter reads it; `extra` is empty in simulated data.
JSON_COLUMNS = (
    "vin, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts, "
    "strftime(received_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS received_at, source, lat, lon, "
    "heading_deg, speed_kmh, odometer_km, soc_pct, energy_remaining_kwh, range_km, "
    "charging_state, charge_power_kw, gear, outside_temp_c"
)


@dataclass(frozen=True)
class FleetSpec:
    """Which fleet to simulate: the same spec and seed give the same messages and truth."""

    vehicles: int
    days: int
    start: date
    seed: int = 7
    interval_s: int = 10
    rates: FaultRates = field(default_factory=FaultRates)


@dataclass
class SimulationSummary:
    vehicles: int
    days: int
    truth_rows: int = 0
    messages: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def simulated_days(spec: FleetSpec) -> Iterator[tuple[date, pa.Table, pa.Table, pa.Table]]:
    """(day, truth, delivered messages, fault log) for each simulated day."""
    fleet = make_fleet(vehicles=spec.vehicles, seed=spec.seed, interval_s=spec.interval_s)
    for offset in range(spec.days):
        day = spec.start + timedelta(days=offset)
        truth = simulate_day(fleet, day)
        delivered, faults = deliver(truth, rates=spec.rates, seed=spec.seed + offset)
        yield day, truth, delivered, faults


def _tally(summary: SimulationSummary, truth: pa.Table, faults: pa.Table) -> None:
    summary.truth_rows += truth.num_rows
    for kind in faults["kind"].to_pylist():
        summary.faults[kind] = summary.faults.get(kind, 0) + 1


def write_files(out: Path, spec: FleetSpec) -> SimulationSummary:
    """`out/telemetry-<received day>.ndjson` in order of receipt (late messages land in a
    later day's file), and `out/_truth/`: `truth-<day>.parquet` and `faults-<day>.parquet`."""
    import duckdb

    (out / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    summary = SimulationSummary(vehicles=spec.vehicles, days=spec.days)
    parts = []
    for day, truth, delivered, faults in simulated_days(spec):
        pq.write_table(truth, out / TRUTH_DIR / f"truth-{day}.parquet")
        pq.write_table(faults, out / TRUTH_DIR / f"faults-{day}.parquet")
        _tally(summary, truth, faults)
        parts.append(delivered)
    messages = pa.concat_tables(parts).sort_by([("received_at", "ascending")])
    summary.messages = messages.num_rows
    connection = duckdb.connect()
    connection.register("messages", messages)
    received_days = connection.execute(
        "SELECT DISTINCT CAST(received_at AS DATE) FROM messages ORDER BY 1"
    ).fetchall()
    for (received_day,) in received_days:
        target = out / f"telemetry-{received_day}.ndjson"
        connection.execute(
            f"COPY (SELECT {JSON_COLUMNS} FROM messages "  # noqa: S608  (our own columns)
            "WHERE CAST(received_at AS DATE) = ? ORDER BY received_at) "
            f"TO '{target}' (FORMAT JSON)",
            [received_day],
        )
        summary.files.append(str(target))
    connection.close()
    return summary


PUBLISH_WINDOW = 1000  # messages sent but not yet acknowledged by the broker (QoS 1)
ACK_TIMEOUT_S = 60.0


def _acknowledged(info: Any, url: str) -> None:
    """Wait for the broker's PUBACK of one message; a message it refused or never
    acknowledged stops the run with the reason (the count printed so far is then wrong)."""
    import paho.mqtt.client as mqtt

    from fleetlake.errors import ServiceError

    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        raise ServiceError(f"{url}: publishing failed ({mqtt.error_string(info.rc)})")
    try:
        info.wait_for_publish(ACK_TIMEOUT_S)
    except (RuntimeError, ValueError) as exc:  # the connection went away
        raise ServiceError(f"{url}: publishing failed ({exc}); is the broker running?") from exc
    if not info.is_published():
        raise ServiceError(f"{url}: the broker acknowledged nothing for {ACK_TIMEOUT_S:g} s")


def publish_mqtt(url: str, spec: FleetSpec, *, topic_base: str) -> SimulationSummary:
    """Every delivered message as JSON on `<topic_base>/<VIN>`, QoS 1, in order of receipt."""
    import json

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from fleetlake.errors import ServiceError
    from fleetlake.platform.mqtt_wire import BrokerAddress

    address = BrokerAddress.parse(url)
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if address.username:
        client.username_pw_set(address.username, address.password)
    try:
        client.connect(address.host, address.port)
    except OSError as exc:
        raise ServiceError(
            f"cannot reach the MQTT broker at {url} ({exc}): is it running?"
        ) from exc
    client.loop_start()
    summary = SimulationSummary(vehicles=spec.vehicles, days=spec.days)
    in_flight: deque[mqtt.MQTTMessageInfo] = deque()
    try:
        for _, truth, delivered, faults in simulated_days(spec):
            _tally(summary, truth, faults)
            for row in delivered.drop_columns(["extra"]).to_pylist():
                row["ts"] = row["ts"].isoformat()
                row["received_at"] = row["received_at"].isoformat()
                topic = f"{topic_base}/{row['vin']}"
                in_flight.append(client.publish(topic, json.dumps(row), qos=1))
                summary.messages += 1
                while len(in_flight) > PUBLISH_WINDOW:  # wait for the broker, never drop
                    _acknowledged(in_flight.popleft(), url)
        while in_flight:
            _acknowledged(in_flight.popleft(), url)
    finally:
        client.disconnect()
        client.loop_stop()
    return summary
