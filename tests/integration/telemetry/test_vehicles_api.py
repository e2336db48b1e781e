"""Push → pipeline job → vehicles, series and top speeds over HTTP, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture
def client(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from fleetlake.api.app import create_app

    monkeypatch.setattr(settings.telemetry, "lookback_s", 0.0)
    with TestClient(create_app()) as test_client:
        yield test_client


def run_pipeline(client: TestClient, **body: Any) -> dict[str, Any]:
    accepted = client.post("/api/v1/pipeline/runs", json=body, headers=AUTH)
    assert accepted.status_code == 202, accepted.text
    with client.stream("GET", f"/api/v1/jobs/{accepted.json()['id']}/events") as events:
        text = "".join(events.iter_text())
    assert "event: completed" in text, text
    return client.get(f"/api/v1/jobs/{accepted.json()['id']}").json()


def test_vehicles_series_and_reports(client: TestClient) -> None:
    at = "2026-11-21T{}Z".format
    messages = [
        {"vin": "V1", "ts": at("10:00:00"), "speed_kmh": 40, "soc_pct": 80, "lat": 45, "lon": 7},
        {"vin": "V1", "ts": at("10:00:10"), "speed_kmh": 60, "lat": 45.001, "lon": 7.001},
        {"vin": "V1", "ts": at("10:00:20"), "speed_kmh": 900},  # over the maximum
        {"vin": "V2", "ts": at("10:30:00"), "speed_kmh": 60, "gear": "D"},
        {"vin": "V2", "ts": at("11:00:00"), "soc_pct": 55.5, "charging_state": "charging"},
    ]
    assert client.post("/api/v1/telemetry", json=messages, headers=AUTH).status_code == 200
    job = run_pipeline(client)
    assert [r["name"] for r in job["results"]] == ["silver", "gold"]
    assert job["results"][0]["dropped"] == {"speed_over_max": 1}

    v1 = client.get("/api/v1/vehicles/V1").json()
    assert (v1["speed_kmh"], v1["soc_pct"], v1["lat"]) == (60.0, 80.0, 45.001)
    assert v1["seen_at"]["soc_pct"] == "2026-11-21T10:00:00+00:00"
    assert v1["seen_at"]["speed_kmh"] == "2026-11-21T10:00:10+00:00"
    assert v1["last_ts"] == "2026-11-21T10:00:10+00:00" and v1["gear"] is None
    listed = client.get("/api/v1/vehicles", params={"limit": 1}).json()
    assert [v["vin"] for v in listed["data"]] == ["V1"] and listed["next_after"] == "V1"
    rest = client.get("/api/v1/vehicles", params={"after": "V1"}).json()
    assert [v["vin"] for v in rest["data"]] == ["V2"] and rest["next_after"] is None

    top = client.get("/api/v1/reports/top-speeds", params={"date": "2026-11-21"}).json()["data"]
    assert [(r["rank"], r["vin"], r["speed_kmh"]) for r in top] == [
        (1, "V1", 60.0),
        (2, "V2", 60.0),
    ]
    assert client.get(
        "/api/v1/reports/top-speeds", params={"date": "2026-11-21", "hour": 11}
    ).json() == {"data": []}

    span = {"start": "2026-11-21T00:00:00Z", "end": "2026-11-22T00:00:00Z"}
    path = "/api/v1/vehicles/V1/telemetry"
    series = client.get(path, params=span | {"fields": "speed_kmh,soc_pct"}).json()
    assert [(r["ts"], r["speed_kmh"], r["soc_pct"]) for r in series["data"]] == [
        ("2026-11-21T10:00:00+00:00", 40.0, 80.0),
        ("2026-11-21T10:00:10+00:00", 60.0, None),
    ]
    averaged = client.get(path, params=span | {"fields": "speed_kmh", "every": "60"}).json()
    assert averaged["data"] == [{"ts": "2026-11-21T10:00:00+00:00", "speed_kmh": 50.0}]


SERIES = "/api/v1/vehicles/V1/telemetry"
DAY_START, DAY_END = "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z"


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/api/v1/vehicles/NOPE", {}, 404, "vin"),
        (SERIES, {"start": DAY_START.rstrip("Z"), "end": DAY_END}, 400, "start"),
        (SERIES, {"start": DAY_END, "end": DAY_START}, 400, "end"),
        (SERIES, {"start": DAY_START, "end": DAY_END, "fields": "speed;drop"}, 400, "fields"),
        ("/api/v1/reports/top-speeds", {"date": "21/11/2026"}, 422, "date"),
    ],
)
def test_bad_reads_get_a_4xx_naming_the_field(
    client: TestClient, path: str, params: dict[str, str], status: int, field: str
) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["details"]["field"] == field


def test_pipeline_run_needs_a_key_and_known_stages(client: TestClient) -> None:
    assert client.post("/api/v1/pipeline/runs", json={}).status_code == 401
    bad = client.post("/api/v1/pipeline/runs", json={"stages": ["platinum"]}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "stage"
    engine = client.post("/api/v1/pipeline/runs", json={"engine": "oracle"}, headers=AUTH)
    assert engine.status_code == 422 and engine.json()["error"]["details"]["field"] == "engine"


def test_daily_stats_and_report_files(client: TestClient) -> None:
    day = "2026-11-{}T{}Z".format
    messages = [  # two days of odometer and energy: known distances and energy
        {"vin": "V3", "ts": day(21, "10:00:00"), "odometer_km": 100, "energy_remaining_kwh": 50},
        {"vin": "V3", "ts": day(21, "11:00:00"), "odometer_km": 130, "energy_remaining_kwh": 44},
        {"vin": "V3", "ts": day(21, "12:00:00"), "energy_remaining_kwh": 47, "speed_kmh": 0},
        {"vin": "V3", "ts": day(22, "08:00:00"), "odometer_km": 130, "energy_remaining_kwh": 47},
        {"vin": "V3", "ts": day(22, "09:00:00"), "odometer_km": 150, "energy_remaining_kwh": 43},
    ]
    assert client.post("/api/v1/telemetry", json=messages, headers=AUTH).status_code == 200
    run_pipeline(client)
    span = {"start": "2026-11-20", "end": "2026-11-23"}
    answer = client.get("/api/v1/vehicles/V3/daily", params=span)
    assert answer.status_code == 200, answer.text
    got = [(r["date"], r["distance_km"], r["energy_used_kwh"], r["energy_added_kwh"],
            r["messages"]) for r in answer.json()["data"]]  # fmt: skip
    assert got == [("2026-11-21", 30.0, 6.0, 3.0, 3), ("2026-11-22", 20.0, 4.0, 0.0, 2)]
    missing = client.get("/api/v1/vehicles/NOPE/daily", params=span)
    assert missing.status_code == 404 and missing.json()["error"]["details"]["field"] == "vin"
    too_long = client.get("/api/v1/vehicles/V3/daily", params=span | {"start": "2025-01-01"})
    assert too_long.status_code == 400 and "a year" in too_long.json()["error"]["message"]

    csv = client.get("/api/v1/reports/top-speeds.csv", params={"date": "2026-11-21"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert 'filename="top-speeds-2026-11-21.csv"' in csv.headers["content-disposition"]
    assert csv.text.splitlines()[0] == "hour,rank,vin,speed_kmh,ts,lat,lon"
    page = client.get("/api/v1/reports/top-speeds.html", params={"date": "2026-11-21"})
    assert page.status_code == 200 and "<table>" in page.text and "V3" in page.text
    none = client.get("/api/v1/reports/top-speeds.csv", params={"date": "2020-01-01"})
    assert none.status_code == 404 and "fleetlake pipeline run" in none.json()["error"]["message"]
