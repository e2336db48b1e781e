"""`fleetlake simulate telemetry --mqtt` as a user runs it: every message reaches the broker,
however far past the client's queue the run goes, and an unreachable broker says so."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from fleetlake.platform.mqtt_wire import MqttSession, Received
from tests.conftest import require_mosquitto
from tests.e2e.conftest import cli, cli_env

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_every_simulated_message_reaches_the_broker(tmp_path: Path) -> None:
    require_mosquitto()
    base = f"sim/{uuid.uuid4().hex[:8]}"
    received: list[bytes] = []

    def on_messages(batch: list[Received]) -> None:
        received.extend(message.payload for message in batch)
        listener.ack(batch)

    # Our own session: fast enough that Mosquitto never drops for a slow subscriber.
    listener = MqttSession(
        host="127.0.0.1",
        port=1883,
        tls=False,
        client_id=base.replace("/", "-"),
        topics=[f"{base}/#"],
        on_messages=on_messages,
        session_expiry_s=0,
    )
    listener.start(timeout_s=10)
    try:
        env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}")
        broker = "mqtt://127.0.0.1:1883"
        run = cli(env, "simulate", "telemetry", "--vehicles", "20", "--interval-s", "30",
                  "--no-faults", "--mqtt", broker, "--topic-base", base)  # fmt: skip
        assert run.returncode == 0, run.stderr
        expected = 20 * 24 * 3600 // 30  # far past paho's old 10,000-message queue
        assert f"{expected:,} messages" in run.stdout
        deadline = time.monotonic() + 30
        while len(received) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(received) == expected
    finally:
        listener.close()

    down = cli(env, "simulate", "telemetry", "--mqtt", "mqtt://127.0.0.1:1")
    assert down.returncode == 1
    assert "cannot reach the MQTT broker at mqtt://127.0.0.1:1" in down.stderr
    assert "Traceback" not in down.stderr
