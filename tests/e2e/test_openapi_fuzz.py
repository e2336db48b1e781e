"""Schemathesis over the whole OpenAPI of a real server holding data: whatever a client
sends that the schema allows — and the edges it does not — no answer is a server error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fleetlake.simulate.telemetry_run import FleetSpec, write_files
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
        write_files(
            home.parent / "fleet", FleetSpec(2, 1, date(2026, 11, 16), seed=5, interval_s=60)
        )
        for command in (("ingest", "trips", str(SAMPLE_TRIPS)),
                        ("ingest", "telemetry", str(home.parent / "fleet")),
                        ("telemetry", "compact"), ("pipeline", "run")):  # fmt: skip
            assert cli(server.env, *command).returncode == 0, command
        yield server


def _schema() -> Any:
    """The OpenAPI the server publishes (building the app starts nothing: services start
    with its lifespan); its event streams stay open until their job ends, so they are
    followed by the SSE tests rather than fuzzed."""
    from fleetlake.api.app import create_app
    from fleetlake.settings import Settings

    spec = create_app(Settings(home=Path("unused"))).openapi()
    return schemathesis.openapi.from_dict(spec).exclude(path_regex=r"/events(/stream)?$")


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The schema's NDJSON body is text (lines of messages, or not): sent as it was drawn;
    a negative case's other value is sent as its JSON."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return value if isinstance(value, bytes) else json.dumps(value).encode()


schema = _schema()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: Any, fuzzed_server: Server) -> None:
    case.call_and_validate(
        base_url=fuzzed_server.url,
        headers={"X-API-Key": API_KEY},
        timeout=30,
        # No 5xx; and every answer is one the document declares: status, type and body.
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_the_fuzzed_server_logged_no_unhandled_error(fuzzed_server: Server) -> None:
    log = Path(fuzzed_server.home.parent).glob("server-*.log")
    text = "".join(path.read_text() for path in log)
    assert "unhandled error" not in text and "Traceback" not in text


@pytest.mark.parametrize("last", ["99999999999999999999", "-1", "abc"])
def test_event_streams_refuse_an_impossible_last_event_id(fuzzed_server: Server, last: str) -> None:
    with fuzzed_server.client() as client:
        streams = ("/api/v1/events", "/api/v1/jobs/1/events", "/api/v1/charging/events",
                   "/api/v1/monitoring/events/stream")  # fmt: skip
        for url in streams:
            answer = client.get(url, headers={"Last-Event-ID": last}, timeout=10)
            assert answer.status_code == 422, (url, answer.text)
            assert answer.json()["error"]["details"]["field"] == "Last-Event-ID"


def _wait_for_the_fuzzed_jobs(client: httpx.Client, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while any(j["state"] in ("queued", "running") for j in _all_jobs(client)):
        assert time.monotonic() < deadline, "the fuzzed jobs did not end"
        time.sleep(0.5)


def _all_jobs(client: httpx.Client) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/jobs", params={"limit": 500}).json()["data"])


def test_answers_holding_data_match_their_documented_schemas(fuzzed_server: Server) -> None:
    """Random values mostly miss the data (a random VIN is a 404): these requests hit it."""
    with fuzzed_server.client() as client:
        _wait_for_the_fuzzed_jobs(client)  # a fuzzed full refresh may still be running
        fleet = sorted((fuzzed_server.home.parent / "fleet").glob("*.ndjson"))[0]
        vin = json.loads(fleet.read_text().splitlines()[0])["vin"]  # not a fuzzed one
        job = client.get("/api/v1/jobs").json()["data"][0]["id"]
        requests = {
            ("/api/v1/trips/weekly-average", "region=Turin"),
            ("/api/v1/trips/weekly-counts", ""),
            ("/api/v1/trips", "limit=5"),
            ("/api/v1/trips/{trip_id}", ""),
            ("/api/v1/trip-groups", "limit=5"),
            ("/api/v1/ingestions", ""),
            ("/api/v1/jobs", ""),
            ("/api/v1/jobs/{job_id}", ""),
            ("/api/v1/vehicles", "limit=1"),
            ("/api/v1/vehicles/{vin}", ""),
            ("/api/v1/vehicles/{vin}/telemetry",
             "start=2026-11-16T08:00:00Z&end=2026-11-16T09:00:00Z&every=600"),
            ("/api/v1/reports/top-speeds", "date=2026-11-16"),
            ("/vehicles", "limit=3"),
            ("/vehicles/{trip_id}", ""),
            ("/vehicles/{column}/count", ""),
            ("/vehicles/weekly_trips/region", ""),
            ("/vehicles/weekly_avg_trips/region", ""),
            ("/vehicles/ingest-data/status", ""),
            ("/api/v1/health", ""),
        }  # fmt: skip
        values = {"trip_id": 1, "job_id": job, "vin": vin, "column": "region"}
        for template, query in sorted(requests):
            answer = client.get(template.format(**values), params=query)
            assert answer.status_code == 200, (template, answer.text)
            assert answer.json().get("data", True), (template, "no data to check")
            schema[template]["GET"].validate_response(answer)
