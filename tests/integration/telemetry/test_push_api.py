"""POST /api/v1/telemetry in-process (TestClient with the real lifespan)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from fleetlake.platform.lake import Lake
from fleetlake.settings import get_settings
from fleetlake.telemetry import bronze
from tests.conftest import API_KEY, DATA

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture
def client(settings: Any) -> Iterator[TestClient]:
    from fleetlake.api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


def landed_rows(vin: str) -> list[dict[str, Any]]:
    lake = Lake(get_settings().resolved_lake_uri)
    files = lake.list_files(*bronze.BUFFER, vin)
    return sorted(
        (row for f in files for row in pq.read_table(f).to_pylist()), key=lambda r: r["ts"]
    )


def test_json_array_is_durable_before_the_answer(client: TestClient) -> None:
    body = [
        {"vin": "V1", "ts": "2026-11-21T10:00:00Z", "speed_kmh": 42},
        {"vin": "V1", "ts": "2026-11-21T10:00:05Z", "soc_pct": "81.5"},
        {"ts": "2026-11-21T10:00:05Z"},
    ]
    answer = client.post("/api/v1/telemetry", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["messages"], found["rows_loaded"], found["rows_quarantined"]) == (3, 2, 1)
    assert found["rejected"] == [{"position": 2, "reason": "no vin at 'vin'"}]
    rows = landed_rows("V1")
    assert [(r["speed_kmh"], r["soc_pct"]) for r in rows] == [(42.0, None), (None, 81.5)]


def test_ndjson_with_a_provider(client: TestClient) -> None:
    payload = json.loads(
        (DATA / "providers" / "tesla_fleet_api" / "vehicle_data.charging.json").read_text()
    )
    body = json.dumps(payload) + "\n{broken\n"
    answer = client.post(
        "/api/v1/telemetry?provider=tesla_fleet_api",
        content=body,
        headers=AUTH | {"Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows_loaded"] == 1
    assert answer.json()["rejected"][0]["position"] == 2
    assert landed_rows("5YJSA11111111111")[0]["charge_power_kw"] == 9.0


PUSH, JSON = "/api/v1/telemetry", AUTH | {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("path", "headers", "content", "status", "field"),
    [
        (PUSH, {}, "[]", 401, "X-API-Key"),
        (f"{PUSH}?provider=teslamate", AUTH, "[]", 400, "provider"),
        (PUSH, AUTH | {"Content-Type": "text/csv"}, "a,b", 400, "Content-Type"),
        (PUSH, JSON, "{nope", 400, "body"),
        (PUSH, JSON, "[" + "1," * 600 + "1]", 413, "body"),
    ],
)
def test_bad_pushes_get_a_4xx_naming_the_field(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    headers: dict[str, str],
    content: str,
    status: int,
    field: str,
) -> None:
    monkeypatch.setattr(get_settings().telemetry, "max_push_bytes", 1000)
    answer = client.post(path, content=content, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["details"]["field"] == field
