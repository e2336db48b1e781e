"""Readings by MQTT against the real Mosquitto (127.0.0.1:1883): a topic per sensor, every
payload shape, bad ones quarantined, and what was held when the process died delivered again
and landed once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine

from fleetlake.monitoring import catalog, landing
from fleetlake.monitoring.mqtt import ReadingsSubscription
from fleetlake.monitoring.series import readings_between
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.platform.lake import Lake
from tests.conftest import require_mosquitto

pytestmark = pytest.mark.services
BROKER = "mqtt://127.0.0.1:1883"
T0 = datetime(2026, 12, 1, tzinfo=UTC)
SENSORS = [{"name": "S1", "source_id": "gas-1", "x_m": 1, "y_m": 1, "z_m": 1},
           {"name": "S2", "source_id": "gas-2", "x_m": 9, "y_m": 9, "z_m": 5}]  # fmt: skip
TEMPLATE = {"name": "T", "internal_volume_m3": 800, "length_m": 12, "width_m": 10,
            "height_m": 6, "porosity": 0.3, "wall_area_m2": 500, "sensors": SENSORS}  # fmt: skip
MODEL = {"platforms": [{"name": "P", "templates": [TEMPLATE]}]}


@pytest.fixture
def sensors(engine: Engine) -> dict[str, int]:
    require_mosquitto()
    with engine.begin() as connection:
        catalog.load_model(connection, model=MODEL, settings=MonitoringSettings(), now=T0)
        return {s["source_id"]: s["id"] for s in catalog.list_sensors(connection)}


def publish(messages: list[tuple[str, Any]]) -> None:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    for topic, payload in messages:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(topic, body, qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def at(k: int) -> str:
    return (T0 + timedelta(seconds=10 * k)).isoformat()


def test_a_topic_per_sensor_in_every_shape_with_bad_payloads_kept(
    engine: Engine, settings: Any, sensors: dict[str, int]
) -> None:
    lake, base = Lake(settings.resolved_lake_uri), f"gas-{uuid.uuid4().hex[:8]}"
    subscription = ReadingsSubscription(BROKER, [f"{base}/+"], engine=engine, lake=lake,
                                        client_id=f"t-{base}", land_every_s=0.1)  # fmt: skip
    subscription.start()
    try:
        odd = [(f"{base}/gas-2", b"{not json"), (f"{base}/gas-9", {"ts": at(0), "ppmv": 1}),
               (f"{base}/gas-1", {"ts": at(9), "ppmv": -1}), (f"{base}/gas-1", 7.5)]  # fmt: skip
        ones = [(f"{base}/gas-1", {"ts": at(k), "ppmv": 2.0 + k}) for k in range(5)]
        publish([*ones, (f"{base}/gas-2", [{"ts": at(k), "ppmv": 3.0} for k in range(4)]), *odd])
        wait_for(lambda: subscription.landed + subscription.quarantined == 13)
    finally:
        subscription.stop()
    one = readings_between(lake, sensor_id=sensors["gas-1"], start=T0, end=T0 + timedelta(days=30))
    assert one["ppmv"].to_pylist()[:5] == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert one["ppmv"].to_pylist()[5:] == [7.5]  # a bare number, read at arrival
    assert abs(one["ts"][5].as_py() - datetime.now(UTC)) < timedelta(minutes=1)
    two = readings_between(lake, sensor_id=sensors["gas-2"], start=T0, end=T0 + timedelta(days=1))
    assert two.num_rows == 4
    reasons = sorted(q["reason"] for q in landing.quarantined(lake, day=None, after=0,
                                                              limit=50)["data"])  # fmt: skip
    assert len(reasons) == 3 and reasons[0].startswith("not JSON")
    assert "negative" in reasons[1] and "unknown sensor 'gas-9'" in reasons[2]


def test_readings_held_when_the_process_died_arrive_again_and_land_once(
    engine: Engine, settings: Any, sensors: dict[str, int]
) -> None:
    lake, base = Lake(settings.resolved_lake_uri), f"gas-{uuid.uuid4().hex[:8]}"
    client_id = f"t-{base}"
    first = ReadingsSubscription(
        BROKER, [f"{base}/+"], engine=engine, lake=lake, client_id=client_id, land_every_s=3600
    )  # never lands by itself
    first.start()
    publish([(f"{base}/gas-1", {"ts": at(k), "ppmv": float(k)}) for k in range(20)])
    wait_for(lambda: first.received == 20)
    first.session.close(graceful=False)  # died holding 20 unacknowledged readings
    second = ReadingsSubscription(BROKER, [f"{base}/+"], engine=engine, lake=lake,
                                  client_id=client_id, land_every_s=0.1)  # fmt: skip
    second.start()
    publish([(f"{base}/gas-1", {"ts": at(k), "ppmv": float(k)}) for k in range(20, 30)])
    try:
        wait_for(lambda: second.landed == 30)
    finally:
        second.stop()
    found = readings_between(lake, sensor_id=sensors["gas-1"], start=T0, end=T0 + timedelta(1))
    assert found["ppmv"].to_pylist() == [float(k) for k in range(30)]
