"""Schemathesis over the whole OpenAPI of a real server holding data: whatever a client
sends that the schema allows — and the edges it does not — no answer is a server error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import API_KEY, SAMPLE_TRIPS, postgres_schema
from tests.e2e.conftest import Server, cli, start_server

pytestmark = pytest.mark.slow


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)]
)
def fuzzed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    home.mkdir()
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{home / 'fleetlake.db'}"
        else:  # 32-bit ids: where SQLite's 64 bits would let a 2**31 through
            url = stack.enter_context(postgres_schema())
        server = start_server(home, url)
        stack.callback(server.stop)
        assert cli(server.env, "ingest", "trips", str(SAMPLE_TRIPS)).returncode == 0
        yield server


def _schema() -> Any:
    """The OpenAPI the server publishes (building the app starts nothing: services start
    with its lifespan); its event streams stay open until their job ends, so they are
    followed by the SSE tests rather than fuzzed."""
    from fleetlake.api.app import create_app
    from fleetlake.settings import Settings

    spec = create_app(Settings(home=Path("unused"))).openapi()
    return schemathesis.openapi.from_dict(spec).exclude(path_regex=r"/events$")


schema = _schema()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: Any, fuzzed_server: Server) -> None:
    case.call_and_validate(
        base_url=fuzzed_server.url,
        headers={"X-API-Key": API_KEY},
        timeout=30,
        checks=[not_a_server_error],
    )


def test_the_fuzzed_server_logged_no_unhandled_error(fuzzed_server: Server) -> None:
    log = Path(fuzzed_server.home.parent).glob("server-*.log")
    text = "".join(path.read_text() for path in log)
    assert "unhandled error" not in text and "Traceback" not in text


@pytest.mark.parametrize("last", ["99999999999999999999", "-1", "abc"])
def test_event_streams_refuse_an_impossible_last_event_id(fuzzed_server: Server, last: str) -> None:
    with fuzzed_server.client() as client:
        for url in ("/api/v1/events", "/api/v1/jobs/1/events"):
            answer = client.get(url, headers={"Last-Event-ID": last}, timeout=10)
            assert answer.status_code == 422, (url, answer.text)
            assert answer.json()["error"]["details"]["field"] == "Last-Event-ID"
