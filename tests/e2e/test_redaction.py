"""A source URL's credentials are used to fetch it and shown nowhere: not in jobs, ingestions,
quarantine rows, event streams (live or replayed) or logs, to callers without a key; and
what the API shows names server folders as `<home>`."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE_TRIPS
from tests.e2e.conftest import running_server

pytestmark = pytest.mark.slow
PASSWORD, TOKEN = "Pa55w0rdXQZ19", "T0kenRV8842LM"


class Guarded(BaseHTTPRequestHandler):
    """Serves the sample trips only to the right password and token (so the job must use
    them), and a broken file otherwise."""

    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(f"fleet:{PASSWORD}".encode()).decode()
        allowed = self.headers.get("Authorization") == expected and TOKEN in self.path
        self.send_response(200)
        self.end_headers()
        self.wfile.write(SAMPLE_TRIPS.read_bytes() if allowed else b"not,a,header\n1,2,3\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Guarded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


def test_credentials_in_a_source_url_are_shown_nowhere(tmp_path: Path, provider: int) -> None:
    url = f"http://fleet:{PASSWORD}@127.0.0.1:{provider}/trips.csv?token={TOKEN}&day=1"
    with running_server(tmp_path) as server, server.client() as client:
        job = client.post("/api/v1/ingestions", json={"sources": [url]}).json()
        with client.stream("GET", f"/api/v1/jobs/{job['id']}/events") as live:
            streamed = "".join(live.iter_text())
        done = client.get(f"/api/v1/jobs/{job['id']}").json()
        assert done["state"] == "succeeded" and done["results"][0]["rows_loaded"] == 100
        compat = client.get("/vehicles/ingest-data/status").text  # the latest: this one
        upload = client.post("/api/v1/ingestions", files={"file": ("mine.csv", b"x\n")}).json()
        anyone = httpx.Client(base_url=server.url, timeout=30)  # no key: reads are open
        shown = [streamed, compat] + [
            anyone.get(path).text
            for path in (
                "/api/v1/jobs",
                "/api/v1/ingestions",
                f"/api/v1/jobs/{job['id']}",
                f"/api/v1/ingestions/{job['id']}/quarantine",
                f"/api/v1/ingestions/{upload['id']}",
            )
        ]
        with anyone.stream("GET", "/api/v1/events", headers={"Last-Event-ID": "0"}) as replay:
            for line in replay.iter_lines():  # every job's events from the first
                shown.append(line)
                if (
                    line.startswith("data:")
                    and f'"job_id": {upload["id"]}' in line
                    and ('"type": "failed"' in line or '"type": "completed"' in line)
                ):
                    break
        anyone.close()
    logs = [p.read_text() for p in (server.home / "logs").rglob("*.jsonl")]
    everything = "\n".join(shown + logs + [(tmp_path / p.name).read_text()
                                           for p in tmp_path.glob("server-*.log")])  # fmt: skip
    leaks = [text[:300] for text in shown + logs if PASSWORD in text or TOKEN in text]
    assert not leaks and PASSWORD not in everything and TOKEN not in everything, leaks
    assert f"fleet:***@127.0.0.1:{provider}/trips.csv?token=***&day=1" in shown[1]  # compat
    api = "\n".join(shown)
    assert str(server.home) not in api and "<home>/data/uploads/" in api  # no server layout
