"""Telemetry ingestion throughput: MQTT → durable bronze, and HTTP batch push.

    uv run --group bench python -m benchmarks.telemetry_ingest --messages 200000

MQTT: simulated canonical messages published (QoS 1) by separate processes to the local
Mosquitto; fleetlake's subscription maps them and acknowledges each once durable in bronze.
The rate is messages ÷ (last flush - first receipt). HTTP: NDJSON batches POSTed to a real
`fleetlake serve`; the rate is messages ÷ wall time of the requests (each answered only
once durable).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks import trips_suite as suite

OUT = Path(__file__).parent / "out"
PUBLISHER = """
import sys, paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import time
path, topic, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
client.max_inflight_messages_set(1000)
client.max_queued_messages_set(20000)
client.connect("127.0.0.1", 1883)
client.loop_start()
last, started = None, time.perf_counter()
with open(path, "rb") as lines:
    for n, line in enumerate(lines):
        last = client.publish(topic, line.rstrip(b"\\n"), qos=1)
        if n % 500 == 0:  # paced: a broker drops what a slow subscriber cannot take
            ahead = n / rate - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)
last.wait_for_publish(600)
client.disconnect()
client.loop_stop()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=30_000, help="MQTT messages/s offered")
    parser.add_argument("--batch", type=int, default=20_000, help="messages per HTTP request")
    parser.add_argument("--skip-mqtt", action="store_true", help="only the HTTP push")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fleetlake-ingest-") as scratch_dir:
        scratch = Path(scratch_dir)
        lines = messages(args.messages, scratch)
        result: dict[str, Any] = {
            "messages": len(lines),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.python_version()}",
        }
        if not args.skip_mqtt:
            result["mapping"] = mapping_rate(lines, scratch)
            result["mqtt"] = mqtt_rate(lines, scratch, publishers=args.publishers, rate=args.rate)
        result["http"] = http_rate(lines, scratch, batch=args.batch)
    target = args.out / f"telemetry_ingest-{args.messages}.json"
    target.write_text(json.dumps(result, indent=1))
    print(summary(result))
    print(f"result: {target}")


def messages(count: int, scratch: Path) -> list[bytes]:
    """`count` canonical JSON messages of a simulated fleet (one a line), no faults."""
    from fleetlake.simulate.telemetry_faults import NO_FAULTS
    from fleetlake.simulate.telemetry_run import FleetSpec, write_files

    vehicles = max(1, count // 8640 + 1)
    spec = FleetSpec(vehicles, 1, date(2026, 11, 16), rates=NO_FAULTS)
    write_files(scratch / "sim", spec)
    lines: list[bytes] = []
    for path in sorted((scratch / "sim").glob("*.ndjson")):
        lines += path.read_bytes().splitlines()
    return lines[:count]


def mapping_rate(lines: list[bytes], scratch: Path) -> dict[str, Any]:
    """Our side alone, no broker: what a subscription does with each payload, timed."""
    from fleetlake.platform.lake import Lake
    from fleetlake.telemetry.bronze import BronzeBuffers
    from fleetlake.telemetry.mqtt import MqttSubscription
    from fleetlake.telemetry.providers import adapter_for

    buffers = BronzeBuffers(Lake(str(scratch / "mapping-lake")))
    subscription = MqttSubscription(
        "mqtt://127.0.0.1:1883", ["unused"], adapter=adapter_for("canonical"),
        buffers=buffers, client_id="unused",
    )  # fmt: skip
    started = time.perf_counter()
    for line in lines:
        now = datetime.now(UTC)
        batch = subscription.map_payload("fleet/x", line, received_at=now)
        buffers.add(batch, source="mqtt:fleet/x", received_at=now, ack=lambda: None)
    buffers.flush_all()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "messages_per_s": len(lines) / seconds}


def mqtt_rate(lines: list[bytes], scratch: Path, *, publishers: int, rate: float) -> dict[str, Any]:
    from fleetlake.platform.lake import Lake
    from fleetlake.telemetry.bronze import BronzeBuffers
    from fleetlake.telemetry.mqtt import MqttSubscription
    from fleetlake.telemetry.providers import adapter_for

    topic = f"bench-{uuid.uuid4().hex[:8]}"
    buffers = BronzeBuffers(Lake(str(scratch / "mqtt-lake")), flush_seconds=2.0)
    subscription = MqttSubscription(
        "mqtt://127.0.0.1:1883", [f"{topic}/#"], adapter=adapter_for("canonical"),
        buffers=buffers, client_id=topic, flush_every_s=0.2,
    )  # fmt: skip
    subscription.start()
    shares = [lines[i::publishers] for i in range(publishers)]
    started = time.perf_counter()
    processes = []
    for index, share in enumerate(shares):
        path = scratch / f"publish-{index}.ndjson"
        path.write_bytes(b"\n".join(share) + b"\n")
        share_rate = str(rate / publishers)
        command = [sys.executable, "-c", PUBLISHER, str(path), f"{topic}/p{index}", share_rate]
        processes.append(subprocess.Popen(command))
    first = None
    while buffers.stats.rows_flushed < len(lines):
        if first is None and subscription.received:
            first = time.perf_counter()
        if time.perf_counter() - started > len(lines) / rate + 15:
            break  # the broker dropped what was offered faster than taken
        time.sleep(0.01)
    done = time.perf_counter()
    published = [p.wait(60) for p in processes]
    subscription.stop()
    seconds = done - (first or started)
    landed = buffers.stats.rows_flushed
    received = subscription.received
    return {"seconds": seconds, "messages_per_s": landed / seconds, "offered_per_s": rate,
            "landed": landed, "received": received, "lost_at_broker": len(lines) - received,
            "publishers": publishers, "publisher_exit": published}  # fmt: skip


def http_rate(lines: list[bytes], scratch: Path, *, batch: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETLAKE_")}
    env |= {"FLEETLAKE_HOME": str(scratch / "http-home"), "FLEETLAKE_API_KEYS": "bench-key"}
    server = suite.start_server(env, scratch / "server.log")
    bodies = [b"\n".join(lines[i : i + batch]) + b"\n" for i in range(0, len(lines), batch)]
    headers = {"X-API-Key": "bench-key", "Content-Type": "application/x-ndjson"}
    try:
        with httpx.Client(base_url=server.url, timeout=600) as client:
            started = time.perf_counter()
            landed = 0
            for body in bodies:
                answer = client.post("/api/v1/telemetry", content=body, headers=headers)
                answer.raise_for_status()
                landed += answer.json()["rows_loaded"]
            seconds = time.perf_counter() - started
    finally:
        server.stop()
    assert landed == len(lines), (landed, len(lines))
    return {"seconds": seconds, "messages_per_s": len(lines) / seconds, "batch": batch,
            "requests": len(bodies)}  # fmt: skip


def summary(result: dict[str, Any]) -> str:
    http = (
        f"  HTTP batch push:        {result['http']['messages_per_s']:,.0f} messages/s "
        f"({result['http']['seconds']:.1f} s, {result['http']['requests']} requests)"
    )
    if "mqtt" not in result:
        return f"{result['messages']:,} messages\n{http}"
    return "\n".join(
        [
            f"{result['messages']:,} messages",
            f"  mapping + buffers alone: {result['mapping']['messages_per_s']:,.0f} messages/s",
            f"  MQTT -> durable bronze: {result['mqtt']['messages_per_s']:,.0f} messages/s "
            f"(offered {result['mqtt']['offered_per_s']:,.0f}/s, "
            f"{result['mqtt']['lost_at_broker']:,} not delivered by the broker)",
            f"  HTTP batch push:        {result['http']['messages_per_s']:,.0f} messages/s "
            f"({result['http']['seconds']:.1f} s, {result['http']['requests']} requests)",
        ]
    )


if __name__ == "__main__":
    main()
