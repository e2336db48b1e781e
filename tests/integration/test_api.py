"""The HTTP API in-process (TestClient with the real lifespan), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, SAMPLE_TRIPS

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture
def client(settings: Any) -> Iterator[TestClient]:
    from fleetlake.api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


def wait_for(client: TestClient, job_id: int) -> dict[str, Any]:
    """Read the job's SSE stream to its end, then return the job."""
    with client.stream("GET", f"/api/v1/ingestions/{job_id}/events") as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    assert "event: completed" in body or "event: failed" in body
    return client.get(f"/api/v1/ingestions/{job_id}").json()


@pytest.fixture
def loaded(client: TestClient, home: Path) -> TestClient:
    raw = home / "data" / "raw"
    raw.mkdir(parents=True)
    shutil.copy(SAMPLE_TRIPS, raw / "trips.csv")
    nothing = client.get("/vehicles/ingest-data/status").json()
    assert nothing == {"review": "Nothing is being processed"}
    response = client.post("/vehicles", headers=AUTH)
    assert (response.status_code, response.text) == (200, "Ingestion Started")
    job = client.get("/api/v1/ingestions").json()["data"][0]
    assert wait_for(client, job["id"])["state"] == "succeeded"
    return client


def test_compat_contract(loaded: TestClient) -> None:
    counts = loaded.get("/vehicles/region/count").json()
    assert counts == {
        "data": [
            {"count": 28, "region": "Hamburg"},
            {"count": 34, "region": "Prague"},
            {"count": 38, "region": "Turin"},
        ]
    }
    averages = loaded.get("/vehicles/weekly_avg_trips/region").json()["data"]
    assert {a["region"]: a["freq_avg_weekly_trips"] for a in averages} == {
        "Hamburg": "5.6000000000000000",
        "Prague": "6.8000000000000000",
        "Turin": "7.6000000000000000",
    }
    weekly = loaded.get("/vehicles/weekly_trips/region").json()["data"]
    assert {"freq_trip": 10, "region": "Prague", "week_number": 18} in weekly
    assert sum(w["freq_trip"] for w in weekly) == 100
    turin = loaded.get("/vehicles", params={"region": "Turin"}).json()["data"]
    assert len(turin) == 10  # default limit
    first = next(
        v
        for v in turin
        if v["datasource"] == "baba_car" and v["datetime"].startswith("Mon, 21 May")
    )
    assert first == first | {
        "datetime": "Mon, 21 May 2018 02:54:04 GMT",
        "origin_coord_point_x": "7.672837913286881",
        "origin_coord_point_y": "44.9957109242058",
        "destination_coord_point_x": "7.720368637535126",
        "destination_coord_point_y": "45.06782385393849",
        "region": "Turin",
    }
    assert loaded.get(f"/vehicles/{first['id']}").json() == first
    by_point = loaded.get("/vehicles", params={"origin_coord_x": "7.672837913286881"}).json()[
        "data"
    ]
    assert [v["id"] for v in by_point] == [first["id"]]
    by_date = loaded.get("/vehicles", params={"date": "2018-05-21", "limit": 100}).json()["data"]
    assert by_date and all(v["datetime"].startswith("Mon, 21 May 2018") for v in by_date)
    status = loaded.get("/vehicles/ingest-data/status").json()
    assert set(status) == {"details", "end_time", "lead_time", "review", "start_time"}
    assert status["review"] == "Process Finished"
    assert [(d["file"], d["num_rows"], d["result"]) for d in status["details"]] == [
        ("data/raw/trips.csv", 100, "Successful Data Ingestion")
    ]
    assert set(status["details"][0]) == {"file", "lead_time", "num_rows", "result"}
    for lead_time in (status["lead_time"], status["details"][0]["lead_time"]):
        assert re.fullmatch(r"\d+:\d\d:\d\d(\.\d{6})?", lead_time), lead_time
    for moment in (status["start_time"], status["end_time"]):  # 09/03/2022, 20:45:15
        datetime.strptime(moment, "%m/%d/%Y, %H:%M:%S")


def test_compat_status_while_an_ingestion_runs(client: TestClient, engine: Any, home: Path) -> None:
    """The published in-progress shape: the files done so far, the current one, the start."""

    from fleetlake.platform.jobs import create_job, jobs

    raw = home / "data" / "raw"
    sources = [str(raw / "a.csv"), str(raw / "b.csv")]
    job_id = create_job(engine, kind="trips.ingest", params={"sources": sources, "force": False})
    started = datetime(2022, 9, 3, 20, 37, 37, tzinfo=UTC)
    done = {"source": sources[0], "name": "a.csv", "status": "loaded", "rows_loaded": 102400,
            "reason": None, "started_at": started.isoformat(),
            "finished_at": (started + timedelta(seconds=82.75415)).isoformat()}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(state="running", started_at=started, results=[done])
        )
    status = client.get("/vehicles/ingest-data/status").json()
    assert status == {
        "details": [
            {
                "file": "data/raw/a.csv",
                "lead_time": "0:01:22.754150",
                "num_rows": 102400,
                "result": "Successful Data Ingestion",
            }
        ],
        "review": "data/raw/b.csv: In progress..",
        "start_time": "Sat, 03 Sep 2022 20:37:37 GMT",
    }


def test_v1_queries(loaded: TestClient) -> None:
    average = loaded.get("/api/v1/trips/weekly-average", params={"region": "Prague"}).json()
    assert (average["weekly_average"], average["weeks"], average["trips"]) == (6.8, 5, 34)
    assert average["per_week"][0] == {"year": 2018, "week": 18, "trips": 10}
    box = loaded.get(
        "/api/v1/trips/weekly-average", params={"bbox": "14.0,49.8,14.9,50.3", "match": "both"}
    ).json()
    assert box["trips"] == 34
    page = loaded.get("/api/v1/trips", params={"limit": 60}).json()
    rest = loaded.get("/api/v1/trips", params={"limit": 60, "after": page["next_after"]}).json()
    ids = [t["id"] for t in page["data"] + rest["data"]]
    assert len(ids) == 100 == len(set(ids)) and rest["next_after"] is None
    groups = loaded.get("/api/v1/trip-groups", params={"region": "Turin", "limit": 500}).json()[
        "data"
    ]
    assert sum(g["trips"] for g in groups) == 38


def test_regions_match_whatever_the_case_and_unknown_ones_are_404(loaded: TestClient) -> None:
    average = "/api/v1/trips/weekly-average"
    proper = loaded.get(average, params={"region": "Prague"}).json()
    assert loaded.get(average, params={"region": " prague "}).json() == proper
    groups = loaded.get("/api/v1/trip-groups", params={"region": "TURIN", "limit": 500}).json()
    assert sum(g["trips"] for g in groups["data"]) == 38
    for url in (average, "/api/v1/trip-groups"):
        unknown = loaded.get(url, params={"region": "Atlantis"})
        assert unknown.status_code == 404
        error = unknown.json()["error"]
        assert error["details"] == {"field": "region", "known": ["Hamburg", "Prague", "Turin"]}
        assert "known regions are Hamburg, Prague, Turin" in error["message"]


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "field"),
    [
        ("get", "/api/v1/trips/weekly-average", {"params": {"bbox": "1,2,3"}}, 400, "bbox"),
        ("get", "/api/v1/trips/weekly-average", {"params": {"bbox": "10,50,5,40"}}, 400, "bbox"),
        (
            "get",
            "/api/v1/trips/weekly-average",
            {"params": {"region": "x", "match": "no"}},
            422,
            "match",
        ),
        ("get", "/api/v1/trips/weekly-average", {}, 400, "region"),
        ("get", "/vehicles/password/count", {}, 400, "column"),
        ("get", "/api/v1/trips/999999", {}, 404, "id"),
        (
            "post",
            "/api/v1/ingestions",
            {"json": {"sources": ["/etc/passwd"]}, "headers": AUTH},
            400,
            "sources",
        ),
        (
            "post",
            "/api/v1/ingestions",
            {"json": {"sources": ["http://127.0.0.1:9/x.csv"]}, "headers": AUTH},
            400,
            "sources",
        ),
        ("post", "/api/v1/ingestions", {"json": {"sources": []}, "headers": AUTH}, 400, "sources"),
        (
            "post",
            "/api/v1/ingestions",
            {"json": {"sources": ["a\x00b"]}, "headers": AUTH},
            400,
            "sources",
        ),
        (
            "post",
            "/api/v1/ingestions",
            {"json": {"sources": ["x" * 5000]}, "headers": AUTH},
            400,
            "sources",
        ),
        ("get", "/api/v1/trip-groups", {"params": {"min_count": 2**70}}, 422, "min_count"),
        ("post", "/api/v1/ingestions", {"json": {"sources": ["x"]}}, 401, "X-API-Key"),
        (
            "post",
            "/api/v1/webhooks",
            {"json": {"url": "http://10.0.0.1/hook"}, "headers": AUTH},
            400,
            "url",
        ),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_field(
    client: TestClient, method: str, url: str, kwargs: dict[str, Any], status: int, field: str
) -> None:
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["details"]["field"] == field


def test_upload_and_size_limit(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    with SAMPLE_TRIPS.open("rb") as handle:
        response = client.post(
            "/api/v1/ingestions", headers=AUTH, files={"file": ("t.csv", handle)}
        )
    assert response.status_code == 202
    accepted = response.json()
    assert set(accepted) == {"id", "state", "events_url", "ws_url"}
    assert accepted["ws_url"].startswith("ws://")
    job = wait_for(client, accepted["id"])
    assert job["results"][0]["rows_loaded"] == 100

    client.app.state.settings.max_upload_bytes = 1000  # type: ignore[attr-defined]
    big = SAMPLE_TRIPS.read_bytes() * 10
    response = client.post("/api/v1/ingestions", headers=AUTH, files={"file": ("big.csv", big)})
    assert response.status_code == 413
    assert response.json()["error"]["details"]["field"] == "file"


class NotFoundHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()
        self.wfile.write(b"gone")

    def log_message(self, *args: Any) -> None:
        pass


def test_url_that_answers_404_is_a_clear_result(client: TestClient) -> None:
    client.app.state.settings.allow_private_urls = True  # type: ignore[attr-defined]
    from fleetlake.settings import get_settings

    get_settings().allow_private_urls = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFoundHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/missing.csv"
        response = client.post("/api/v1/ingestions", headers=AUTH, json={"sources": [url]})
        assert response.status_code == 202
        job = wait_for(client, response.json()["id"])
    finally:
        server.shutdown()
    assert job["state"] == "failed"
    assert job["results"][0]["status"] == "rejected"
    assert "HTTP 404" in job["results"][0]["reason"]
    quarantine = client.get(f"/api/v1/ingestions/{job['id']}/quarantine").json()["data"]
    assert [q["source"] for q in quarantine] == [url]


def test_relative_paths_are_looked_up_in_the_import_folders(
    client: TestClient, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "data" / "drop").mkdir(parents=True)
    shutil.copy(SAMPLE_TRIPS, home / "data" / "drop" / "trips.csv")
    decoy = tmp_path / "server-cwd" / "drop"  # the same name where the server happens to run
    decoy.mkdir(parents=True)
    decoy.joinpath("trips.csv").write_text(SAMPLE_TRIPS.read_text().splitlines()[0] + "\n")
    monkeypatch.chdir(decoy.parent)
    accepted = client.post("/api/v1/ingestions", headers=AUTH, json={"sources": ["drop/trips.csv"]})
    assert accepted.status_code == 202, accepted.text
    job = wait_for(client, accepted.json()["id"])
    assert (job["state"], job["results"][0]["rows_loaded"]) == ("succeeded", 100)
    assert job["params"]["sources"] == ["<home>/data/drop/trips.csv"]  # no server layout shown
    missing = client.post("/api/v1/ingestions", headers=AUTH, json={"sources": ["nope.csv"]})
    assert missing.status_code == 400
    message = missing.json()["error"]["message"]
    assert "nope.csv does not exist in the import folders" in message
    assert str((home / "data").resolve()) in message and "relative paths" in message
    escape = client.post("/api/v1/ingestions", headers=AUTH, json={"sources": ["../x.csv"]})
    assert "outside the import folders" in escape.json()["error"]["message"]


def test_reads_can_be_closed(client: TestClient) -> None:
    client.app.state.settings.read_requires_key = True  # type: ignore[attr-defined]
    assert client.get("/api/v1/trips").status_code == 401
    assert client.get("/api/v1/trips", headers=AUTH).status_code == 200
    assert json.loads(client.get("/vehicles").text)["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("kwargs", "field", "says"),
    [
        ({"content": b"{bad", "headers": {"Content-Type": "application/json"}}, "body",
         "the body is not valid JSON (key must be a string at line 1 column 2)"),
        ({"json": {"url": 5}}, "sources", "sources: Field required; expected JSON"),
        ({"json": {"sources": "a.csv"}}, "sources", "(got 'a.csv')"),
    ],
)  # fmt: skip
def test_body_errors_read_as_sentences_not_pydantic(
    client: TestClient, kwargs: dict[str, Any], field: str, says: str
) -> None:
    kwargs["headers"] = kwargs.get("headers", {}) | AUTH
    response = client.post("/api/v1/ingestions", **kwargs)
    assert response.status_code in (400, 422), response.text
    error = response.json()["error"]
    assert error["details"]["field"] == field
    assert says in error["message"], error["message"]
    for leak in ("pydantic.dev", "validation error for", "input_type", "[type="):
        assert leak not in response.text


def test_docs_work_offline_and_the_openapi_says_what_the_api_takes(client: TestClient) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page).text
        assert f"/static/api-docs/{asset}" in html and "cdn" not in html.lower(), page
        script = client.get(f"/static/api-docs/{asset}")
        assert script.status_code == 200 and len(script.content) > 100_000
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    ingest = spec["paths"]["/api/v1/ingestions"]["post"]
    assert ingest["security"] == [{"ApiKey": []}]
    assert set(ingest["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    push = spec["paths"]["/api/v1/telemetry"]["post"]["requestBody"]["content"]
    assert set(push) == {"application/json", "application/x-ndjson"}
    reads = spec["paths"]["/api/v1/trips"]["get"]
    assert "security" not in reads  # reads are open unless FLEETLAKE_READ_REQUIRES_KEY
    error = {"$ref": "#/components/schemas/ErrorBody"}
    assert reads["responses"]["422"]["content"]["application/json"]["schema"] == error
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    trip = spec["paths"]["/api/v1/trips/{trip_id}"]["get"]["responses"]
    assert trip["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Trip"
    }
    assert trip["404"]["content"]["application/json"]["schema"] == error
