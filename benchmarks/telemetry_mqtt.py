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
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
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
log_dest stderr
sys_interval 1
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=600_000)
    parser.add_argument("--subscribers", type=int, default=2, help="subscriber processes")
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument(
        "--backlog", action="store_true",
        help="publish everything first, then time the subscribers taking the broker's backlog",
    )  # fmt: skip
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
        } | run(lines, scratch, subscribers=args.subscribers, publishers=args.publishers,
                backlog=args.backlog)  # fmt: skip
    mode = "backlog" if args.backlog else "live"
    target = args.out / f"telemetry_mqtt-{mode}-{args.messages}-{args.subscribers}.json"
    target.write_text(json.dumps(result, indent=1))
    print(
        f"{mode}: {result['messages']:,} messages, {args.publishers} publishers, "
        f"{args.subscribers} subscriber processes: "
        f"{result['messages_per_s']:,.0f} messages/s durable "
        f"({result['seconds']:.1f} s; {result['landed']:,} rows landed)"
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


def run(
    lines: list[bytes], scratch: Path, *, subscribers: int, publishers: int, backlog: bool
) -> dict[str, Any]:
    port = free_port()
    config = scratch / "mosquitto.conf"
    config.write_text(BROKER_CONFIG.format(port=port))
    broker = subprocess.Popen(["mosquitto", "-c", str(config)], stderr=subprocess.DEVNULL)
    home = scratch / "home"
    try:
        wait_for(lambda: _open(port), 10, "the broker")
        if not backlog:
            with _subscribers(scratch, port=port, count=subscribers, home=home):
                return _publish_and_wait(lines, port=port, publishers=publishers, home=home)
        with _subscribers(scratch, port=port, count=subscribers, home=home):
            pass  # their sessions now exist: the broker queues for them while they are away
        feeding = _publish(lines, port=port, publishers=publishers)
        wait_for(lambda: _broker_received(port) >= len(lines), 600, "the broker taking it all")
        feeding.set()
        started = time.perf_counter()  # the subscribers' start-up counts too
        with _subscribers(scratch, port=port, count=subscribers, home=home):
            return _wait_landed(len(lines), home=home, started=started)
    finally:
        broker.terminate()
        broker.wait(10)


@contextlib.contextmanager
def _subscribers(scratch: Path, *, port: int, count: int, home: Path) -> Iterator[None]:
    """`fleetlake telemetry subscribe --processes count` until the block ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETLAKE_")}
    env |= {"FLEETLAKE_HOME": str(home), "FLEETLAKE_TELEMETRY_FLUSH_SECONDS": "2"}
    path = scratch / f"subscribers-{time.monotonic_ns()}.log"
    with path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fleetlake", "telemetry", "subscribe", "--mqtt",
             f"mqtt://127.0.0.1:{port}", "--topic", "bench/#", "--processes", str(count),
             "--client-id", "bench"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for(lambda: path.read_text().count("subscribed to") >= count, 30, "subscribers")
            yield
        finally:
            process.terminate()
            process.wait(60)


def _broker_received(port: int) -> int:
    """PUBLISH packets the broker has taken (its $SYS counter, updated every second)."""
    answer = subprocess.run(
        ["mosquitto_sub", "-p", str(port), "-C", "1", "-W", "5", "-t",
         "$SYS/broker/publish/messages/received"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return int(answer.stdout.strip() or 0)


def _open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _publish(lines: list[bytes], *, port: int, publishers: int) -> threading.Event:
    """Start the publishers; set the event returned to end their input."""
    shares = [b"\n".join(lines[i::publishers]) + b"\n" for i in range(publishers)]
    command = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-V", "mqttv5",
               "-M", "100"]  # fmt: skip
    # mosquitto_pub -l drops what it still queues when its input ends: the input stays open
    # until every message has landed (or reached the broker).
    finished = threading.Event()
    for index, share in enumerate(shares):
        process = subprocess.Popen([*command, "-t", f"bench/p{index}", "-l"], stdin=subprocess.PIPE)
        threading.Thread(target=_feed, args=(process, share, finished), daemon=True).start()
    return finished


def _publish_and_wait(
    lines: list[bytes], *, port: int, publishers: int, home: Path
) -> dict[str, Any]:
    started = time.perf_counter()
    feeding = _publish(lines, port=port, publishers=publishers)
    try:
        return _wait_landed(len(lines), home=home, started=started)
    finally:
        feeding.set()


def _wait_landed(count: int, *, home: Path, started: float) -> dict[str, Any]:
    counted: dict[Path, int] = {}
    landed = 0
    while landed < count and time.perf_counter() - started < 600:
        landed = _landed(home / "lake" / "bronze" / "telemetry" / "_buffer", counted)
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "messages_per_s": landed / seconds, "landed": landed}


def _feed(process: subprocess.Popen[bytes], data: bytes, finished: threading.Event) -> None:
    assert process.stdin is not None
    process.stdin.write(data)
    process.stdin.flush()
    finished.wait()
    process.stdin.close()
    process.wait(60)


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
