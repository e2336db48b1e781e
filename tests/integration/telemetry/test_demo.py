"""The demo's telemetry part: a simulated fleet through every real job, ready to serve."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fleetlake.platform.jobs import list_jobs
from fleetlake.telemetry.cli import demo_telemetry
from fleetlake.telemetry.models import vehicle_state


def test_demo_fleet_reaches_gold_and_a_second_run_adds_nothing(
    engine: sa.Engine, settings: Any
) -> None:
    demo_telemetry(engine, settings=settings, vehicles=3)
    with engine.connect() as connection:
        kinds = [(j["kind"], j["state"]) for j in list_jobs(connection)]
        served = connection.execute(sa.select(sa.func.count()).select_from(vehicle_state))
        assert served.scalar_one() == 3
    assert kinds == [("telemetry.pipeline", "succeeded"), ("telemetry.compact", "succeeded"),
                     ("telemetry.ingest", "succeeded")]  # fmt: skip
    demo_telemetry(engine, settings=settings, vehicles=3)
    with engine.connect() as connection:
        [again] = [j for j in list_jobs(connection, kind="telemetry.ingest")][:1]
    assert {r["status"] for r in again["results"]} == {"already ingested"}
