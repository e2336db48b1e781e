"""Readings posted and imported land in silver once, bad ones in the quarantine with their
reason, and the series answers min/mean/max buckets that match the readings."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.integration.monitoring.conftest import AUTH
from tests.integration.monitoring.test_model_api import TEMPLATE, created

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def sensor(client: TestClient) -> dict[str, Any]:
    platform = created(client, "platforms", {"name": "P"})
    template = created(client, "templates", {**TEMPLATE, "platform_id": platform["id"]})
    return created(client, "sensors", {"template_id": template["id"], "name": "S", "x_m": 1,
                                       "y_m": 1, "z_m": 1, "source_id": "omnia-7"})  # fmt: skip


def post(client: TestClient, readings: list[dict[str, Any]]) -> dict[str, Any]:
    answer = client.post("/api/v1/monitoring/readings", json={"readings": readings}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_posted_readings_land_once_and_bad_ones_are_kept_with_a_reason(
    client: TestClient, sensor: dict[str, Any]
) -> None:
    good = [{"sensor": "omnia-7", "ts": (T0 + timedelta(seconds=10 * k)).isoformat(),
             "ppmv": 2.0 + k / 100} for k in range(360)]  # fmt: skip
    random.Random(1).shuffle(good)  # any order: sorted on landing
    bad = [
        {"sensor": 999, "ts": T0.isoformat(), "ppmv": 1},
        {"sensor": sensor["id"], "ts": "yesterday", "ppmv": 1},
        {"sensor": sensor["id"], "ts": T0.isoformat(), "ppmv": -0.5},
        {"sensor": sensor["id"], "ts": T0.isoformat(), "ppmv": "NaN"},
        {"sensor": sensor["id"], "ts": "2026-12-01T00:00:00", "ppmv": 1},
    ]
    found = post(client, good + bad)
    assert (found["rows_loaded"], found["rows_quarantined"]) == (360, 5)
    reasons = {r["line"]: r["reason"] for r in found["rejected"]}
    assert "unknown sensor '999'" in reasons[361] and "not ISO 8601" in reasons[362]
    assert "negative" in reasons[363] and "finite" in reasons[364] and "no zone" in reasons[365]
    kept = client.get("/api/v1/monitoring/quarantine").json()
    assert kept["total"] == 5 and kept["days"] == [kept["date"]]
    assert sorted(q["line"] for q in kept["data"]) == [361, 362, 363, 364, 365]
    assert {q["source"] for q in kept["data"]} == {"api"} and '"ppmv": -0.5' in str(kept)
    again = post(client, good[:10])  # re-sent: already landed, kept aside, not stored twice
    assert again["rows_loaded"] == 0 and "at or before" in again["rejected"][0]["reason"]
    later = post(client, [{"sensor": sensor["id"], "ts": (T0 + timedelta(hours=2)).timestamp(),
                           "ppmv": 9.0}])  # fmt: skip
    assert later["rows_loaded"] == 1

    series = client.get(f"/api/v1/monitoring/sensors/{sensor['id']}/series",
                        params={"start": T0.isoformat(), "end": (T0 + timedelta(hours=3))
                                .isoformat(), "every": 600}).json()  # fmt: skip
    values = 2.0 + np.arange(360) / 100
    want = [values[k : k + 60] for k in range(0, 360, 60)]  # 600 s buckets of 10 s readings
    assert series["every_s"] == 600 and len(series["data"]) == 7
    for point, chunk in zip(series["data"][:6], want, strict=True):
        assert point["count"] == 60 and point["min"] == pytest.approx(chunk.min())
        assert point["mean"] == pytest.approx(chunk.mean()) and point["max"] == chunk.max()
    assert series["data"][6] == {"ts": "2026-12-01T02:00:00Z", "min": 9.0, "mean": 9.0,
                                 "max": 9.0, "count": 1}  # fmt: skip
    one = client.get(f"/api/v1/monitoring/sensors/{sensor['id']}").json()
    assert one["id"] == sensor["id"]


def test_files_are_imported_by_a_job(client: TestClient, sensor: dict[str, Any],
                                     home: Path) -> None:  # fmt: skip
    folder = home / "data"
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{sensor['id']},{(T0 + timedelta(minutes=k)).isoformat()},{k}\n"
                   for k in range(100))  # fmt: skip
    (folder / "a.csv").write_text("sensor,ts,ppmv\n" + rows + "omnia-7,bad,1\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    later = [T0 + timedelta(days=1, minutes=k) for k in range(50)]
    pq.write_table(pa.table({"sensor": ["omnia-7"] * 50, "ts": later,
                             "ppmv": [1.0] * 50}), folder / "b.parquet")  # fmt: skip
    job = client.post("/api/v1/monitoring/imports", json={"sources": ["a.csv", "b.parquet"]},
                      headers=AUTH)  # fmt: skip
    assert job.status_code == 202, job.text
    with client.stream("GET", job.json()["events_url"]) as stream:
        assert "event: completed" in "".join(stream.iter_text())
    results = client.get(f"/api/v1/jobs/{job.json()['id']}").json()["results"]
    assert [(r["rows_loaded"], r["rows_quarantined"]) for r in results] == [(100, 1), (50, 0)]
    outside = client.post("/api/v1/monitoring/imports", json={"sources": ["/etc/passwd"]},
                          headers=AUTH)  # fmt: skip
    assert outside.status_code == 400
