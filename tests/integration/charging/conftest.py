"""The charging lot's fixtures: the real local Redis (a key prefix of each test's own), a CSV
server on localhost, and a client of the app with its real lifespan."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, require_service

AUTH = {"X-API-Key": API_KEY}
REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis(url: str = REDIS_URL) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception as exc:
        require_service("Redis", f"{url}: {exc}")


@pytest.fixture(autouse=True)
def private_urls_allowed(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """The CSV server of these tests is on localhost."""
    monkeypatch.setenv("FLEETLAKE_ALLOW_PRIVATE_URLS", "true")


@pytest.fixture
def redis_prefix(monkeypatch: pytest.MonkeyPatch, home: Path) -> Iterator[str]:
    """Redis on for this test, under a prefix of its own, deleted afterwards."""
    import redis

    require_redis()
    prefix = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("FLEETLAKE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("FLEETLAKE_REDIS_PREFIX", prefix)
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def lot_client(settings: Any, redis_prefix: str) -> Iterator[TestClient]:
    from fleetlake.api.app import create_app
    from fleetlake.settings import get_settings

    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        yield client


@pytest.fixture
def csv_server(tmp_path: Path) -> Iterator[Callable[[str, str], str]]:
    """Serve files written by `put(name, text)` over HTTP on localhost; returns their URL."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def put(name: str, text: str) -> str:
        (folder / name).write_text(text)
        return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    yield put
    server.shutdown()


def finished(client: TestClient, job_id: int) -> dict[str, Any]:
    """Follow the job's events to their end; the job."""
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    assert "event: completed" in body or "event: failed" in body
    job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
    return job


def import_csv(client: TestClient, url: str) -> dict[str, Any]:
    response = client.post("/data", json={"url": url}, headers=AUTH)
    assert response.status_code == 202, response.text
    return finished(client, response.json()["id"])
