"""Gold: answers from silver — per vehicle-hour maxima, stats and states, the top speeds of
every hour, daily stats per vehicle, and the last state of every vehicle (serving database).

    gold/telemetry/hourly_max/date=D/part.parquet    each vehicle's fastest valid moment per hour
    gold/telemetry/hourly_stats/date=D/part.parquet  per vehicle-hour sums, extremes and counts
    gold/telemetry/hourly_state/date=D/part.parquet  per vehicle-hour latest value of each field
    gold/telemetry/top_speeds/date=D/part.parquet    hour, rank, vin, speed_kmh, ts, lat, lon
    gold/telemetry/daily_stats/date=D/part.parquet   distance, speeds, SoC, energy, messages
    <home>/reports/top-speeds-D.csv and .html        the day's report

Incremental like silver: its high-water mark is over silver's hour files. A run recomputes the
per vehicle-hour tables of the changed hours and merges them into their days (the other hours
stay), ranks the day again, sums its stats from its hours, and brings the vehicles of those
hours up to date in the serving table from the stored state (see `gold_state`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Engine

from fleetlake.platform.failures import working_on
from fleetlake.platform.lake import Lake
from fleetlake.platform.query_engines import DuckDbEngine, QueryEngine
from fleetlake.telemetry import gold_sql
from fleetlake.telemetry.gold_state import refresh_last_state
from fleetlake.telemetry.reports import write_top_speeds_report
from fleetlake.telemetry.schema import MEASURES, TELEMETRY_SCHEMA
from fleetlake.telemetry.silver_hours import SILVER, hour_of_file, hour_parts

GOLD = ("gold", "telemetry")
STATE = ("_state", "telemetry", "gold.json")
TOP = 10
_KNOWN = {f.name: f.type for f in TELEMETRY_SCHEMA} | {
    "hour": TELEMETRY_SCHEMA.field("ts").type,
    "last_ts": TELEMETRY_SCHEMA.field("ts").type,
    "rank": pa.int64(),
    "messages": pa.int64(),
    "speeds": pa.int64(),
    **{f"{name}_at": TELEMETRY_SCHEMA.field("ts").type for name in MEASURES},
}


def _schema(*columns: str) -> pa.Schema:
    """Named columns with their known types; every other one is a measure (a double)."""
    return pa.schema([(c, _KNOWN.get(c, pa.float64())) for c in columns])


def _exact_sums(schema: pa.Schema) -> pa.Schema:
    """The hourly sums stay exact decimals (see gold_sql.HOURLY_STATS)."""
    for name in ("speed_sum_kmh", "energy_used_kwh", "energy_added_kwh"):
        schema = schema.set(schema.get_field_index(name), pa.field(name, pa.decimal128(38, 9)))
    return schema


STATE_COLUMNS = ("vin", "last_ts", "source", *(c for m in MEASURES for c in (m, f"{m}_at")))
SCHEMAS = {  # what each table holds, whichever engine computed it
    "hourly_max": _schema("vin", "hour", "speed_kmh", "ts", "lat", "lon"),
    "hourly_stats": _exact_sums(
        _schema(
            "vin",
            "hour",
            "odometer_min_km",
            "odometer_max_km",
            "max_speed_kmh",
            "speed_sum_kmh",
            "speeds",
            "soc_min_pct",
            "soc_max_pct",
            "energy_used_kwh",
            "energy_added_kwh",
            "energy_first_kwh",
            "energy_last_kwh",
            "messages",
        )
    ),
    "hourly_state": _schema("vin", "hour", *STATE_COLUMNS[1:]),
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
HOURLY = {
    "hourly_max": gold_sql.HOURLY_MAX,
    "hourly_stats": gold_sql.HOURLY_STATS,
    "hourly_state": gold_sql.hourly_state_sql(),
}


@dataclass
class GoldResult:
    days: int = 0
    vehicles: int = 0
    rows_in: int = 0  # silver rows of the hours recomputed
    rows_written: int = 0  # rows of the gold files written (each day's tables, whole)
    seconds: float = 0.0
    changed_days: list[date] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "vehicles": self.vehicles,
            "rows_in": self.rows_in,
            "rows_written": self.rows_written,
            "seconds": round(self.seconds, 3),
        }


def run_gold(
    lake: Lake,
    database: Engine,
    *,
    reports_dir: Path,
    lookback_s: float,
    full_refresh: bool = False,
    engine: QueryEngine | None = None,
    on_progress: Callable[[GoldResult, int], None] | None = None,
) -> GoldResult:
    """Recompute the changed hours' days; `on_progress(result, days to do)` after each."""
    started = time.monotonic()
    engine = engine or DuckDbEngine(lake)
    modified = lake.modified_files(*SILVER)
    state = {} if full_refresh else lake.read_json(*STATE, default={})
    mark = float(state.get("mark", 0.0))
    since = mark - lookback_s if mark else float("-inf")
    present = {
        hour: when for path, when in modified.items() if (hour := hour_of_file(path)) is not None
    }
    gone = set(state.get("hours", [])) - {h.isoformat() for h in present}  # all rows dropped
    by_day: dict[date, set[datetime]] = defaultdict(set)
    for hour in [h for h, when in present.items() if when > since] + [
        datetime.fromisoformat(h) for h in gone
    ]:
        by_day[hour.date()].add(hour)
    result = GoldResult(days=len(by_day))
    changed_vins: set[str] = set()
    for day, hours in sorted(by_day.items()):
        with working_on(day=day):  # a full refresh rewrites each day whole, in place
            changed_vins |= refresh_day(lake, engine, day=day, hours=hours,
                                        reports_dir=reports_dir, result=result,
                                        whole_day=full_refresh)  # fmt: skip
        result.changed_days.append(day)
        if on_progress is not None:
            on_progress(result, len(by_day))
    if full_refresh:  # the days silver no longer holds
        kept = {
            lake.path(*GOLD, name, f"date={d}", "part.parquet") for name in SCHEMAS for d in by_day
        }
        lake.remove_files_except(*GOLD, keep=kept)
    result.vehicles = len(changed_vins)
    refresh_last_state(lake, engine, database, vins=sorted(changed_vins),
                       days=sorted(by_day), full=full_refresh)  # fmt: skip
    if modified:
        lake.write_json(
            {"mark": max(modified.values()), "hours": sorted(h.isoformat() for h in present)},
            *STATE,
        )
    result.seconds = time.monotonic() - started
    return result


def _typed(table: pa.Table, name: str) -> pa.Table:
    return table.select(SCHEMAS[name].names).cast(SCHEMAS[name])


def refresh_day(
    lake: Lake,
    engine: QueryEngine,
    *,
    day: date,
    hours: set[datetime],
    reports_dir: Path,
    result: GoldResult,
    whole_day: bool = False,
) -> set[str]:
    """The day's per vehicle-hour tables for `hours` recomputed and merged (`whole_day`: in
    place of all the day held); its ranking and stats redone (rows counted in `result`).
    Returns the vehicles seen in those hours."""
    paths = [lake.path(*hour_parts(SILVER, h)) for h in sorted(hours)]
    paths = [p for p in paths if lake.fs.exists(p)]
    result.rows_in += sum(_rows_of(lake, path) for path in paths)
    vins: set[str] = set()
    merged: dict[str, pa.Table | None] = {}
    for name, sql in HOURLY.items():
        fresh = _typed(engine.query(sql, views={"silver_rows": paths}), name) if paths else None
        merged[name], touched = _merge(lake, name, day, fresh, hours, whole_day=whole_day)
        vins |= touched
    ranked = _rank(engine, merged["hourly_max"])
    _write(lake, "top_speeds", day, ranked)
    write_top_speeds_report(ranked, day=day, reports_dir=reports_dir)
    stats = merged["hourly_stats"]
    daily = None
    if stats is not None:
        daily = engine.query(gold_sql.DAILY_STATS, views={"hourly_stats": stats})
        daily = _typed(daily, "daily_stats").sort_by("vin")
    _write(lake, "daily_stats", day, daily)
    written = [*merged.values(), ranked, daily]
    result.rows_written += sum(table.num_rows for table in written if table is not None)
    return vins


def _rows_of(lake: Lake, path: str) -> int:
    import pyarrow.parquet as pq

    with lake.fs.open(path, "rb") as handle:
        return int(pq.read_metadata(handle).num_rows)


def _merge(
    lake: Lake,
    name: str,
    day: date,
    fresh: pa.Table | None,
    hours: set[datetime],
    *,
    whole_day: bool = False,
) -> tuple[pa.Table | None, set[str]]:
    """The day's table with the rows of `hours` (or all of them) replaced by `fresh` (sorted
    by vin, hour); and the vehicles whose rows were replaced or added."""
    parts = (*GOLD, name, f"date={day}", "part.parquet")
    tables, vins = [], set()
    changed = pa.array(sorted(hours), SCHEMAS[name].field("hour").type)
    if lake.exists(*parts):
        old = lake.read_parquet(*parts)
        replaced = pc.is_in(old["hour"], old["hour"] if whole_day else changed)
        vins |= set(pc.unique(old.filter(replaced)["vin"]).to_pylist())
        tables.append(old.filter(pc.invert(replaced)))
    if fresh is not None:
        vins |= set(pc.unique(fresh["vin"]).to_pylist())
        tables.append(fresh)
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return _write(lake, name, day, None), vins
    merged = pa.concat_tables(tables).sort_by([("vin", "ascending"), ("hour", "ascending")])
    return _write(lake, name, day, merged), vins


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
