"""Read-only views of the lot: session history, the lot's plan, the compat shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fleetlake.charging.plan import current_plan
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.snapshot import epoch, iso, status_at
from fleetlake.charging.tables import charging_lot, charging_quarantine, charging_sessions


def session_row(row: Any) -> dict[str, Any]:
    end = row["unplugged_at"]
    return {
        "id": row["id"],
        "plate": row["plate"],
        "parked": row["parked"],
        "total_charge_kwh": row["capacity_kwh"],
        "start_charge_kwh": row["start_charge_kwh"],
        "desired_pct": row["desired_pct"],
        "plugged_at": iso(epoch(row["plugged_at"])),
        "unplugged_at": iso(epoch(end)),
        "departure": iso(epoch(row["departure"])),
        "final_charge_kwh": row["final_charge_kwh"],
        "energy_delivered_kwh": row["energy_delivered_kwh"],
        "duration_s": (end - row["plugged_at"]).total_seconds() if end else None,
    }


def list_sessions(
    connection: Connection,
    *,
    plate: str | None = None,
    parked: bool | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Sessions in id order, the closed ones kept for statistics."""
    table = charging_sessions
    query = sa.select(table).where(table.c.id > after_id).order_by(table.c.id).limit(limit)
    if plate is not None:
        query = query.where(table.c.plate == plate)
    if parked is not None:
        query = query.where(table.c.parked == parked)
    return [session_row(row) for row in connection.execute(query).mappings()]


def lot_plan(
    connection: Connection, *, settings: ChargingSettings, now: datetime
) -> dict[str, Any]:
    """Every parked car's segments from now on, and the lot's planned draw over time."""
    lot = connection.execute(sa.select(charging_lot)).mappings().one()
    vehicles: list[dict[str, Any]] = []
    now_s = now.timestamp()
    plan = current_plan(connection, settings=settings, now=now)
    for snapshot in plan.snapshots():
        segments = [s for s in snapshot["segments"] if s[1] > now_s and s[2] > 0]
        status = status_at(snapshot, now_s)
        vehicles.append({
            "plate": snapshot["plate"],
            "power_kw": status["power_kw"],
            "ready_at": status["ready_at"],
            "reaches_target": status["reaches_target"],
            "end_charge_kwh": round(snapshot["end_charge_kwh"], 3),
            "segments": [{"start": iso(max(s, now_s)), "end": iso(e), "power_kw": round(c, 3)}
                         for s, e, c, _ in segments],
        })  # fmt: skip
    return {
        "site_limit_kw": plan.site_limit_kw,  # the plan's: a new setting applies at a replan
        "settings_site_limit_kw": settings.site_limit_kw,
        "planned_at": iso(epoch(lot["planned_at"])),
        "version": int(lot["plan_version"]),
        "power_now_kw": round(sum(v["power_kw"] for v in vehicles), 3),
        "vehicles": vehicles,
        "load": load_from(lot["load"] or [], now_s=now_s),
    }


def load_from(load: list[list[float]], *, now_s: float) -> list[dict[str, Any]]:
    """The plan's draw from now on: the level in force now, then each change."""
    current = [point for point in load if point[0] <= now_s][-1:]
    upcoming = [point for point in load if point[0] > now_s]
    return [{"at": iso(max(at, now_s)), "power_kw": kw} for at, kw in current + upcoming]


def compat_vehicle(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "vehicle": status["plate"],
        "current_charge": status["current_charge_kwh"],
        "total_charge": status["total_charge_kwh"],
        "desired_percentage": status["desired_pct"],
        "ready_at": status["ready_at"],
    }


def compat_status(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "vehicle": status["plate"],
        "ready": status["ready"],
        "ready_at": status["ready_at"],
        "current_charge": status["current_charge_kwh"],
    }


def list_quarantine(
    connection: Connection, *, job_id: int, after_id: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    table = charging_quarantine
    query = (
        sa.select(table)
        .where(table.c.job_id == job_id, table.c.id > after_id)
        .order_by(table.c.id)
        .limit(limit)
    )
    return [
        {"id": r["id"], "source": r["source"], "line": r["line"], "raw": r["raw"],
         "reason": r["reason"]}
        for r in connection.execute(query).mappings()
    ]  # fmt: skip
