"""The charging lot over HTTP (the app's real lifespan), on SQLite and PostgreSQL, with the
real local Redis: compat contract, v1 shapes, history, updates, and the model's times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetlake.charging.model import ChargeCurve
from tests.integration.charging.conftest import AUTH, import_csv

LOT = """vehicle,current_charge,total_charge,desired_percentage,max_power_kw
AB-123,12,60,80,
CD 456,30,75,90,7.4
EF789,59,60,50,
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_import_then_the_compat_contract(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    job = import_csv(lot_client, csv_server("lot.csv", LOT))
    assert job["state"] == "succeeded"
    result = job["results"][0]
    assert (result["rows_loaded"], result["rows_quarantined"], result["created"]) == (3, 0, 3)

    ready = lot_client.get("/data").json()
    assert list(ready) == ["data"] and [v["vehicle"] for v in ready["data"]] == ["EF789"]
    row = ready["data"][0]
    assert set(row) == {"vehicle", "current_charge", "total_charge", "desired_percentage",
                        "ready_at"}  # fmt: skip
    assert (row["current_charge"], row["total_charge"], row["desired_percentage"]) == (59, 60, 50)

    status = lot_client.get("/vehicle/AB-123").json()
    assert set(status) == {"vehicle", "ready", "ready_at", "current_charge"}
    assert status["vehicle"] == "AB-123" and status["ready"] is False
    car = lot_client.get("/api/v1/charging/vehicles/AB-123").json()
    # No site limit: ready at plug-in + the closed-form time, to the second.
    hours = ChargeCurve(capacity_kwh=60, power_kw=11).hours_between(20, 80)
    expected = at(car["plugged_at"]) + timedelta(hours=hours)
    assert abs((at(status["ready_at"]) - expected).total_seconds()) <= 1.0
    assert car["power_kw"] == 11.0 and car["soc_pct"] == pytest.approx(20, abs=0.1)
    slow = lot_client.get("/api/v1/charging/vehicles/CD 456").json()
    assert slow["power_kw"] == 7.4  # the car's own limit under the charger's 11 kW

    gone = lot_client.delete("/vehicle/AB-123", headers=AUTH)
    assert gone.status_code == 200
    assert set(gone.json()) == {"vehicle", "current_charge"}
    assert gone.json()["current_charge"] == pytest.approx(12.0, abs=0.2)  # seconds of charging
    assert lot_client.get("/vehicle/AB-123").status_code == 404
    history = lot_client.get("/api/v1/charging/sessions", params={"plate": "AB-123"}).json()
    assert [s["parked"] for s in history["data"]] == [False]
    assert history["data"][0]["final_charge_kwh"] == gone.json()["current_charge"]


def test_unknown_plate_is_a_json_404_on_every_path(lot_client: TestClient) -> None:
    for method, path in (("GET", "/vehicle/ZZ9"), ("DELETE", "/vehicle/ZZ9"),
                         ("GET", "/api/v1/charging/vehicles/ZZ9")):  # fmt: skip
        response = lot_client.request(method, path, headers=AUTH)
        assert response.status_code == 404
        assert response.json()["error"]["details"]["field"] == "plate"


def test_a_parked_plate_is_updated_with_its_plug_in_time_kept(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    import_csv(lot_client, csv_server("lot.csv", LOT))
    before = lot_client.get("/api/v1/charging/vehicles/AB-123").json()
    again = (
        "vehicle,current_charge,total_charge,desired_percentage\nAB-123,30,60,90\nNEW1,1,40,50\n"
    )
    result = import_csv(lot_client, csv_server("again.csv", again))["results"][0]
    assert (result["created"], result["updated"], result["updated_plates"]) == (1, 1, ["AB-123"])
    after = lot_client.get("/api/v1/charging/vehicles/AB-123").json()
    assert after["plugged_at"] == before["plugged_at"]
    assert (after["desired_pct"], after["current_charge_kwh"]) == (90, pytest.approx(30, abs=0.1))
    parked = lot_client.get("/api/v1/charging/sessions", params={"parked": True}).json()["data"]
    assert sorted(s["plate"] for s in parked) == ["AB-123", "CD 456", "EF789", "NEW1"]


def test_a_site_limit_is_shared_by_one_plan(
    monkeypatch: pytest.MonkeyPatch,
    lot_client: TestClient,
    csv_server: Callable[[str, str], str],
) -> None:
    lot_client.app.state.settings.charging.site_limit_kw = 15.0  # type: ignore[attr-defined]
    from fleetlake.settings import get_settings

    get_settings().charging.site_limit_kw = 15.0  # what the import job plans with
    import_csv(lot_client, csv_server("lot.csv", LOT))
    cars = lot_client.get("/api/v1/charging/vehicles").json()["data"]
    assert sum(c["power_kw"] for c in cars) == pytest.approx(15.0, abs=0.1)
    plan = lot_client.get("/api/v1/charging/plan").json()
    assert plan["site_limit_kw"] == 15.0 and all(p["power_kw"] <= 15.0 for p in plan["load"])
    alone = ChargeCurve(capacity_kwh=60, power_kw=11).hours_between(20, 80)
    shared = {c["plate"]: c for c in cars}["AB-123"]
    waited = at(shared["ready_at"]) - at(shared["plugged_at"])
    assert waited > timedelta(hours=alone)  # sharing 15 kW with a 7.4 kW car takes longer
    assert lot_client.get("/vehicle/AB-123").json()["ready_at"] == shared["ready_at"]

    # A new limit is told apart from the plan's until a replan (`charging plan --replan`).
    from fleetlake.charging.service import now_utc, replan_lot

    get_settings().charging.site_limit_kw = 100.0
    plan = lot_client.get("/api/v1/charging/plan").json()
    assert (plan["site_limit_kw"], plan["settings_site_limit_kw"]) == (15.0, 100.0)
    replan_lot(lot_client.app.state.engine, settings=get_settings().charging,  # type: ignore[attr-defined]
               cache=lot_client.app.state.lot_cache, now=now_utc())  # type: ignore[attr-defined]  # fmt: skip
    plan = lot_client.get("/api/v1/charging/plan").json()
    assert plan["site_limit_kw"] == 100.0 and plan["power_now_kw"] > 15.0


def test_redis_flushed_or_replaced_is_rebuilt_from_the_database(
    lot_client: TestClient, csv_server: Callable[[str, str], str], redis_prefix: str
) -> None:
    import redis

    from fleetlake.charging.cache import LotCache
    from fleetlake.charging.lot_plan import LotPlan

    import_csv(lot_client, csv_server("lot.csv", LOT))
    first = lot_client.get("/vehicle/CD 456").json()
    cache: LotCache = lot_client.app.state.lot_cache  # type: ignore[attr-defined]
    held = redis.Redis.from_url(cache.url)

    def held_plates() -> list[str]:
        blob = held.get(cache.plan_key)
        return [] if blob is None else LotPlan.from_bytes(blob, version=0).plates

    assert sorted(held_plates()) == ["AB-123", "CD 456", "EF789"]
    for key in held.scan_iter(f"{redis_prefix}:*"):
        held.delete(key)  # as a FLUSHDB would, without touching other tests' keys
    assert held_plates() == []
    assert lot_client.get("/vehicle/CD 456").json()["ready_at"] == first["ready_at"]
    assert sorted(held_plates()) == ["AB-123", "CD 456", "EF789"]  # rebuilt by that read
    lot_client.app.state.lot_cache = LotCache(  # type: ignore[attr-defined]
        "redis://127.0.0.1:6379/7", prefix=redis_prefix
    )  # another Redis: empty, so rebuilt too
    try:
        assert lot_client.get("/vehicle/CD 456").json()["ready_at"] == first["ready_at"]
        assert lot_client.get("/vehicle/NOPE").status_code == 404
    finally:
        other = redis.Redis.from_url("redis://127.0.0.1:6379/7")
        for key in other.scan_iter(f"{redis_prefix}:*"):
            other.delete(key)


def test_without_redis_the_database_answers_the_same(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    import_csv(lot_client, csv_server("lot.csv", LOT))
    cached = lot_client.get("/vehicle/CD 456").json()
    lot_client.app.state.lot_cache = None  # type: ignore[attr-defined]
    assert lot_client.get("/vehicle/CD 456").json()["ready_at"] == cached["ready_at"]


def test_lot_events_say_what_changed(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    from fleetlake.settings import get_settings

    get_settings().charging.site_limit_kw = 12.0
    import_csv(lot_client, csv_server("one.csv", "vehicle,current_charge,total_charge,"
                                      "desired_percentage\nAB-123,12,60,80\n"))  # fmt: skip
    import_csv(lot_client, csv_server("two.csv", "vehicle,current_charge,total_charge,"
                                      "desired_percentage\nCD1,12,60,80\n"))  # fmt: skip
    lot_client.delete("/vehicle/CD1", headers=AUTH)
    events = wait_events(lot_client, count=3)
    kinds = [(e["type"], e["data"]["plate"]) for e in events]
    # The second car takes part of the 12 kW, so the first one's ready time moves out; its
    # leaving is news, and so is the first car's time moving back in.
    assert kinds == [("vehicle.plan_changed", "AB-123"), ("vehicle.departed", "CD1"),
                     ("vehicle.plan_changed", "AB-123")]  # fmt: skip
    moved = events[0]["data"]
    assert at(moved["ready_at"]) > at(moved["ready_at_before"])
    assert all(e["stream"] == "charging" and e["job_id"] is None for e in events)


def wait_events(client: TestClient, *, count: int) -> list[dict[str, Any]]:
    """The lot's first `count` events, read from its SSE stream from the start."""
    import json

    found: list[dict[str, Any]] = []
    with client.stream("GET", "/api/v1/charging/events", headers={"Last-Event-ID": "0"}) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                found.append(json.loads(line[5:]))
                if len(found) == count:
                    break
    return found


def test_the_redis_fast_path_answers_as_the_routes_and_respects_read_keys(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    import_csv(lot_client, csv_server("lot.csv", LOT))
    fast = lot_client.get("/vehicle/EF789")  # answered by the middleware, from Redis
    v1 = lot_client.get("/api/v1/charging/vehicles/EF789")
    cache = lot_client.app.state.lot_cache  # type: ignore[attr-defined]
    lot_client.app.state.lot_cache = None  # type: ignore[attr-defined]
    routed = lot_client.get("/vehicle/EF789")  # the route, from the database
    assert fast.json() == routed.json() and fast.headers["content-type"] == "application/json"
    assert v1.json()["plate"] == "EF789" and v1.json()["ready"] is True
    lot_client.app.state.lot_cache = cache  # type: ignore[attr-defined]
    lot_client.app.state.settings.read_requires_key = True  # type: ignore[attr-defined]
    assert lot_client.get("/vehicle/EF789").status_code == 401
    assert lot_client.get("/vehicle/EF789", headers=AUTH).status_code == 200
