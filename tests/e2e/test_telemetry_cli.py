"""`fleetlake ingest telemetry` and `fleetlake telemetry compact` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import DATA
from tests.e2e.conftest import cli, cli_env

pytestmark = pytest.mark.slow


def test_ingest_provider_files_then_compact(tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}")
    folder = DATA / "providers" / "tesla_fleet_api"
    ingested = cli(
        env, "ingest", "telemetry", str(folder), "--provider", "tesla_fleet_api", "--json"
    )
    assert ingested.returncode == 0, ingested.stderr
    job = json.loads(ingested.stdout)
    assert [r["rows_loaded"] for r in job["results"]] == [1, 1]

    compacted = cli(env, "telemetry", "compact", "--json")
    assert compacted.returncode == 0, compacted.stderr
    assert json.loads(compacted.stdout)["results"][0]["rows_loaded"] == 2
    bronze = tmp_path / "home" / "lake" / "bronze" / "telemetry"
    table = pq.read_table(bronze / "date=2020-12-10" / "5YJSA11111111111.parquet")
    assert table.column("charging_state").to_pylist() == ["charging"]
    assert not (bronze / "_buffer").exists() or not any((bronze / "_buffer").rglob("*.parquet"))

    bad = cli(env, "ingest", "telemetry", str(folder), "--provider", "teslamate")
    assert bad.returncode == 1 and "unknown provider 'teslamate'" in bad.stderr
    assert "Traceback" not in bad.stderr
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'name = "x"\nvin = "v"\nts = "t"\n[fields]\nspeed_kmh = { path = "s", unit = "knots" }\n'
    )
    wrong = cli(env, "ingest", "telemetry", str(folder), "--mapping", str(mapping))
    assert wrong.returncode == 1 and "unit 'knots' of 'speed_kmh' is unknown" in wrong.stderr


@pytest.mark.services
def test_subscribe_with_two_processes_lands_every_message_once(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from tests.conftest import require_mosquitto

    require_mosquitto()
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}",
                  FLEETLAKE_TELEMETRY_FLUSH_SECONDS="0.5")  # fmt: skip
    base, name = f"cli/{uuid.uuid4().hex[:8]}", f"fl-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "subscribe.log"
    with log.open("w") as out:
        parent = subprocess.Popen(
            [sys.executable, "-m", "fleetlake", "telemetry", "subscribe", "--mqtt",
             "mqtt://127.0.0.1:1883", "--topic", f"{base}/#", "--processes", "2",
             "--client-id", name],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while log.read_text().count("subscribed to") < 2:
            assert time.monotonic() < deadline and parent.poll() is None, log.read_text()
            time.sleep(0.1)
        publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                protocol=mqtt.MQTTv5)  # fmt: skip
        publisher.connect("127.0.0.1", 1883)
        publisher.loop_start()
        for n in range(200):
            payload = json.dumps({"vin": f"C{n % 5}", "ts": 1795255200 + n, "speed_kmh": n})
            publisher.publish(f"{base}/C{n % 5}", payload, qos=1).wait_for_publish(5)
        publisher.disconnect()
        publisher.loop_stop()
        buffers = tmp_path / "home" / "lake" / "bronze" / "telemetry" / "_buffer"

        def landed() -> list[float]:
            files = [f for f in buffers.rglob("*.parquet") if not f.name.startswith(".tmp-")]
            return [s for f in files for s in pq.read_table(f)["speed_kmh"].to_pylist()]

        while len(landed()) < 200 and time.monotonic() < deadline + 30:
            time.sleep(0.2)
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(30) == 0, log.read_text()
    assert sorted(landed()) == [float(n) for n in range(200)]  # each once, from two processes
    text = log.read_text()
    assert f"{name}-0 stopped" in text and f"{name}-1 stopped" in text
