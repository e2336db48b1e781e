"""Gold: answers from silver — per vehicle-hour maxima, the top speeds of every hour, daily
stats per vehicle, and the last state of every vehicle (in the serving database).

    gold/telemetry/hourly_max/date=D/part.parquet   each vehicle's fastest valid moment per hour
    gold/telemetry/top_speeds/date=D/part.parquet   hour, rank, vin, speed_kmh, ts, lat, lon
    gold/telemetry/daily_stats/date=D/part.parquet  distance, speeds, SoC, energy, messages
    <home>/reports/top-speeds-D.csv and .html       the day's report

Incremental like silver: its high-water mark is over silver's files. A run recomputes the
changed vehicles' rows of each changed day, merges them into that day's files (the other
vehicles' rows stay), ranks the day's hours again from the merged maxima, and refreshes the
changed vehicles' last state.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Engine

from fleetlake.platform.db import bulk_insert
from fleetlake.platform.lake import Lake
from fleetlake.platform.query_engines import DuckDbEngine, QueryEngine
from fleetlake.telemetry import gold_sql
from fleetlake.telemetry.models import vehicle_state
from fleetlake.telemetry.reports import write_top_speeds_report
from fleetlake.telemetry.schema import TELEMETRY_SCHEMA
from fleetlake.telemetry.silver import COMPACTED, SILVER

GOLD = ("gold", "telemetry")
STATE = ("_state", "telemetry", "gold.json")
TOP = 10
TABLES = ("hourly_max", "daily_stats")
_KNOWN = {f.name: f.type for f in TELEMETRY_SCHEMA} | {
    "hour": TELEMETRY_SCHEMA.field("ts").type,
    "rank": pa.int64(),
    "messages": pa.int64(),
}


def _schema(*columns: str) -> pa.Schema:
    """Named columns with their known types; every other one is a measure (a double)."""
    return pa.schema([(c, _KNOWN.get(c, pa.float64())) for c in columns])


SCHEMAS = {  # what each table holds, whichever engine computed it
    "hourly_max": _schema("vin", "hour", "speed_kmh", "ts", "lat", "lon"),
    "top_speeds": _schema("hour", "rank", "vin", "speed_kmh", "ts", "lat", "lon"),
    "daily_stats": _schema(
        "vin",
        "distance_km",
        "max_speed_kmh",
        "mean_speed_kmh",
        "soc_min_pct",
        "soc_max_pct",
        "energy_used_kwh",
        "energy_added_kwh",
        "messages",
    ),
}


@dataclass
class GoldResult:
    days: int = 0
    vehicles: int = 0
    seconds: float = 0.0
    changed_days: list[date] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"days": self.days, "vehicles": self.vehicles, "seconds": round(self.seconds, 3)}


def run_gold(
    lake: Lake,
    database: Engine,
    *,
    reports_dir: Path,
    lookback_s: float,
    full_refresh: bool = False,
    engine: QueryEngine | None = None,
) -> GoldResult:
    started = time.monotonic()
    engine = engine or DuckDbEngine(lake)
    modified = lake.modified_files(*SILVER)
    mark = 0.0 if full_refresh else float(lake.read_json(*STATE, default={}).get("mark", 0.0))
    since = mark - lookback_s if mark else float("-inf")
    by_day: dict[date, set[str]] = defaultdict(set)
    for path, when in modified.items():
        if (full_refresh or when > since) and (match := COMPACTED.search(path)):
            by_day[date.fromisoformat(match[1])].add(match[2])
    result = GoldResult(days=len(by_day))
    for day, vins in sorted(by_day.items()):
        refresh_day(lake, engine, day=day, vins=vins, full=full_refresh, reports_dir=reports_dir)
        result.changed_days.append(day)
    changed_vins = sorted({vin for vins in by_day.values() for vin in vins})
    result.vehicles = len(changed_vins)
    refresh_last_state(lake, engine, database, vins=changed_vins, files=modified)
    if modified:
        lake.write_json({"mark": max(modified.values())}, *STATE)
    result.seconds = time.monotonic() - started
    return result


def _typed(table: pa.Table, name: str) -> pa.Table:
    return table.select(SCHEMAS[name].names).cast(SCHEMAS[name])


def refresh_day(
    lake: Lake, engine: QueryEngine, *, day: date, vins: set[str], full: bool, reports_dir: Path
) -> None:
    """The day's maxima and stats for `vins` recomputed and merged; its ranking redone."""
    paths = [lake.path(*SILVER, f"date={day}", f"{vin}.parquet") for vin in sorted(vins)]
    paths = [p for p in paths if lake.fs.exists(p)]
    fresh: dict[str, pa.Table] = {}
    if paths:
        views = {"silver_rows": paths}
        fresh["hourly_max"] = _typed(engine.query(gold_sql.HOURLY_MAX, views=views), "hourly_max")
        stats = engine.query(gold_sql.DAILY_STATS, views=views)
        fresh["daily_stats"] = _typed(stats, "daily_stats")
    merged = {name: _merge(lake, name, day, fresh.get(name), vins, full) for name in TABLES}
    ranked = _rank(engine, merged["hourly_max"])
    _write(lake, "top_speeds", day, ranked)
    write_top_speeds_report(ranked, day=day, reports_dir=reports_dir)


def _merge(
    lake: Lake, name: str, day: date, fresh: pa.Table | None, vins: set[str], full: bool
) -> pa.Table | None:
    """The day's table with `vins`' rows replaced by `fresh` (sorted by vin, then hour)."""
    parts = (*GOLD, name, f"date={day}", "part.parquet")
    kept = None
    if not full and lake.exists(*parts):
        old = lake.read_parquet(*parts)
        kept = old.filter(pc.invert(pc.is_in(old["vin"], pa.array(sorted(vins)))))
    tables = [t for t in (kept, fresh) if t is not None and t.num_rows]
    if not tables:
        return _write(lake, name, day, None)
    merged = pa.concat_tables(tables, promote_options="permissive")
    order = [("vin", "ascending")] + (
        [("hour", "ascending")] if "hour" in merged.column_names else []
    )
    return _write(lake, name, day, merged.sort_by(order))


def _rank(engine: QueryEngine, hourly: pa.Table | None) -> pa.Table | None:
    if hourly is None or hourly.num_rows == 0:
        return None
    sql = gold_sql.TOP_SPEEDS.replace("{top}", str(TOP))
    ranked = _typed(engine.query(sql, views={"hourly_rows": hourly}), "top_speeds")
    return ranked.sort_by([("hour", "ascending"), ("rank", "ascending")])


def _write(lake: Lake, name: str, day: date, table: pa.Table | None) -> pa.Table | None:
    parts = (*GOLD, name, f"date={day}", "part.parquet")
    if table is None or table.num_rows == 0:
        if lake.exists(*parts):
            lake.fs.rm(lake.path(*parts))
        return None
    lake.write_parquet(table, *parts)
    return table


def refresh_last_state(
    lake: Lake,
    engine: QueryEngine,
    database: Engine,
    *,
    vins: list[str],
    files: dict[str, float],
) -> None:
    """The last state of `vins` from all their silver days, replacing their rows."""
    if not vins:
        return
    wanted = set(vins)
    paths = [p for p in files if (m := COMPACTED.search(p)) and m[2] in wanted]
    state = None
    if paths:
        state = engine.query(gold_sql.last_state_sql(), views={"silver_rows": sorted(paths)})
    with database.begin() as connection:
        for first in range(0, len(vins), 500):
            chunk = vins[first : first + 500]
            connection.execute(vehicle_state.delete().where(vehicle_state.c.vin.in_(chunk)))
        if state is not None and state.num_rows:
            now = pa.array([datetime.now(UTC)] * state.num_rows, pa.timestamp("us", tz="UTC"))
            bulk_insert(connection, vehicle_state, state.append_column("updated_at", now))
