"""The lot's plan in the database: replanned under the lot row's lock, one writer at a time.

A replan starts from the stored plan (one blob, `lot_plan.LotPlan`) and reads only the session
rows changed since (`pending`: new, updated, fitted or gone). A car carried over continues
from where the plan has it now, so its charge is continuous across replans; a car with a new
measurement starts from it, at its full power since the measurement was taken.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.charging import model, planner
from fleetlake.charging.lot_plan import CURVE, INPUTS, LotPlan
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.snapshot import TARGET_TOLERANCE_PCT, curve_for, epoch, iso, state_at
from fleetlake.charging.tables import charging_lot, charging_plan, charging_sessions

MOVED_S, MOVED_FRACTION = 60.0, 0.1  # a ready time moving by less than both is not news
# engine → the plan last read through it, good while the lot row holds its key
_READ: weakref.WeakKeyDictionary[Engine, LotPlan] = weakref.WeakKeyDictionary()
_LOADING = threading.Lock()


@dataclass
class Replanned:
    version: int
    plan: LotPlan
    blob: bytes = b""  # the plan as stored, for Redis
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


def stored_plan(connection: Connection) -> LotPlan | None:
    """The lot's stored plan (None before the first), read once per process and plan: the
    first reader of a new plan decodes it, the ones arriving meanwhile wait and share it."""
    key = connection.execute(sa.select(charging_lot.c.plan_key)).scalar_one()
    if key is None:
        return None
    cached = _cached(connection.engine, key)
    if cached is not None:
        return cached
    with _LOADING:
        cached = _cached(connection.engine, key)
        if cached is not None:
            return cached
        key, version, blob = read_stored(connection)
        found = LotPlan.from_bytes(blob, version=int(version))
        found.key = key
        _READ[connection.engine] = found
        return found


def _cached(engine: Engine, key: str) -> LotPlan | None:
    """The plan this process last read through `engine`, if it is still the stored one."""
    cached = _READ.get(engine)
    return cached if cached is not None and cached.key == key else None


STORED = "SELECT plan_key, plan_version, plan FROM charging_lot, charging_plan"


def read_stored(connection: Connection) -> tuple[str, int, bytes]:
    """The stored plan's key, version and blob, in one statement so the three agree."""
    if connection.dialect.name == "postgresql":  # a binary result: bytea not sent as hex text
        driver: Any = connection.connection.driver_connection
        with driver.cursor(binary=True) as cursor:
            key, version, blob = cursor.execute(STORED).fetchone()
        return key, int(version), bytes(blob)
    key, version, blob = connection.exec_driver_sql(STORED).one()
    return key, int(version), bytes(blob)


def current_plan(connection: Connection, *, settings: ChargingSettings, now: datetime) -> LotPlan:
    """The plan readers follow; made in memory from the rows if none is stored yet (a database
    upgraded with cars parked, before their first replan)."""
    found = stored_plan(connection)
    if found is not None:
        return found
    made = plan_from(connection, LotPlan.empty(), settings=settings, now=now, version=0)[0]
    made.key = uuid.uuid4().hex
    return made


def soc_now(
    connection: Connection, session: dict[str, Any], *, settings: ChargingSettings, now: datetime
) -> float:
    """A parked session's state of charge now: along the plan, or since its measurement."""
    plan = current_plan(connection, settings=settings, now=now)
    i = plan.find(session["plate"])
    if i is not None and int(plan.session_id[i]) == session["id"]:
        return state_at(plan.snapshot(i), now.timestamp())[0]
    one = {
        name: np.array([value]) for name, value in row_inputs(session, settings=settings).items()
    }
    return float(soc_since(one, now_s=now.timestamp())[0])


def any_parked(connection: Connection) -> bool:
    query = sa.select(charging_sessions.c.id).where(charging_sessions.c.parked).limit(1)
    return connection.execute(query).first() is not None


def replan(
    connection: Connection, *, settings: ChargingSettings, now: datetime, version: int | None = None
) -> Replanned:
    """Plan every parked car from `now` and store it; call inside a transaction. A writer
    that changes sessions first takes the lot's lock (`lock_lot`, its `version`) before
    touching any row: two writers taking row locks in different orders deadlock."""
    version = lock_lot(connection) if version is None else version
    before = stored_plan(connection) or LotPlan.empty()
    after, planner_ms, load = plan_from(
        connection, before, settings=settings, now=now, version=version
    )
    after.key = uuid.uuid4().hex
    lot_row = charging_lot.update().where(charging_lot.c.id == 1)
    connection.execute(lot_row.values(planned_at=now, load=load, plan_key=after.key))
    blob = after.to_bytes()
    connection.execute(charging_plan.update().values(plan=blob))
    pending = charging_sessions.update().where(charging_sessions.c.pending)
    connection.execute(pending.values(pending=False))
    _READ[connection.engine] = after  # its key is new: never stale
    return Replanned(version, after, blob, changed=moved(before, after), planner_ms=planner_ms)


def plan_from(
    connection: Connection,
    before: LotPlan,
    *,
    settings: ChargingSettings,
    now: datetime,
    version: int,
) -> tuple[LotPlan, float, list[list[float]]]:
    """The lot planned from `now`: `before`'s cars with the pending rows' changes; the
    planner's time (ms) and the lot's planned draw."""
    now_s = now.timestamp()
    rows = [dict(r) for r in connection.execute(
        sa.select(charging_sessions).where(charging_sessions.c.pending)).mappings()]  # fmt: skip
    parked = parked_now(before, rows, settings=settings, now_s=now_s)
    return planned_lot(parked, settings=settings, now_s=now_s, version=version)


@dataclass
class Parked:
    """Every parked car, first plugged first: session id, plate, inputs (lot_plan.INPUTS),
    state of charge now and the ready time it had (nan: none)."""

    ids: np.ndarray
    plates: list[str]
    cars: dict[str, np.ndarray]
    soc: np.ndarray
    ready_before: np.ndarray


def planned_lot(
    parked: Parked, *, settings: ChargingSettings, now_s: float, version: int
) -> tuple[LotPlan, float, list[list[float]]]:
    """The lot's plan from `now_s` over these cars; the planner's time (ms) and the lot's
    planned draw [[Unix s, kW], …]."""
    cars, soc = dict(parked.cars), parked.soc
    lot = planner.Lot(
        soc_pct=soc, target_pct=cars["desired_pct"],
        **{name: cars[name] for name in CURVE},
        deadline_h=np.where(np.isnan(cars["departure_s"]), np.inf,
                            (cars["departure_s"] - now_s) / 3600),
        order=cars["plugged_at_s"],
    )  # fmt: skip
    started = time.perf_counter()
    plan = planner.plan_lot(
        lot, site_limit_kw=settings.site_limit_kw, min_power_kw=settings.min_power_kw
    )
    planner_ms = (time.perf_counter() - started) * 1000
    segments = plan.segments.rows.copy()
    segments[:, :2] = now_s + segments[:, :2] * 3600  # hours from now → Unix seconds
    ready_s = ready_times(soc, cars["desired_pct"], parked.ready_before, plan, now_s=now_s)
    cars |= {"soc_pct": soc, "end_soc_pct": plan.end_soc_pct, "ready_s": ready_s}
    after = LotPlan(version, now_s, parked.ids, parked.plates, cars,
                    plan.reaches_target.astype(bool), segments,
                    plan.segments.offsets.astype(np.int64),
                    site_limit_kw=settings.site_limit_kw)  # fmt: skip
    return after, planner_ms, [[now_s + h * 3600, round(kw, 3)] for h, kw in plan.load]


def parked_now(
    before: LotPlan, rows: list[dict[str, Any]], *, settings: ChargingSettings, now_s: float
) -> Parked:
    """`before`'s unchanged cars and the parked pending rows."""
    changed = np.array([r["id"] for r in rows], dtype=np.int64)
    keep = ~np.isin(before.session_id, changed)
    soc_before = before.soc_at(now_s)
    where = {int(sid): i for i, sid in enumerate(before.session_id.tolist())}
    parked = [r for r in rows if r["parked"]]
    inputs = [row_inputs(row, settings=settings) for row in parked]
    fresh = {name: np.array([one[name] for one in inputs], dtype=float) for name in INPUTS}
    soc = soc_since(fresh, now_s=now_s)
    ready = np.full(len(parked), np.nan)
    for k, row in enumerate(parked):  # a row without a new measurement continues its plan
        i = where.get(int(row["id"]))
        if i is not None and before.cars["measured_at_s"][i] == fresh["measured_at_s"][k]:
            soc[k], ready[k] = soc_before[i], before.cars["ready_s"][i]
    still = np.array([r["parked"] for r in rows], dtype=bool)
    ids = np.concatenate((before.session_id[keep], changed[still])).astype(np.int64)
    plates = [p for p, kept in zip(before.plates, keep.tolist(), strict=True) if kept]
    plates += [r["plate"] for r in parked]
    cars = {name: np.concatenate((before.cars[name][keep], fresh[name])) for name in INPUTS}
    soc = np.concatenate((soc_before[keep], soc))
    ready = np.concatenate((before.cars["ready_s"][keep], ready))
    order = np.lexsort((ids, cars["plugged_at_s"]))
    cars = {name: values[order] for name, values in cars.items()}
    return Parked(ids[order], [plates[i] for i in order], cars, soc[order], ready[order])


def row_inputs(row: dict[str, Any], *, settings: ChargingSettings) -> dict[str, float]:
    """A session row as the planner's inputs (lot_plan.INPUTS): its curve, target and times."""
    fit = (row["fit_power_kw"], row["fit_taper_start_pct"], row["fit_taper_end_pct"])
    curve = curve_for(capacity_kwh=row["capacity_kwh"], max_power_kw=row["max_power_kw"],
                      settings=settings, fit=fit)  # fmt: skip
    departure = epoch(row["departure"])
    return curve | {
        "desired_pct": row["desired_pct"],
        "departure_s": np.nan if departure is None else departure,
        "plugged_at_s": row["plugged_at"].timestamp(),
        "measured_kwh": row["charge_kwh"],
        "measured_at_s": row["charge_at"].timestamp(),
    }


def soc_since(cars: dict[str, np.ndarray], *, now_s: float) -> np.ndarray:
    """Where cars last measured at `measured_at_s` are now: at full power since (until their
    departure), never past their target nor below the measurement."""
    soc = 100.0 * cars["measured_kwh"] / cars["capacity_kwh"]  # capacity > 0: checked on import
    until = np.fmin(now_s, cars["departure_s"])  # fmin: a nan departure is none
    hours = np.clip(until - cars["measured_at_s"], 0.0, None) / 3600.0
    curve = {name: cars[name] for name in CURVE}
    charged = model.soc_after(soc, hours, cap_kw=cars["power_kw"], **curve)
    now: np.ndarray = np.maximum(soc, np.minimum(charged, np.maximum(soc, cars["desired_pct"])))
    return now


def ready_times(
    soc: np.ndarray,
    desired: np.ndarray,
    ready_before: np.ndarray,
    plan: planner.Plan,
    *,
    now_s: float,
) -> np.ndarray:
    """A car at its target keeps the ready time it had (ready stays ready); the others get
    the plan's (nan: not by its departure)."""
    at_target = (ready_before <= now_s) | (soc >= desired - TARGET_TOLERANCE_PCT)
    ready = np.where(at_target, ready_before, np.nan)
    fill = np.isnan(ready) & ~np.isnan(plan.ready_h)
    ready[fill] = now_s + plan.ready_h[fill] * 3600
    return ready


def moved(before: LotPlan, after: LotPlan) -> list[dict[str, Any]]:
    """The cars in both plans whose reachability changed or whose ready time moved by a
    minute or a tenth of the time left, whichever is more: what `vehicle.plan_changed` tells
    (a time a day out shifting by minutes is not news)."""
    if not len(before):
        return []
    order = np.argsort(before.session_id)
    found = np.searchsorted(before.session_id, after.session_id, sorter=order)
    was_i = order[np.minimum(found, len(order) - 1)]
    now_i = np.flatnonzero(before.session_id[was_i] == after.session_id)
    was_i = was_i[now_i]
    ready, was = after.cars["ready_s"][now_i], before.cars["ready_s"][was_i]
    reaches, reached = after.reaches_target[now_i], before.reaches_target[was_i]
    left_s = np.fmin(ready, was) - after.planned_at_s
    with np.errstate(invalid="ignore"):
        news = np.maximum(MOVED_S, MOVED_FRACTION * left_s)
        shifted = (np.isnan(ready) != np.isnan(was)) | (np.abs(ready - was) >= news)
    changed = np.flatnonzero(shifted | (reaches != reached))
    cars = after.cars
    return [{"plate": after.plates[now_i[k]],
             "ready_at_before": iso(_or_none(was[k])), "ready_at": iso(_or_none(ready[k])),
             "reaches_target": bool(reaches[k]),
             "end_charge_kwh": round(float(cars["end_soc_pct"][now_i[k]]
                                           * cars["capacity_kwh"][now_i[k]] / 100), 3)}
            for k in changed.tolist()]  # fmt: skip


def _or_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
