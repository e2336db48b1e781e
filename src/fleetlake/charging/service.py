"""The charging lot's service layer: what the API, the CLI and jobs call.

Writes (import, removal) change sessions and replan the lot in one transaction, then refresh
Redis and push the lot's events. Reads follow each car's stored plan to the moment asked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.charging import events
from fleetlake.charging.cache import MISSING, LotCache
from fleetlake.charging.lot_plan import LotPlan
from fleetlake.charging.parse import ParkedCar
from fleetlake.charging.plan import Replanned, current_plan, hold_lot, lock_lot, replan, soc_now
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.snapshot import status_at
from fleetlake.charging.tables import charging_sessions
from fleetlake.errors import NotFound

log = logging.getLogger(__name__)
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ: a plug-in this far ahead is still now


def now_utc() -> datetime:
    return datetime.now(UTC)


def import_cars(
    engine: Engine,
    *,
    cars: list[ParkedCar],
    settings: ChargingSettings,
    cache: LotCache | None,
    now: datetime,
    job_id: int | None = None,
) -> dict[str, Any]:
    """Park new plates and update parked ones (plug-in time kept); replan; push the news."""
    with engine.begin() as connection:
        version = lock_lot(connection)
        parked = parked_plates(connection)
        created, updated = [], []
        for car in cars:
            if car.plate in parked:
                values = update_values(parked[car.plate], car, now=now, settings=settings)
                connection.execute(
                    charging_sessions.update()
                    .where(charging_sessions.c.id == parked[car.plate]["id"])
                    .values(**values)
                )
                updated.append(car.plate)
            else:
                row = new_session(car, now=now, job_id=job_id)
                connection.execute(charging_sessions.insert().values(**row))
                parked[car.plate] = row | {"id": None}
                created.append(car.plate)
        outcome = replan(connection, settings=settings, now=now, version=version)
    publish(engine, outcome, cache=cache)
    return {"created": len(created), "updated": len(updated), "updated_plates": updated[:100],
            "planner_ms": round(outcome.planner_ms, 1)}  # fmt: skip


def new_session(car: ParkedCar, *, now: datetime, job_id: int | None) -> dict[str, Any]:
    plugged = min(car.plugged_at or now, now)
    return {
        "plate": car.plate,
        "parked": True,
        "capacity_kwh": car.capacity_kwh,
        "start_charge_kwh": car.charge_kwh,
        "charge_kwh": car.charge_kwh,
        "charge_at": plugged,
        "desired_pct": car.desired_pct,
        "max_power_kw": car.max_power_kw,
        "departure": car.departure,
        "plugged_at": plugged,
        "job_id": job_id,
        "updated_at": now,
        "pending": True,
    }


def update_values(
    session: dict[str, Any], car: ParkedCar, *, now: datetime, settings: ChargingSettings
) -> dict[str, Any]:
    """A re-imported plate: its measured charge now, new target and limits; plug-in kept."""
    return {
        "capacity_kwh": car.capacity_kwh,
        "charge_kwh": car.charge_kwh,
        "charge_at": now,
        "desired_pct": car.desired_pct,
        "max_power_kw": car.max_power_kw,
        "departure": car.departure,
        "ready_notified": session["ready_notified"]
        and car.charge_kwh >= car.capacity_kwh * car.desired_pct / 100,
        "updated_at": now,
        "pending": True,  # the measurement replaces where the old plan had the car
    }


def remove_vehicle(
    engine: Engine,
    *,
    plate: str,
    settings: ChargingSettings,
    cache: LotCache | None,
    now: datetime,
) -> dict[str, Any]:
    """The car leaves: its session is closed with the energy delivered, the rest replanned."""
    with engine.begin() as connection:
        version = lock_lot(connection)
        session = parked_session(connection, plate=plate)
        soc = soc_now(connection, session, settings=settings, now=now)
        final = round(soc * session["capacity_kwh"] / 100.0, 3)
        connection.execute(
            charging_sessions.update()
            .where(charging_sessions.c.id == session["id"])
            .values(
                parked=False, unplugged_at=now, final_charge_kwh=final, charge_kwh=final,
                charge_at=now, energy_delivered_kwh=round(final - session["start_charge_kwh"], 3),
                pending=True, updated_at=now,
            )
        )  # fmt: skip
        outcome = replan(connection, settings=settings, now=now, version=version)
    events.emit(engine, "vehicle.departed", {"plate": plate, "current_charge_kwh": final,
                "energy_delivered_kwh": round(final - session["start_charge_kwh"], 3)})  # fmt: skip
    publish(engine, outcome, cache=cache)
    return {"vehicle": plate, "current_charge": final}


def replan_lot(
    engine: Engine, *, settings: ChargingSettings, cache: LotCache | None, now: datetime
) -> Replanned:
    """Plan the lot again now, as it stands (after a change of the site limit, say)."""
    with engine.begin() as connection:
        outcome = replan(connection, settings=settings, now=now)
    publish(engine, outcome, cache=cache)
    return outcome


def publish(engine: Engine, outcome: Replanned, *, cache: LotCache | None) -> None:
    if cache is not None:
        try:
            cache.store(outcome.blob, key=outcome.plan.key, version=outcome.version)
        except Exception:  # the database holds the plan; reads rebuild Redis when it is back
            log.warning("could not refresh the lot in Redis", exc_info=True)
    events.emit_all(engine, "vehicle.plan_changed", outcome.changed)
    events.wake_clock()


def parked_session(connection: Connection, *, plate: str) -> dict[str, Any]:
    query = sa.select(charging_sessions).where(
        charging_sessions.c.plate == plate, charging_sessions.c.parked
    )
    row = connection.execute(query).mappings().first()
    if row is None:
        raise not_parked(plate)
    return dict(row)


def parked_plates(connection: Connection) -> dict[str, dict[str, Any]]:
    """Each parked plate's session id and whether its readiness was told."""
    table = charging_sessions
    query = sa.select(table.c.plate, table.c.id, table.c.ready_notified).where(table.c.parked)
    return {row["plate"]: dict(row) for row in connection.execute(query).mappings()}


def not_parked(plate: str) -> NotFound:
    return NotFound(
        f"vehicle {plate[:40]!r} is not parked here: list the lot with `fleetlake charging status`",
        field="plate",
    )


def plan_now(engine: Engine, *, settings: ChargingSettings, cache: LotCache | None) -> LotPlan:
    """The lot's plan: from Redis when there is one (rebuilt if empty), else the database."""
    if cache is not None:
        try:
            found = cache.plan()
            if found is MISSING:
                cache.rebuild(engine, settings=settings)
                found = cache.plan()
            if isinstance(found, LotPlan):
                return found
        except Exception:  # Redis is down: the database answers the same
            log.warning("Redis unavailable; reading the lot from the database", exc_info=True)
    with engine.connect() as connection:
        return current_plan(connection, settings=settings, now=now_utc())


def snapshot_in(plan: LotPlan, plate: str) -> dict[str, Any]:
    i = plan.find(plate)
    if i is None:
        raise not_parked(plate)
    return plan.snapshot(i)


async def vehicle_status_now(
    engine: Engine,
    *,
    plate: str,
    settings: ChargingSettings,
    cache: LotCache | None,
    reads: Callable[[Callable[[Connection], dict[str, Any]]], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """`vehicle_status` for the API's hot path: Redis read on the event loop, no thread hop;
    without Redis one hop on the server's read threads (`reads`, few threads sharing a
    pool: 40 threads opened and closed overflow connections under load, 2 s tails on
    PostgreSQL); a Redis rebuild on a worker thread."""
    import anyio.to_thread

    if cache is None:
        return await reads(partial(status_in, plate=plate, settings=settings))
    try:
        found = await cache.aplan()
    except Exception:  # Redis is down: the thread below answers from the database
        found = MISSING
    if isinstance(found, LotPlan):
        return status_at(snapshot_in(found, plate), time.time())
    read = partial(vehicle_status, engine, plate=plate, settings=settings, cache=cache)
    return await anyio.to_thread.run_sync(lambda: read(now=now_utc()))


def status_in(connection: Connection, *, plate: str, settings: ChargingSettings) -> dict[str, Any]:
    """A car's status from the database's plan."""
    plan = current_plan(connection, settings=settings, now=now_utc())
    return status_at(snapshot_in(plan, plate), time.time())


def vehicle_status(
    engine: Engine, *, plate: str, settings: ChargingSettings, cache: LotCache | None, now: datetime
) -> dict[str, Any]:
    plan = plan_now(engine, settings=settings, cache=cache)
    return status_at(snapshot_in(plan, plate), now.timestamp())


def list_vehicles(
    connection: Connection,
    *,
    settings: ChargingSettings,
    now: datetime,
    ready: bool | None = None,
    charging: bool | None = None,
) -> list[dict[str, Any]]:
    plan = current_plan(connection, settings=settings, now=now)
    found = [status_at(plan.snapshot(i), now.timestamp()) for i in range(len(plan))]
    if ready is not None:
        found = [v for v in found if v["ready"] == ready]
    if charging is not None:
        found = [v for v in found if (v["power_kw"] > 0) == charging]
    return found


def ready_vehicles(engine: Engine, *, settings: ChargingSettings, now: datetime) -> list[Any]:
    """Cars at their desired charge (compat `GET /data`), their stored charge brought up to date."""
    with engine.begin() as connection:
        hold_lot(connection)  # rows are written in a replan's order only under its lock
        ready = list_vehicles(connection, settings=settings, now=now, ready=True)
        if ready:
            connection.execute(
                charging_sessions.update()
                .where(charging_sessions.c.plate == sa.bindparam("p"), charging_sessions.c.parked)
                .values(charge_kwh=sa.bindparam("c"), charge_at=now, updated_at=now),
                [{"p": v["plate"], "c": v["current_charge_kwh"]} for v in ready],
            )
    return ready
