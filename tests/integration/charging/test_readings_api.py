"""Meter readings over HTTP on both databases: bad meters refused with a reason and never in
the plan; good readings fit the car's own power, and its ready time follows the fit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from fleetlake.charging.model import ChargeCurve
from tests.integration.charging.conftest import AUTH, import_csv


def test_readings_correct_the_estimate_and_bad_ones_are_kept_out(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    plugged = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    text = ("vehicle,current_charge,total_charge,desired_percentage,plugged_at\n"
            f"SLOW-1,12,60,80,{plugged.isoformat()}\n")  # fmt: skip
    import_csv(lot_client, csv_server("lot.csv", text))
    before = lot_client.get("/api/v1/charging/vehicles/SLOW-1").json()

    # The car really takes 6 kW (the charger gives 11): an hour of readings every 10 minutes.
    truth = ChargeCurve(capacity_kwh=60, power_kw=6.0)
    good = []
    for minutes in range(0, 61, 10):
        soc = truth.soc_after(20, minutes / 60)
        good.append({"ts": (plugged + timedelta(minutes=minutes)).isoformat(), "soc_pct": soc,
                     "power_kw": 6.0, "energy_kwh": (soc - 20) * 60 / 100 / 0.9})  # fmt: skip
    bad = [
        {"ts": plugged.isoformat(), "energy_kwh": 900.0},  # a lifetime register
        {"ts": (plugged + timedelta(minutes=5)).isoformat(), "power_kw": 45.0},  # above 11 kW
    ]
    answer = lot_client.post("/api/v1/charging/vehicles/SLOW-1/readings",
                             json={"readings": good + bad}, headers=AUTH)  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    reasons = " | ".join(r["reason"] for r in body["rejected"])
    assert body["accepted"] == len(good) and len(body["rejected"]) == 2
    assert "lifetime meter register" in reasons and "above the charger's 11 kW" in reasons
    assert body["fit"]["power_kw"] == pytest.approx(6.0, abs=0.01)

    after = lot_client.get("/api/v1/charging/vehicles/SLOW-1").json()
    assert after["power_kw"] == pytest.approx(6.0, abs=0.01)
    last_soc = truth.soc_after(20, 1.0)
    expected = plugged + timedelta(hours=1) + timedelta(hours=truth.hours_between(last_soc, 80))
    got = datetime.fromisoformat(after["ready_at"].replace("Z", "+00:00"))
    assert abs((got - expected).total_seconds()) <= 2
    assert got > datetime.fromisoformat(before["ready_at"].replace("Z", "+00:00"))

    listed = lot_client.get("/api/v1/charging/vehicles/SLOW-1/readings").json()
    assert [r["accepted"] for r in listed["data"]].count(False) == 2
    assert listed["fit"]["fitted"] is True and listed["fit"]["power_kw"] == pytest.approx(
        6.0, abs=0.01
    )


def test_readings_requests_that_cannot_be_taken(lot_client: TestClient) -> None:
    missing = lot_client.post("/api/v1/charging/vehicles/NOPE/readings",
                              json={"readings": []}, headers=AUTH)  # fmt: skip
    assert missing.status_code == 404
    naive = lot_client.post("/api/v1/charging/vehicles/NOPE/readings",
                            json={"readings": [{"ts": "2026-12-07T08:00:00", "power_kw": 1}]},
                            headers=AUTH)  # fmt: skip
    assert (
        naive.status_code == 400 and naive.json()["error"]["details"]["field"] == "readings[0].ts"
    )
    assert lot_client.post("/api/v1/charging/vehicles/X/readings", json={}).status_code == 401


def test_impossible_times_and_plates_are_4xx_not_errors(lot_client: TestClient) -> None:
    far = {"readings": [{"ts": "0001-01-01T00:00:00+01:00", "power_kw": 1}]}
    answer = lot_client.post("/api/v1/charging/vehicles/AB1/readings", json=far, headers=AUTH)
    assert answer.status_code == 400 and "plausible" in answer.json()["error"]["message"]
    for path in ("/vehicle/A%00B", "/api/v1/charging/vehicles/A%01B"):
        assert lot_client.get(path).status_code == 422
    assert lot_client.delete("/vehicle/A%00B", headers=AUTH).status_code == 422
    assert lot_client.get("/api/v1/charging/sessions", params={"plate": "A\x00"}).status_code == 422
