"""The last state of each vehicle in the serving table, brought up to date from the days a
run changed, without reading the vehicle's history.

For each field the stored value stands unless a changed day could have altered it: the
changed days' latest value wins when it is later; a stored value seen on a changed day is
replaced by that day's recomputed latest when that one is not earlier (nothing of the other
days can be later than what was stored). Only when a stored value's row is gone from its day
(quarantined since, say) and the day holds no later one is the vehicle's every day reread.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.platform.db import bulk_insert
from fleetlake.platform.lake import Lake
from fleetlake.platform.query_engines import QueryEngine
from fleetlake.telemetry import gold_sql
from fleetlake.telemetry.models import vehicle_state
from fleetlake.telemetry.schema import MEASURES

GOLD = ("gold", "telemetry")
FIELDS = ("last_ts", *MEASURES)  # last_ts carries `source`, as lat carries lon
CHUNK = 500


def _at(name: str) -> str:
    return "last_ts" if name == "last_ts" else f"{name}_at"


def _values(name: str) -> tuple[str, ...]:
    return ("last_ts", "source") if name == "last_ts" else (name, f"{name}_at")


def refresh_last_state(
    lake: Lake,
    engine: QueryEngine,
    database: Engine,
    *,
    vins: list[str],
    days: list[date],
    full: bool,
) -> None:
    """Replace the serving rows of `vins` after the hourly states of `days` changed."""
    if not vins:
        return
    recent = _reduced(lake, engine, days)
    stored = {} if full else _stored(database, vins)
    changed = set(days)
    states: dict[str, dict[str, Any]] = {}
    again: list[str] = []
    for vin in vins:
        state = _combined(stored.get(vin), recent.get(vin), changed)
        if state is None:
            again.append(vin)
        elif state.get("last_ts") is not None:
            states[vin] = state
    if again:  # a stored value's row is gone: these vehicles' every day, reread
        history = _reduced(lake, engine, None)
        states |= {vin: history[vin] for vin in again if vin in history}
    _replace(database, vins, list(states.values()))


def _combined(
    stored: dict[str, Any] | None, recent: dict[str, Any] | None, changed: set[date]
) -> dict[str, Any] | None:
    """The new state from the stored one and the changed days' latest; None when a stored
    value can be neither kept nor replaced without the vehicle's other days."""
    state: dict[str, Any] = {"vin": (stored or recent or {}).get("vin")}
    for name in FIELDS:
        old_at = stored.get(_at(name)) if stored else None
        new_at = recent.get(_at(name)) if recent else None
        if old_at is not None and old_at.date() in changed and (new_at is None or new_at < old_at):
            return None
        source = recent if new_at is not None and (old_at is None or new_at >= old_at) else stored
        for column in _values(name):
            state[column] = source.get(column) if source else None
    return state


def _reduced(lake: Lake, engine: QueryEngine, days: list[date] | None) -> dict[str, dict[str, Any]]:
    """The latest of each field per vehicle over the hourly states of `days` (None: all)."""
    if days is None:
        paths = lake.list_files(*GOLD, "hourly_state")
    else:
        parts = [(*GOLD, "hourly_state", f"date={d}", "part.parquet") for d in days]
        paths = [lake.path(*p) for p in parts if lake.exists(*p)]
    if not paths:
        return {}
    rows = engine.query(gold_sql.state_reduce_sql(), views={"states": paths}).to_pylist()
    return {row["vin"]: row for row in rows}


def _stored(database: Engine, vins: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    with database.connect() as connection:
        for first in range(0, len(vins), CHUNK):
            query = sa.select(vehicle_state).where(
                vehicle_state.c.vin.in_(vins[first : first + CHUNK])
            )
            for row in connection.execute(query).mappings():
                found[row["vin"]] = dict(row)
    return found


def _replace(database: Engine, vins: list[str], states: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    columns = [c.name for c in vehicle_state.columns]
    with database.begin() as connection:
        for first in range(0, len(vins), CHUNK):
            chunk = vins[first : first + CHUNK]
            connection.execute(vehicle_state.delete().where(vehicle_state.c.vin.in_(chunk)))
        if states:
            rows = [{c: s.get(c) for c in columns} | {"updated_at": now} for s in states]
            bulk_insert(connection, vehicle_state, pa.Table.from_pylist(rows, _arrow_schema()))


def _arrow_schema() -> pa.Schema:
    utc = pa.timestamp("us", tz="UTC")
    fields = [
        pa.field("vin", pa.string()),
        pa.field("last_ts", utc),
        pa.field("source", pa.string()),
    ]
    for name, kind in MEASURES.items():
        fields += [pa.field(name, kind), pa.field(f"{name}_at", utc)]
    return pa.schema([*fields, pa.field("updated_at", utc)])
