"""Two writers at once on PostgreSQL (as two server processes would be): imports and
departures interleave under the lot's lock, and the plan in the end holds every car once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from fleetlake.charging.parse import ParkedCar
from fleetlake.charging.plan import stored_plan
from fleetlake.charging.service import import_cars, remove_vehicle
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.tables import charging_lot, charging_sessions


def test_concurrent_imports_and_departures_never_conflict(pg_url: str) -> None:
    from fleetlake.platform.db import create_db_engine

    engines = [create_db_engine(pg_url) for _ in range(2)]  # two processes' pools
    settings = ChargingSettings(site_limit_kw=30.0)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for round_ in range(5):
                cars = [ParkedCar(plate=f"W{n}-{round_}-{i}", charge_kwh=10, capacity_kwh=60,
                                  desired_pct=80) for i in range(20)]  # fmt: skip
                import_cars(engines[n], cars=cars, settings=settings, cache=None,
                            now=datetime.now(UTC))  # fmt: skip
                remove_vehicle(engines[n], plate=f"W{n}-{round_}-0", settings=settings,
                               cache=None, now=datetime.now(UTC))  # fmt: skip
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with engines[0].connect() as connection:
        version = connection.execute(sa.select(charging_lot.c.plan_version)).scalar_one()
        rows: list[Any] = connection.execute(
            sa.select(charging_sessions.c.id, charging_sessions.c.plate, charging_sessions.c.parked,
                      charging_sessions.c.pending)
        ).all()  # fmt: skip
        plan = stored_plan(connection)
    assert version == 20  # every import and departure replanned once, none lost
    parked = [r for r in rows if r.parked]
    assert len(rows) == 200 and len(parked) == 190
    assert len({r.plate for r in parked}) == 190  # no plate parked twice
    # One plan for the whole lot, made by the last writer: every parked car in it once
    assert plan is not None and plan.version == version
    assert sorted(plan.session_id.tolist()) == sorted(r.id for r in parked)
    assert sorted(plan.plates) == sorted(r.plate for r in parked)
    assert not any(r.pending for r in rows)
    for engine in engines:
        engine.dispose()
