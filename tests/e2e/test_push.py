"""SSE, WebSocket and a webhook receiver each get progress *during* a multi-chunk ingestion."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from fleetlake.platform.webhooks import SIGNATURE_HEADER, verify
from fleetlake.simulate.trips import simulate_trips
from tests.e2e.conftest import Server

pytestmark = pytest.mark.slow
SECRET = "webhook-secret-0123456789"


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[datetime, dict[str, Any], bool]] = []
    refuse_next = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        event = json.loads(body)
        if Receiver.refuse_next:  # one refused delivery, to prove the retry
            Receiver.refuse_next = False
            self.send_response(503)
            self.end_headers()
            return
        valid = verify(SECRET, body, self.headers[SIGNATURE_HEADER])
        Receiver.received.append((datetime.now(UTC), event, valid))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def read_sse(url: str, out: list[tuple[datetime, dict[str, Any]]]) -> None:
    with httpx.stream("GET", url, timeout=60) as response:
        event_type = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event_type = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
                assert data["type"] == event_type
                out.append((datetime.now(UTC), data))


def read_ws(url: str, out: list[tuple[datetime, dict[str, Any]]]) -> None:
    with connect(url, open_timeout=10) as socket:
        for message in socket:
            out.append((datetime.now(UTC), json.loads(message)))


def test_progress_is_pushed_during_ingestion(server: Server, tmp_path: Path) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    Receiver.received, Receiver.refuse_next = [], True
    data = server.home / "data" / "drop"
    simulate_trips(rows=60_000, out=data / "trips.csv", seed=3)
    with server.client() as client:
        hook = client.post(
            "/api/v1/webhooks",
            json={"url": f"http://127.0.0.1:{receiver.server_port}/hook", "secret": SECRET},
        )
        assert hook.status_code == 201, hook.text
        accepted = client.post("/api/v1/ingestions", json={"sources": [str(data / "trips.csv")]})
        assert accepted.status_code == 202, accepted.text
        job = accepted.json()
        sse: list[tuple[datetime, dict[str, Any]]] = []
        ws: list[tuple[datetime, dict[str, Any]]] = []
        readers = [
            threading.Thread(target=read_sse, args=(job["events_url"], sse)),
            threading.Thread(target=read_ws, args=(job["ws_url"], ws)),
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(120)
        final = client.get(f"/api/v1/ingestions/{job['id']}").json()
        # Webhooks are delivered after the event is stored, so the last may land after SSE's.
        deadline = time.monotonic() + 30
        while not any(e["type"] == "completed" for _, e, _ in Receiver.received):
            assert time.monotonic() < deadline, "the completed webhook never arrived"
            time.sleep(0.05)
        deliveries = client.get(
            f"/api/v1/webhooks/{hook.json()['id']}/deliveries?limit=1000"
        ).json()["data"]
    receiver.shutdown()
    finished = datetime.fromisoformat(final["finished_at"])
    assert final["state"] == "succeeded" and final["results"][0]["rows_loaded"] == 60_000

    for name, events in (("sse", sse), ("ws", ws)):
        types = [e["type"] for _, e in events]
        assert types[-1] == "completed", name
        progress = [(at, e) for at, e in events if e["type"] == "progress"]
        assert len(progress) >= 5, name
        assert progress[0][0] < finished, f"{name}: first progress arrived only after the job ended"
        assert events[-1][1]["data"]["results"][0]["rows_loaded"] == 60_000

    hooks = [(at, e) for at, e, valid in Receiver.received if valid]
    assert len(hooks) == len(Receiver.received)  # every signature verified
    hook_types = [e["type"] for _, e in hooks]
    assert hook_types[-1] == "completed" and hook_types.count("progress") >= 5
    assert next(at for at, e in hooks if e["type"] == "progress") < finished
    retried = [d for d in deliveries if d["outcome"] == "retrying"]
    assert len(retried) == 1 and retried[0]["status_code"] == 503
    redelivered = [d for d in deliveries if d["event_id"] == retried[0]["event_id"]]
    assert sorted((d["attempt"], d["outcome"]) for d in redelivered) == [
        (1, "retrying"),
        (2, "delivered"),
    ]
    assert len({e["id"] for _, e in hooks}) == len(hooks)  # each event delivered once
