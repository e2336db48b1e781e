"""Readings into the lot: checked against the session and the ones before, kept with their
reason, fitted into the car's curve, and the lot replanned with what the car really takes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.charging.cache import LotCache
from fleetlake.charging.plan import lock_lot, replan
from fleetlake.charging.readings import Fit, Reading, check, fit_curve
from fleetlake.charging.service import parked_session, publish
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.snapshot import curve_for, epoch, iso, status_at
from fleetlake.charging.tables import charging_readings, charging_sessions


def add_readings(
    engine: Engine,
    *,
    plate: str,
    readings: list[Reading],
    settings: ChargingSettings,
    cache: LotCache | None,
    now: datetime,
) -> dict[str, Any]:
    with engine.begin() as connection:
        version = lock_lot(connection)
        session = parked_session(connection, plate=plate)
        start_soc = 100.0 * session["start_charge_kwh"] / session["capacity_kwh"]
        accepted = accepted_readings(connection, session_id=session["id"])
        refused: list[dict[str, Any]] = []
        rows = []
        for index, reading in enumerate(sorted(readings, key=lambda r: r.ts)):
            reason = check(reading, previous=accepted[-1] if accepted else None,
                           plugged_at=session["plugged_at"], now=now, start_soc_pct=start_soc,
                           capacity_kwh=session["capacity_kwh"], efficiency=settings.efficiency,
                           charger_kw=settings.power_kw)  # fmt: skip
            rows.append({"session_id": session["id"], "ts": reading.ts,
                         "energy_kwh": reading.energy_kwh, "soc_pct": reading.soc_pct,
                         "power_kw": reading.power_kw, "accepted": reason is None,
                         "reason": reason, "created_at": now})  # fmt: skip
            if reason is None:
                accepted.append(reading)
            else:
                refused.append({"index": index, "reason": reason})
        if rows:
            connection.execute(charging_readings.insert(), rows)
        fit = fit_curve(accepted, capacity_kwh=session["capacity_kwh"], start_soc_pct=start_soc,
                        efficiency=settings.efficiency)  # fmt: skip
        connection.execute(
            charging_sessions.update()
            .where(charging_sessions.c.id == session["id"])
            .values(**corrected(session, accepted, fit, start_soc=start_soc, settings=settings))
        )
        outcome = replan(connection, settings=settings, now=now, version=version)
    publish(engine, outcome, cache=cache)
    i = outcome.plan.find(plate)
    assert i is not None, "a parked plate is in its lot's plan"
    snapshot = outcome.plan.snapshot(i)
    return {"accepted": len(rows) - len(refused), "rejected": refused,
            "fit": fit.as_dict() if fit else None,
            "vehicle": status_at(snapshot, now.timestamp())}  # fmt: skip


def corrected(
    session: dict[str, Any],
    accepted: list[Reading],
    fit: Fit | None,
    *,
    start_soc: float,
    settings: ChargingSettings,
) -> dict[str, Any]:
    """The session's fitted curve, and its charge at the last reading that says it."""
    values: dict[str, Any] = {}
    if fit is not None:
        values |= {"fit_power_kw": fit.power_kw, "fit_taper_start_pct": fit.taper_start_pct,
                   "fit_taper_end_pct": fit.taper_end_power_pct}  # fmt: skip
    known = [r for r in accepted if r.soc_pct is not None or r.energy_kwh is not None]
    if known:
        last = known[-1]
        soc = last.soc_pct
        if soc is None:
            assert last.energy_kwh is not None
            soc = (
                start_soc + 100.0 * last.energy_kwh * settings.efficiency / session["capacity_kwh"]
            )
        values |= {"charge_kwh": min(100.0, soc) * session["capacity_kwh"] / 100.0,
                   "charge_at": last.ts}  # fmt: skip
    return values | {"pending": True}


def accepted_readings(connection: Connection, *, session_id: int) -> list[Reading]:
    table = charging_readings
    query = (
        sa.select(table.c.ts, table.c.energy_kwh, table.c.soc_pct, table.c.power_kw)
        .where(table.c.session_id == session_id, table.c.accepted)
        .order_by(table.c.ts)
    )
    return [Reading(*row) for row in connection.execute(query)]


def list_readings(
    connection: Connection, *, plate: str, settings: ChargingSettings
) -> dict[str, Any]:
    session = parked_session(connection, plate=plate)
    table = charging_readings
    query = sa.select(table).where(table.c.session_id == session["id"]).order_by(table.c.id)
    rows = [{"ts": iso(epoch(r["ts"])), "energy_kwh": r["energy_kwh"], "soc_pct": r["soc_pct"],
             "power_kw": r["power_kw"], "accepted": r["accepted"], "reason": r["reason"]}
            for r in connection.execute(query).mappings()]  # fmt: skip
    fitted_as = (session["fit_power_kw"], session["fit_taper_start_pct"],
                 session["fit_taper_end_pct"])  # fmt: skip
    curve = curve_for(capacity_kwh=session["capacity_kwh"], max_power_kw=session["max_power_kw"],
                      settings=settings, fit=fitted_as)  # fmt: skip
    fitted = session["fit_power_kw"] is not None
    end = session["fit_taper_end_pct"] if fitted else settings.taper_end_power_pct
    fit = {"fitted": fitted, "power_kw": curve["power_kw"],
           "taper_start_pct": curve["taper_start_pct"], "taper_end_power_pct": end}  # fmt: skip
    return {"plate": plate, "data": rows, "fit": fit}
