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
POSITIONS = np.array([[1.0, 1.0, 1.0], [11.0, 1.0, 1.0], [1.0, 9.0, 5.0], [11.0, 9.0, 5.0]])
GEOMETRY = Geometry(800, 12, 10, 6, porosity=(0.3,), wall_area_m2=(500,))


@pytest.fixture
def template(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from fleetlake.monitoring import catalog
    from fleetlake.settings import get_settings

    monkeypatch.setattr(get_settings().monitoring, "baseline_days", 1.0)
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
