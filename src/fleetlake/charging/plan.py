"""The lot's plan in the database: replanned under the lot row's lock, one writer at a time.

Each replan starts from where the previous plan has every car now, so the charge is
continuous across replans; a car with no plan yet charged at its full power since plug-in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fleetlake.charging import model, planner
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.snapshot import (
    TARGET_TOLERANCE_PCT,
    epoch,
    iso,
    make_snapshot,
    state_at,
)
from fleetlake.charging.tables import charging_lot, charging_sessions

MOVED_S = 60.0  # a ready time moving by less is not news


@dataclass
class Replanned:
    version: int
    snapshots: list[dict[str, Any]]
    changed: list[dict[str, Any]] = field(default_factory=list)
    planner_ms: float = 0.0


def hold_lot(connection: Connection) -> None:
    """The lot's lock without a new plan: for a writer that only touches rows (SQLite's write
    lock is taken by the write itself)."""
    query = sa.select(charging_lot.c.id).where(charging_lot.c.id == 1)
    connection.execute(query.with_for_update())


def lock_lot(connection: Connection) -> int:
    """Take the lot's lock (a row lock on PostgreSQL, the write lock on SQLite); its version."""
    bump = charging_lot.update().where(charging_lot.c.id == 1)
    connection.execute(bump.values(plan_version=charging_lot.c.plan_version + 1))
    query = sa.select(charging_lot.c.plan_version).where(charging_lot.c.id == 1)
    return int(connection.execute(query.with_for_update()).scalar_one())


def parked_sessions(connection: Connection) -> list[dict[str, Any]]:
    query = (
        sa.select(charging_sessions)
        .where(charging_sessions.c.parked)
        .order_by(charging_sessions.c.plugged_at, charging_sessions.c.id)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def replan(
    connection: Connection, *, settings: ChargingSettings, now: datetime, version: int | None = None
) -> Replanned:
    """Plan every parked car from `now` and store it; call inside a transaction. A writer
    that changes sessions first takes the lot's lock (`lock_lot`, its `version`) before
    touching any row: two writers taking row locks in different orders deadlock."""
    version = lock_lot(connection) if version is None else version
    sessions = parked_sessions(connection)
    now_s = now.timestamp()
    before = [make_snapshot(s, settings=settings) for s in sessions]
    soc_now = np.array([soc_from(snap, now_s=now_s) for snap in before])
    lot = lot_of(sessions, before, soc_now=soc_now, now_s=now_s)
    started = time.perf_counter()
    plan = planner.plan_lot(
        lot, site_limit_kw=settings.site_limit_kw, min_power_kw=settings.min_power_kw
    )
    planner_ms = (time.perf_counter() - started) * 1000
    outcome = Replanned(version=version, snapshots=[], planner_ms=planner_ms)
    updates = []
    for i, session in enumerate(sessions):
        values = planned_values(session, plan, i, soc_pct=float(soc_now[i]), now_s=now_s, now=now)
        if moved(session, values):
            outcome.changed.append({"plate": session["plate"], **change(session, values)})
        updates.append({"row_id": session["id"], **values})
        outcome.snapshots.append(make_snapshot(session | values, settings=settings))
    if updates:
        connection.execute(
            charging_sessions.update()
            .where(charging_sessions.c.id == sa.bindparam("row_id"))
            .values({name: sa.bindparam(name) for name in updates[0] if name != "row_id"}),
            updates,
        )
    load = [[now_s + h * 3600, round(kw, 3)] for h, kw in plan.load]
    lot_row = charging_lot.update().where(charging_lot.c.id == 1)
    connection.execute(lot_row.values(planned_at=now, load=load))
    return outcome


def soc_of(session: dict[str, Any], *, now_s: float, settings: ChargingSettings) -> float:
    return soc_from(make_snapshot(session, settings=settings), now_s=now_s)


def soc_from(snapshot: dict[str, Any], *, now_s: float) -> float:
    """Where the car is now: along its plan, or at full power since its last known charge."""
    if snapshot["segments"]:
        return state_at(snapshot, now_s)[0]
    curve = snapshot["curve"]
    soc = float(100.0 * snapshot["charge_kwh"] / curve["capacity_kwh"])
    since_h = max(0.0, now_s - snapshot["charge_at"]) / 3600.0
    if snapshot["departure"] is not None:
        since_h = min(since_h, max(0.0, (snapshot["departure"] - snapshot["charge_at"]) / 3600))
    charged = model.soc_after_one(soc, since_h, cap_kw=curve["power_kw"], **curve)
    return max(soc, min(charged, max(soc, float(snapshot["desired_pct"]))))


def lot_of(
    sessions: list[dict[str, Any]],
    snapshots: list[dict[str, Any]],
    *,
    soc_now: np.ndarray,
    now_s: float,
) -> planner.Lot:
    curves = [snap["curve"] for snap in snapshots]

    def column(name: str) -> np.ndarray:
        return np.array([curve[name] for curve in curves], dtype=float)

    departures = [snap["departure"] for snap in snapshots]
    return planner.Lot(
        soc_pct=soc_now,
        target_pct=np.array([s["desired_pct"] for s in sessions], dtype=float),
        capacity_kwh=column("capacity_kwh"),
        power_kw=column("power_kw"),
        efficiency=column("efficiency"),
        taper_start_pct=column("taper_start_pct"),
        slope=column("slope"),
        deadline_h=np.array([np.inf if d is None else (d - now_s) / 3600 for d in departures]),
        order=np.array([snap["plugged_at"] for snap in snapshots], dtype=float),
    )


def planned_values(
    session: dict[str, Any],
    plan: planner.Plan,
    i: int,
    *,
    soc_pct: float,
    now_s: float,
    now: datetime,
) -> dict[str, Any]:
    capacity = session["capacity_kwh"]
    # Times to the ms, charge to a millionth of a percent: less JSON to store and read back
    segments = [
        [round(now_s + start * 3600, 3), round(now_s + end * 3600, 3), cap, round(soc, 6)]
        for start, end, cap, soc in plan.segments[i].tolist()
    ]
    ready_h = plan.ready_h[i]
    was_ready = session["ready_at"] is not None and session["ready_at"] <= now
    at_target = was_ready or soc_pct >= session["desired_pct"] - TARGET_TOLERANCE_PCT
    ready_at = session["ready_at"] if at_target else None
    if ready_at is None and not np.isnan(ready_h):
        ready_at = datetime.fromtimestamp(now_s + float(ready_h) * 3600, now.tzinfo)
    return {
        "charge_kwh": soc_pct * capacity / 100.0,
        "charge_at": now,
        "plan": segments,
        "planned_at": now,
        "ready_at": ready_at,
        "reaches_target": bool(plan.reaches_target[i]),
        "end_charge_kwh": float(plan.end_soc_pct[i]) * capacity / 100.0,
        "ready_notified": session["ready_notified"] and ready_at == session["ready_at"],
        "updated_at": now,
    }


def moved(session: dict[str, Any], values: dict[str, Any]) -> bool:
    """Whether an already planned car's ready time or reachability changed."""
    if session["planned_at"] is None:
        return False
    before, after = session["ready_at"], values["ready_at"]
    if (before is None) != (after is None) or session["reaches_target"] != values["reaches_target"]:
        return True
    return before is not None and abs((after - before).total_seconds()) >= MOVED_S


def change(session: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {
        "ready_at_before": iso(epoch(session["ready_at"])),
        "ready_at": iso(epoch(values["ready_at"])),
        "reaches_target": values["reaches_target"],
        "end_charge_kwh": round(values["end_charge_kwh"], 3),
    }
