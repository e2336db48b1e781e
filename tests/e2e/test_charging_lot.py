"""The charging lot end to end: a CSV served over HTTP, imported by the real server (one
process on SQLite, two on PostgreSQL) with the real Redis; a subscriber gets `vehicle.ready`
for each car at its estimated time, once, and so does a signed webhook; `GET /data` lists
exactly the ready cars and `DELETE` answers the charge the model gives."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetlake.charging.model import ChargeCurve
from tests.e2e.conftest import Server, start_server
from tests.integration.charging.conftest import REDIS_URL, require_redis

# 1 kWh cars on very fast chargers, so that the lot fills in seconds: 50 % → 80 % is 0.3 kWh
# into the battery, at η 0.9 and P kW that is 0.3 / (0.9 P) hours.
LOT = """vehicle,current_charge,total_charge,desired_percentage,max_power_kw
FAST-1,0.5,1,80,360
MID-2,0.5,1,80,180
SLOW-3,0.5,1,80,120
FULL-4,0.9,1,50,
CRAWL-5,0.5,1,80,1
"""
SOON = ("FAST-1", "MID-2", "SLOW-3", "FULL-4")


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def lot_server(tmp_path: Path, db_url: str) -> Iterator[Server]:
    """The server: one process on SQLite, two sharing the port on PostgreSQL."""
    require_redis()
    prefix = f"e{uuid.uuid4().hex[:10]}"
    workers = ("--workers", "2") if db_url.startswith("postgresql") else ()
    home = tmp_path / "home"
    home.mkdir()
    server = start_server(home, db_url, *workers, FLEETLAKE_REDIS_URL=REDIS_URL,
                          FLEETLAKE_REDIS_PREFIX=prefix, FLEETLAKE_CHARGING_POWER_KW="1000",
                          FLEETLAKE_CHARGING_MIN_POWER_KW="0")  # fmt: skip
    try:
        yield server
    finally:
        server.stop()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


class Receiver(BaseHTTPRequestHandler):
    got: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((body, self.headers["X-Fleetlake-Signature"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def listen(server: Server, received: list[tuple[float, dict[str, Any]]]) -> threading.Thread:
    """Follow the lot's SSE stream from now on, noting when each event arrived."""
    opened = threading.Event()

    def follow() -> None:
        url = f"{server.url}/api/v1/charging/events"
        try:
            with httpx.stream("GET", url, timeout=60) as stream:
                opened.set()
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        received.append((time.time(), json.loads(line[5:])))
        except httpx.HTTPError:  # the server stopped at the test's end
            return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert opened.wait(10)
    return thread


def serve_folder(folder: Path) -> str:
    handler = lambda *a: SimpleHTTPRequestHandler(*a, directory=str(folder))  # noqa: E731
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.mark.slow
def test_owners_are_told_when_their_car_is_ready(lot_server: Server, tmp_path: Path) -> None:
    from fleetlake.platform.webhooks import verify

    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "lot.csv").write_text(LOT)
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    Receiver.got = []
    api = lot_server.client()
    hook = api.post("/api/v1/webhooks", json={"url": f"http://127.0.0.1:{hooks.server_address[1]}/",
                    "event_types": ["vehicle.ready"]}).json()  # fmt: skip
    received: list[tuple[float, dict[str, Any]]] = []
    listen(lot_server, received)

    job = api.post("/data", json={"url": f"{serve_folder(tmp_path / 'served')}/lot.csv"}).json()
    with httpx.stream("GET", job["events_url"], timeout=30) as stream:
        assert "event: completed" in "".join(stream.iter_text())
    cars = {c["plate"]: c for c in api.get("/api/v1/charging/vehicles").json()["data"]}
    for plate, power in (("FAST-1", 360), ("MID-2", 180), ("SLOW-3", 120)):
        hours = ChargeCurve(capacity_kwh=1, power_kw=power).hours_between(50, 80)
        assert abs(at(cars[plate]["ready_at"]) - at(cars[plate]["plugged_at"]) - hours * 3600) <= 1

    checked_midway = False
    deadline = time.time() + 30
    while len(ready_events(received)) < len(SOON) and time.time() < deadline:
        due = [p for p in SOON if at(cars[p]["ready_at"]) <= time.time() - 1.5]
        upcoming = [at(cars[p]["ready_at"]) for p in SOON if p not in due]
        if due and upcoming and min(upcoming) - time.time() > 1.0 and not checked_midway:
            listed = [v["vehicle"] for v in api.get("/data").json()["data"]]
            assert sorted(listed) == sorted(due)  # exactly the ready ones, no CRAWL-5
            checked_midway = True
        time.sleep(0.1)
    told = ready_events(received)
    assert checked_midway
    assert sorted(e["data"]["plate"] for _, e in told) == sorted(SOON)  # each once
    for arrived, event in told:
        estimated = at(cars[event["data"]["plate"]]["ready_at"])
        assert estimated - 1.0 <= arrived <= estimated + 2.0, event
    assert sorted(v["vehicle"] for v in api.get("/data").json()["data"]) == sorted(SOON)

    gone = api.delete("/vehicle/CRAWL-5")
    left_at = time.time()
    crawl = ChargeCurve(capacity_kwh=1, power_kw=1)
    expected = crawl.soc_after(50, (left_at - at(cars["CRAWL-5"]["plugged_at"])) / 3600) / 100
    assert gone.json()["current_charge"] == pytest.approx(expected, abs=0.002)
    assert api.delete("/vehicle/FAST-1").json() == {"vehicle": "FAST-1", "current_charge": 0.8}
    time.sleep(1.0)
    departed = [e for _, e in received if e["type"] == "vehicle.departed"]
    assert sorted(e["data"]["plate"] for e in departed) == ["CRAWL-5", "FAST-1"]

    time.sleep(1.0)  # webhook deliveries run on their own threads
    signed = [json.loads(body) for body, signature in Receiver.got
              if verify(hook["secret"], body, signature)]  # fmt: skip
    deliveries = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()
    assert sorted(e["data"]["plate"] for e in signed) == sorted(SOON), (
        [(e["id"], e["data"]["plate"]) for e in signed],
        [(d["event_id"], d["outcome"]) for d in deliveries["data"]],
    )
    hooks.shutdown()


def ready_events(received: list[tuple[float, dict[str, Any]]]) -> list[tuple[float, Any]]:
    return [(t, e) for t, e in received if e["type"] == "vehicle.ready"]
