"""MQTT → durable bronze, sustained: the issue's 30,000 messages/s target.

    uv run --group bench python -m benchmarks.telemetry_mqtt --messages 600000 --subscribers 2

A private Mosquitto (a free port, its own config: QoS 1 queues not capped, as a deployment
expecting bursts sets them) is fed by `mosquitto_pub -l` publishers (C, QoS 1, one process
per topic) with canonical JSON messages of the simulated fleet, as fast as they go.
`fleetlake telemetry subscribe --processes K` takes the stream through an MQTT 5 shared
subscription, each process landing its share and acknowledging it once durable. The rate is
messages ÷ (first publish → every message's row in a bronze file); the broker's backlog
while publishers outrun the subscribers is part of that time, so the figure is what the
subscribers sustain.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.telemetry_ingest import messages

OUT = Path(__file__).parent / "out"
BROKER_CONFIG = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 0
log_dest file {log}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=600_000)
    parser.add_argument("--subscribers", type=int, default=2, help="subscriber processes")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for tool in ("mosquitto", "mosquitto_pub"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install mosquitto mosquitto-clients")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fleetlake-mqtt-") as scratch_dir:
        scratch = Path(scratch_dir)
        lines = messages(args.messages, scratch)
        result = {
            "messages": len(lines),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.python_version()}",
        } | run(lines, scratch, subscribers=args.subscribers, publishers=args.publishers)
    target = args.out / f"telemetry_mqtt-{args.messages}-{args.subscribers}.json"
    target.write_text(json.dumps(result, indent=1))
    print(
        f"{result['messages']:,} messages, {args.publishers} publishers, {args.subscribers} "
        f"subscriber processes: {result['messages_per_s']:,.0f} messages/s durable "
        f"({result['seconds']:.1f} s; publishers done after {result['publish_seconds']:.1f} s; "
        f"{result['landed']:,} rows landed)"
    )
    print(f"result: {target}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {seconds} s")
        time.sleep(0.05)


def run(lines: list[bytes], scratch: Path, *, subscribers: int, publishers: int) -> dict[str, Any]:
    port = free_port()
    config = scratch / "mosquitto.conf"
    config.write_text(BROKER_CONFIG.format(port=port, log=scratch / "mosquitto.log"))
    broker = subprocess.Popen(["mosquitto", "-c", str(config)])
    home = scratch / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETLAKE_")}
    env |= {"FLEETLAKE_HOME": str(home), "FLEETLAKE_TELEMETRY_FLUSH_SECONDS": "2"}
    log = (scratch / "subscribers.log").open("w")
    subscriber = None
    try:
        wait_for(lambda: _open(port), 10, "the broker")
        subscriber = subprocess.Popen(
            [sys.executable, "-m", "fleetlake", "telemetry", "subscribe", "--mqtt",
             f"mqtt://127.0.0.1:{port}", "--topic", "bench/#", "--processes", str(subscribers),
             "--client-id", "bench"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        subscribed = lambda: (scratch / "subscribers.log").read_text().count("subscribed to")  # noqa: E731
        wait_for(lambda: subscribed() >= subscribers, 30, "the subscribers")
        return _publish_and_wait(lines, scratch, port=port, publishers=publishers, home=home)
    finally:
        if subscriber is not None:
            subscriber.terminate()
            subscriber.wait(60)
        broker.terminate()
        broker.wait(10)


def _open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _publish_and_wait(
    lines: list[bytes], scratch: Path, *, port: int, publishers: int, home: Path
) -> dict[str, Any]:
    inputs = []
    for index in range(publishers):
        path = scratch / f"publish-{index}.ndjson"
        path.write_bytes(b"\n".join(lines[index::publishers]) + b"\n")
        inputs.append(path.open("rb"))
    started = time.perf_counter()
    command = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-V", "mqttv5"]
    running = [
        subprocess.Popen([*command, "-t", f"bench/p{index}", "-l"], stdin=handle)
        for index, handle in enumerate(inputs)
    ]
    published_at = None
    counted: dict[Path, int] = {}
    landed = 0
    deadline = started + 600
    while landed < len(lines) and time.perf_counter() < deadline:
        if published_at is None and all(p.poll() is not None for p in running):
            published_at = time.perf_counter()
        landed = _landed(home / "lake" / "bronze" / "telemetry" / "_buffer", counted)
        time.sleep(0.2)
    done = time.perf_counter()
    for process in running:
        process.wait(60)
    seconds = done - started
    return {
        "seconds": seconds,
        "messages_per_s": landed / seconds,
        "publish_seconds": (published_at or done) - started,
        "landed": landed,
        "publishers": publishers,
        "publisher_exit": [p.returncode for p in running],
    }


def _landed(buffers: Path, counted: dict[Path, int]) -> int:
    """Rows in the bronze buffer files (each file is whole once visible: written by rename)."""
    import pyarrow.parquet as pq

    if buffers.exists():
        for path in buffers.rglob("*.parquet"):
            if path not in counted and not path.name.startswith(".tmp-"):
                counted[path] = pq.read_metadata(path).num_rows
    return sum(counted.values())


if __name__ == "__main__":
    main()
