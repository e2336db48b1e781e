"""The detector over landed readings: a quiet template stays ok, a leak raises one critical
event with an estimate close to the simulated truth, and the operator's view of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from fleetlake.monitoring.leak import Geometry, Physics
from fleetlake.simulate.monitoring import Leak, sensor_readings

T0 = datetime(2026, 11, 1, tzinfo=UTC)
POSITIONS = np.array(
    [[1.0, 1.0, 1.0], [11.0, 1.0, 5.0], [1.0, 9.0, 5.0], [11.0, 9.0, 1.0]]
)  # not coplanar
GEOMETRY = Geometry(800, 12, 10, 6, porosity=(0.3,), wall_area_m2=(500,))


@pytest.fixture
def template(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from fleetlake.monitoring import catalog
    from fleetlake.settings import get_settings

    monkeypatch.setenv("FLEETLAKE_MONITORING_BASELINE_DAYS", "1")
    get_settings.cache_clear()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        platform = catalog.create_platform(connection, name="P", description=None, now=now)
        found = catalog.create_template(connection, values={
            "platform_id": platform["id"], "name": "T", "internal_volume_m3": 800,
            "length_m": 12, "width_m": 10, "height_m": 6, "angle_from_north_deg": 0,
            "porosity": 0.3, "wall_area_m2": 500, "inclination_deg": 0},
            settings=get_settings().monitoring, now=now)  # fmt: skip
        sensors = [catalog.create_sensor(connection, values={
            "template_id": found["id"], "name": f"S{k}", "x_m": x, "y_m": y, "z_m": z,
            "source_id": None}, now=now) for k, (x, y, z) in enumerate(POSITIONS)]  # fmt: skip
    return found | {"sensors": [s["id"] for s in sensors]}


def land(engine: sa.Engine, sensors: list[int], start: datetime, hours: float,
         leak: Leak | None = None, seed: int = 0) -> None:  # fmt: skip
    from fleetlake.monitoring.landing import land_readings
    from fleetlake.monitoring.readings import Received
    from fleetlake.platform.lake import Lake
    from fleetlake.settings import get_settings

    found = sensor_readings(POSITIONS, geometry=GEOMETRY, physics=Physics(), start=start,
                            hours=hours, period_s=60, leak=leak, seed=seed)  # fmt: skip
    records = [
        Received(k, sensor, ts, float(v))
        for sensor, (times, values) in zip(sensors, found, strict=True)
        for k, (ts, v) in enumerate(zip(times, values, strict=True))
    ]
    lake = Lake(get_settings().resolved_lake_uri)
    result = land_readings(engine, lake, records, source="sim", now=datetime.now(UTC))
    assert result["rows_quarantined"] == 0


def detect(engine: sa.Engine) -> dict[str, Any]:
    from fleetlake.monitoring.worker import detect_round
    from fleetlake.platform.lake import Lake
    from fleetlake.settings import get_settings

    settings = get_settings()
    return detect_round(engine, Lake(settings.resolved_lake_uri), settings=settings.monitoring)


def test_a_quiet_template_stays_ok_and_a_leak_is_critical_with_its_estimate(
    engine: sa.Engine, template: dict[str, Any]
) -> None:
    sensors = template["sensors"]
    land(engine, sensors, T0, hours=30, seed=1)  # a day of baseline, then 6 quiet hours
    quiet = detect(engine)
    assert quiet["readings"] == 4 * 6 * 60 - 4 + 4 and quiet["events"] == []  # after the baseline
    assert detect(engine)["readings"] == 0  # nothing new: nothing scored again
    truth = Leak(
        rate_kg_h=1.0, source_xyz=(3.0, 7.0, 1.5), start=T0 + timedelta(hours=30, minutes=20)
    )
    land(engine, sensors, T0 + timedelta(hours=30), hours=2, leak=truth, seed=2)
    events = detect(engine)["events"]
    assert [e["level"] for e in events] == ["critical"]
    event = events[0]
    assert sorted(event["sensors"]) == sorted(sensors)
    delay = datetime.fromisoformat(event["at"]) - truth.start
    assert timedelta(0) <= delay <= timedelta(minutes=15)
    leak = event["leak"]
    assert leak["rate_kg_h"] == pytest.approx(1.0, rel=0.2)
    assert leak["rate_kg_h_low"] <= 1.0 <= leak["rate_kg_h_high"]
    source = np.array([leak["source"][k] for k in ("x_m", "y_m", "z_m")])
    assert np.linalg.norm(source - np.array(truth.source_xyz)) < 3.0


def test_the_operator_works_the_event_and_asks_what_if(
    engine: sa.Engine, template: dict[str, Any], client: Any
) -> None:
    from tests.integration.monitoring.conftest import AUTH

    sensors = template["sensors"]
    land(engine, sensors, T0, hours=26, seed=3)
    truth = Leak(rate_kg_h=3.0, source_xyz=(10.0, 2.0, 1.0), start=T0 + timedelta(hours=26))
    land(engine, sensors, T0 + timedelta(hours=26), hours=1, leak=truth, seed=4)
    assert [e["level"] for e in detect(engine)["events"]] == ["critical"]
    api = "/api/v1/monitoring"
    listed = client.get(f"{api}/events", params={"template_id": template["id"]}).json()["data"]
    event = listed[0]
    assert event["state"] == "open" and event["leak"]["rate_kg_h"] == pytest.approx(3, rel=0.2)
    assert client.get(f"{api}/templates/{template['id']}/leak").json() == event["leak"]
    act = lambda action, **body: client.post(  # noqa: E731
        f"{api}/events/{event['id']}/{action}", json={"by": "ops", **body}, headers=AUTH
    )
    assert act("comment", text="divers on their way").json()["state"] == "open"
    assert act("acknowledge").json()["state"] == "acknowledged"
    resolved = act("resolve", text="valve closed").json()
    assert resolved["state"] == "resolved"
    assert [(a["action"], a["by"]) for a in resolved["actions"]] == [
        ("comment", "ops"),
        ("acknowledge", "ops"),
        ("resolve", "ops"),
    ]
    again = act("acknowledge")
    assert again.status_code == 409 and again.json()["error"]["details"]["field"] == "action"
    assert act("comment").status_code == 400  # a comment needs text
    nearest = sensors[1]  # at (11, 1, 5), the nearest to the source
    deviations = client.get(f"{api}/sensors/{nearest}/deviations").json()["data"]
    assert [d["level"] for d in deviations][-1] == "critical"
    what_if = client.post(f"{api}/templates/{template['id']}/simulate", json={
        "rate_kg_h": 3.0, "x_m": 10, "y_m": 2, "z_m": 1, "hours": 1}).json()  # fmt: skip
    by_id = {s["sensor_id"]: s for s in what_if["sensors"]}
    assert by_id[nearest]["distance_m"] == pytest.approx(np.sqrt(18), abs=1e-3)
    assert by_id[nearest]["ppmv"][-1] > by_id[sensors[2]]["ppmv"][-1]  # nearer reads more
    assert what_if["hours_since"][0] == 0 and by_id[nearest]["ppmv"][0] == 0
    outside = client.post(f"{api}/templates/{template['id']}/simulate",
                          json={"rate_kg_h": 1, "x_m": 50, "y_m": 2, "z_m": 1})  # fmt: skip
    assert outside.status_code == 400
    moved = client.put(f"{api}/sensors/{nearest}/baseline", headers=AUTH, json={
        "start": T0.isoformat(), "end": (T0 + timedelta(hours=12)).isoformat()})  # fmt: skip
    assert moved.json()["baseline"]["end"] == "2026-11-01T12:00:00Z"
    backwards = client.put(f"{api}/sensors/{nearest}/baseline", headers=AUTH, json={
        "start": T0.isoformat(), "end": T0.isoformat()})  # fmt: skip
    assert backwards.json()["error"]["details"]["field"] == "end"


def test_a_restart_rebuilds_the_fit_from_the_state_without_the_self_join(
    engine: sa.Engine, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleetlake.monitoring import detection, detector
    from fleetlake.monitoring.tables import monitoring_detector_state as state

    sensors = template["sensors"]
    land(engine, sensors, T0, hours=26, seed=3)
    assert detect(engine)["readings"] > 0
    before = {key[1]: fitted for key, fitted in detection._fitted.items()}
    with engine.connect() as connection:
        kept = dict(connection.execute(sa.select(state.c.sensor_id, state.c.state)).all())
    assert {k: v["fit"]["z_spread"] for k, v in kept.items()} == {
        s: before[s].baseline.z_spread for s in sensors
    }
    monkeypatch.setattr(detection, "_fitted", {})  # a new process: nothing in memory
    monkeypatch.setattr(detection, "_scorers", {})

    def no_self_join(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the baseline was fitted again")

    monkeypatch.setattr(detector, "self_join", no_self_join)
    land(engine, sensors, T0 + timedelta(hours=26), hours=1, seed=4)
    assert detect(engine)["readings"] == 4 * 60
    for key, fitted in detection._fitted.items():
        was = before[key[1]]
        assert fitted.baseline.stats() == was.baseline.stats()
        assert fitted.background_ppmv == was.background_ppmv
        assert np.array_equal(fitted.baseline.reference.values, was.baseline.reference.values)
    monkeypatch.setattr(detection, "_fitted", {})
    monkeypatch.setenv("FLEETLAKE_MONITORING_DESPIKE_READINGS", "3")  # another fit's settings
    from fleetlake.settings import get_settings

    get_settings.cache_clear()
    land(engine, sensors, T0 + timedelta(hours=27), hours=1, seed=5)
    with pytest.raises(AssertionError, match="fitted again"):
        detect(engine)
