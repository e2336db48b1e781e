"""A database with cars parked under the per-row plans of revision 0008, upgraded to the
lot's one-blob plan: readers answer before the first replan, and the first replan stores it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleetlake.charging.model import ChargeCurve
from fleetlake.charging.plan import current_plan, replan, stored_plan
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.snapshot import state_at
from fleetlake.charging.tables import charging_sessions
from fleetlake.platform.db import create_db_engine, upgrade
from tests.conftest import PG_URL, postgres_available, require_service

PLUGGED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
OLD_ROW = """INSERT INTO charging_sessions (plate, parked, capacity_kwh, start_charge_kwh,
 charge_kwh, charge_at, desired_pct, plugged_at, plan, planned_at, ready_at, reaches_target,
 ready_notified, updated_at) VALUES (:plate, :parked, 60, 12, 12, :at, 80, :at, '[]', :at, :at,
 true, false, :at)"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    problem = postgres_available()
    if problem:
        require_service("PostgreSQL", problem)
    admin = sa.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA IF EXISTS t_plan_upgrade CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA t_plan_upgrade"))
    yield f"{PG_URL}?options=-csearch_path%3Dt_plan_upgrade"
    with admin.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA t_plan_upgrade CASCADE"))
    admin.dispose()


def test_cars_parked_before_the_upgrade_are_planned_after_it(unmigrated: str) -> None:
    engine = create_db_engine(unmigrated)
    upgrade(engine, "0008")
    at = PLUGGED.replace(tzinfo=None) if engine.dialect.name == "sqlite" else PLUGGED
    with engine.begin() as connection:
        for plate, parked in (("OLD-1", True), ("GONE-1", False)):
            connection.execute(sa.text(OLD_ROW), {"plate": plate, "parked": parked, "at": at})
    upgrade(engine)
    settings = ChargingSettings()
    now = datetime.now(UTC)
    # 12 of 60 kWh at 11 kW and 0.9 efficiency since an hour ago, to its 80 %, as the model says
    curve = ChargeCurve(capacity_kwh=60, power_kw=11)
    expected_soc = curve.soc_after(20.0, (now - PLUGGED).total_seconds() / 3600)
    ready_at = PLUGGED.timestamp() + curve.hours_between(20.0, 80.0) * 3600
    with engine.connect() as connection:
        assert stored_plan(connection) is None
        read = current_plan(connection, settings=settings, now=now)
    assert read.plates == ["OLD-1"]  # the departed session stays history
    assert read.cars["ready_s"][0] == pytest.approx(ready_at, abs=1e-3)
    assert state_at(read.snapshot(0), now.timestamp())[0] == pytest.approx(expected_soc)
    with engine.begin() as connection:
        outcome = replan(connection, settings=settings, now=now)
    with engine.connect() as connection:
        stored = stored_plan(connection)
        pending = connection.execute(
            sa.select(sa.func.count()).where(charging_sessions.c.pending)
        ).scalar_one()
    assert stored is not None and stored.key == outcome.plan.key and pending == 0
    assert stored.plates == ["OLD-1"]
    assert stored.cars["ready_s"][0] == pytest.approx(ready_at, abs=1e-3)
    engine.dispose()
