"""MQTT → bronze against the real Mosquitto (127.0.0.1:1883), at-least-once."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from fleetlake.errors import InvalidParameter
from fleetlake.platform.lake import Lake
from fleetlake.platform.mqtt_wire import BrokerAddress, Received, shared_topics
from fleetlake.telemetry import bronze
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.mqtt import MqttSubscription
from fleetlake.telemetry.providers import adapter_for
from tests.conftest import require_mosquitto

pytestmark = pytest.mark.services
BROKER = "mqtt://127.0.0.1:1883"


@pytest.fixture(autouse=True)
def broker() -> None:
    require_mosquitto()


@pytest.fixture
def publish() -> Iterator[Callable[[str, Any], None]]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", 1883)
    client.loop_start()

    def send(topic: str, value: Any) -> None:
        payload = value if isinstance(value, bytes) else json.dumps(value).encode()
        client.publish(topic, payload, qos=1).wait_for_publish(5)

    yield send
    client.disconnect()
    client.loop_stop()


def wait_until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def rows(lake: Lake) -> list[dict[str, Any]]:
    return [r for f in lake.list_files(*bronze.BUFFER) for r in pq.read_table(f).to_pylist()]


def subscription(lake: Lake, topic: str, client_id: str, **buffering: Any) -> MqttSubscription:
    buffers = BronzeBuffers(lake, **({"flush_messages": 50, "flush_seconds": 0.3} | buffering))
    return MqttSubscription(
        BROKER, [topic], adapter=adapter_for("canonical"), buffers=buffers,
        client_id=client_id, flush_every_s=0.1,
    )  # fmt: skip


def test_messages_land_once_flushed_and_bad_ones_are_quarantined(
    tmp_path: Path, publish: Callable[[str, Any], None]
) -> None:
    lake, base = Lake(str(tmp_path)), f"fleet/{uuid.uuid4().hex[:8]}"
    sub = subscription(lake, f"{base}/#", f"fl-{uuid.uuid4().hex[:8]}")
    sub.start()
    try:
        for n in range(200):
            publish(f"{base}/V{n % 4}", {"vin": f"V{n % 4}", "ts": 1795255200 + n, "speed_kmh": n})
        publish(f"{base}/junk", b"{not json")
        wait_until(lambda: sub.buffers.stats.rows_flushed == 201)
    finally:
        sub.stop()
    landed = rows(lake)
    assert sorted(r["speed_kmh"] for r in landed) == [float(n) for n in range(200)]
    assert {r["vin"] for r in landed} == {"V0", "V1", "V2", "V3"}
    [bad] = [r for f in lake.list_files(*bronze.QUARANTINE) for r in pq.read_table(f).to_pylist()]
    assert bad["source"] == f"mqtt:{base}/junk" and bad["reason"].startswith("invalid JSON")


def test_messages_not_durable_before_a_crash_are_delivered_again(
    tmp_path: Path, publish: Callable[[str, Any], None]
) -> None:
    lake, topic = Lake(str(tmp_path)), f"fleet/{uuid.uuid4().hex[:8]}/V7"
    client_id = f"fl-{uuid.uuid4().hex[:8]}"
    first = subscription(lake, topic, client_id, flush_messages=10_000, flush_seconds=3600)
    first.start()
    for n in range(100):
        publish(topic, {"vin": "V7", "ts": 1795255200 + n, "soc_pct": n % 100})
    wait_until(lambda: first.received == 100)
    first.session.close(graceful=False)  # the process "dies": nothing flushed, nothing acked
    assert rows(lake) == []
    second = subscription(lake, topic, client_id)  # same session: the broker resends
    second.start()
    try:
        wait_until(lambda: second.buffers.stats.rows_flushed >= 100)
    finally:
        second.stop()
    assert sorted(r["ts"].timestamp() for r in rows(lake)) == [1795255200 + n for n in range(100)]


def test_a_lost_connection_is_made_again_and_nothing_is_lost(
    tmp_path: Path, publish: Callable[[str, Any], None]
) -> None:
    lake, topic = Lake(str(tmp_path)), f"fleet/{uuid.uuid4().hex[:8]}/V8"
    sub = subscription(lake, topic, f"fl-{uuid.uuid4().hex[:8]}")
    sub.start()
    try:
        for n in range(50):
            publish(topic, {"vin": "V8", "ts": 1795255200 + n, "speed_kmh": n})
        wait_until(lambda: sub.buffers.stats.rows_flushed == 50)
        first = sub.session.connection
        assert sub.session._socket is not None
        sub.session._socket.shutdown(socket.SHUT_RDWR)  # the network drops the connection
        sub.session.ack([Received(topic, b"{}", 1, first)])  # too late to send: not an error
        for n in range(50, 100):  # queued by the broker for the session meanwhile
            publish(topic, {"vin": "V8", "ts": 1795255200 + n, "speed_kmh": n})
        wait_until(lambda: sub.buffers.stats.rows_flushed >= 100)
        assert sub.session.connection == first + 1
    finally:
        sub.stop()
    assert {r["speed_kmh"] for r in rows(lake)} == {float(n) for n in range(100)}


def test_tesla_fleet_telemetry_one_field_per_message(
    tmp_path: Path, publish: Callable[[str, Any], None]
) -> None:
    lake, base = Lake(str(tmp_path)), f"tesla/{uuid.uuid4().hex[:8]}"
    buffers = BronzeBuffers(lake, flush_messages=2, flush_seconds=0.3)
    sub = MqttSubscription(
        BROKER, [f"{base}/+/v/+"], adapter=adapter_for("tesla_fleet_telemetry"),
        buffers=buffers, client_id=f"fl-{uuid.uuid4().hex[:8]}", flush_every_s=0.1,
    )  # fmt: skip
    sub.start()
    try:
        publish(f"{base}/5YJ3E1EA7KF000001/v/VehicleSpeed", 62.1371)
        publish(f"{base}/5YJ3E1EA7KF000001/v/Location", {"latitude": 37.77, "longitude": -122.41})
        wait_until(lambda: buffers.stats.rows_flushed == 2)
    finally:
        sub.stop()
    # Both messages may land in one batch with one received_at, so compare as a set, not by order
    landed = {(r["lat"], r["lon"], round(r["speed_kmh"], 3)) for r in rows(lake)}
    assert landed == {(None, None, 100.0), (37.77, -122.41, 100.0)}  # merged state, mph → km/h


def test_a_shared_subscription_splits_the_stream_among_subscribers(
    tmp_path: Path, publish: Callable[[str, Any], None]
) -> None:
    lake, base = Lake(str(tmp_path)), f"fleet/{uuid.uuid4().hex[:8]}"
    group = f"g{uuid.uuid4().hex[:6]}"
    subs = []
    for n in range(2):
        buffers = BronzeBuffers(lake, flush_messages=50, flush_seconds=0.3)
        subs.append(MqttSubscription(
            BROKER, shared_topics([f"{base}/#"], group), adapter=adapter_for("canonical"),
            buffers=buffers, client_id=f"fl-{group}-{n}", flush_every_s=0.1,
        ))  # fmt: skip
        subs[-1].start()
    try:
        for n in range(300):
            publish(f"{base}/V{n % 6}", {"vin": f"V{n % 6}", "ts": 1795255200 + n, "speed_kmh": n})
        wait_until(lambda: sum(s.buffers.stats.rows_flushed for s in subs) == 300)
    finally:
        for sub in subs:
            sub.stop()
    assert all(sub.received > 0 for sub in subs)  # both members took a share
    assert sum(sub.received for sub in subs) == 300  # each message to one member
    assert sorted(r["speed_kmh"] for r in rows(lake)) == [float(n) for n in range(300)]


def test_share_groups_are_names() -> None:
    assert shared_topics(["a/#", "$share/x/b"], "g") == ["$share/g/a/#", "$share/x/b"]
    assert shared_topics(["a/#"], None) == ["a/#"]
    with pytest.raises(InvalidParameter, match="share group"):
        shared_topics(["a/#"], "g/h")


def test_broker_urls() -> None:
    assert BrokerAddress.parse("mqtts://u%40x:p@host") == BrokerAddress(
        "host", 8883, True, "u@x", "p"
    )
    with pytest.raises(Exception, match="use mqtt://host"):
        BrokerAddress.parse("http://host")
