"""DNS rebinding: a name that answers a public address when it is checked and a loopback one
when it is connected to never reaches the loopback — downloads, webhook deliveries and
polled APIs alike — because the address is checked where the connection is made."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fleetlake.errors import SourceRejected
from fleetlake.platform import fetch
from fleetlake.platform.guarded_http import guarded_client

REBINDING = "rebind.example"
PUBLIC = "93.184.216.34"


class Secret(BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"region,secret\nloopback,only\n")

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[int]:
    """A server on 127.0.0.1 that must never be reached through the public name."""
    Secret.hits.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Secret)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The name resolves to a public address the first time, to 127.0.0.1 afterwards."""
    real, lookups = socket.getaddrinfo, Counter[str]()

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != REBINDING:
            return real(host, port, *args, **kwargs)
        lookups[host] += 1
        address = PUBLIC if lookups[host] == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return lookups


def test_a_download_through_a_rebinding_name_is_refused(
    loopback: int, rebinding: Counter[str], tmp_path: Path
) -> None:
    url = f"http://{REBINDING}:{loopback}/secret.csv"
    fetch.check_url_allowed(url, allow_private=False)  # the first answer is public: passes
    with pytest.raises(SourceRejected, match=r"non-public address 127\.0\.0\.1"):
        fetch.download(url, dest_dir=tmp_path, max_bytes=1000, timeout_s=5, allow_private=False)
    assert Secret.hits == Counter() and list(tmp_path.iterdir()) == []
    assert rebinding[REBINDING] >= 2  # checked again where it connected


def test_configured_private_addresses_are_still_reached(loopback: int) -> None:
    with guarded_client(timeout_s=5, allow_private=True) as client:
        assert client.get(f"http://127.0.0.1:{loopback}/ok").status_code == 200
    with (
        guarded_client(timeout_s=5, allow_private=False) as client,
        pytest.raises(SourceRejected, match=r"127\.0\.0\.1"),
    ):
        client.get(f"http://127.0.0.1:{loopback}/ok")
    assert Secret.hits == Counter({"/ok": 1})


def test_a_webhook_whose_name_rebinds_is_refused_at_delivery(
    engine: sa.Engine, loopback: int, rebinding: Counter[str]
) -> None:
    from fleetlake.platform import webhooks
    from fleetlake.platform.jobs import create_job

    with engine.begin() as connection:  # registration sees the public answer
        url = f"http://{REBINDING}:{loopback}/hook"
        hook = webhooks.create_webhook(
            connection, url=url, secret=None, event_types=None, allow_private=False
        )
    dispatcher = webhooks.WebhookDispatcher(engine, max_attempts=3, backoff_s=0, timeout_s=5)
    dispatcher.start()
    try:
        create_job(engine, kind="test", params={})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                rows = webhooks.list_deliveries(connection, webhook_id=hook["id"])
            if rows:
                break
            time.sleep(0.05)
    finally:
        dispatcher.stop()
    [delivery] = rows  # refused once, not retried: no retry makes the address public
    assert (delivery["outcome"], delivery["status_code"]) == ("refused", None)
    assert "non-public address 127.0.0.1" in delivery["error"]
    assert Secret.hits == Counter()
