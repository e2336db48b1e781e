"""Silver: bronze cleaned — one Parquet file per UTC hour with every vehicle, and what was dropped.

    silver/telemetry/date=YYYY-MM-DD/hour=HH/part.parquet              sorted by vin, ts
    silver/_quarantine/telemetry/date=YYYY-MM-DD/hour=HH/part.parquet  the dropped rows + reason

The unit of work is a vehicle-hour. A row is judged against its own hour and the nearest rows
within an hour of it (see `silver_sql`), so a vehicle-hour's outcome depends only on its
rows and the edge rows of the hours next to it. Incremental: the stage's state
(`_state/telemetry/silver.json`) keeps the high-water mark, the newest bronze modification
time it has read. A run takes the bronze files modified after it (less the look-back
window), finds the vehicle-hours they hold (`bronze_hours`), recomputes them with the edge
rows of the hours around (from silver's own output), merges them into their hour files, and
does a neighbouring hour again only when its edge row is now judged otherwise.
`full_refresh` recomputes every vehicle-hour from all of bronze and gives the same files.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from fleetlake.platform.failures import short_list, working_on
from fleetlake.platform.lake import Lake
from fleetlake.platform.query_engines import DuckDbEngine, QueryEngine
from fleetlake.telemetry.bronze_hours import HOUR, BronzeFile, HourIndex, bronze_files
from fleetlake.telemetry.schema import TELEMETRY_SCHEMA
from fleetlake.telemetry.silver_edges import edge_rows, judged_otherwise
from fleetlake.telemetry.silver_hours import (
    JUDGED,
    JUDGED_ORDER,
    UTC_HOUR,
    HeldHours,
    SilverResult,
    VehicleHour,
)
from fleetlake.telemetry.silver_sql import quoted, silver_sql

STATE = ("_state", "telemetry", "silver.json")
KEYS_PER_PASS = 4800  # vehicle-hours in one engine pass (200 vehicle-days: 1.7 M rows at 10 s)
HELD_ROWS = 5_000_000  # recomputed rows held before their hour files are rewritten


@dataclass(frozen=True)
class SilverRules:
    max_speed_kmh: float = 250.0
    speed_outliers: bool = True
    future_tolerance_s: float = 300.0
    lookback_s: float = 600.0


@dataclass
class _Run:
    """What one run knows: the bronze files of each vehicle-hour, and the rules."""

    lake: Lake
    engine: QueryEngine
    rules: SilverRules
    files: dict[VehicleHour, list[str]]
    held: HeldHours


def run_silver(
    lake: Lake,
    *,
    rules: SilverRules,
    full_refresh: bool = False,
    engine: QueryEngine | None = None,
    on_progress: Callable[[SilverResult, int, int], None] | None = None,
) -> SilverResult:
    """Recompute what bronze changed (or everything); `on_progress(result, vehicle-hours
    done, vehicle-hours known to do)` after each engine pass."""
    started = time.monotonic()
    state = lake.read_json(*STATE, default={})
    everything = bronze_files(lake)
    mark = 0.0 if full_refresh else float(state.get("high_water_mark", 0.0))
    since = mark - rules.lookback_s if mark else float("-inf")
    fresh = [f for f in everything if f.modified > since]
    hours = HourIndex(lake)
    hours.load(_days_around(everything, fresh))
    vin_of = {f.path: f.vin for f in everything}
    files: dict[VehicleHour, list[str]] = defaultdict(list)
    for day_spans in hours.spans.values():
        for path, span in day_spans.items():
            for hour in span.hours():
                files[(vin_of[path], hour)].append(path)
    changed = [f for f in fresh if full_refresh or not hours.is_known(f)]
    pending = {(f.vin, h) for f in changed for h in hours.spans[f.day][f.path].hours()}
    result = SilverResult()
    # A full refresh rewrites every hour in place: readers keep the old answers meanwhile.
    held = HeldHours(lake, result, rewrite=full_refresh)
    run = _Run(lake, engine or DuckDbEngine(lake), rules, files, held)
    done: set[VehicleHour] = set()
    while pending:  # a neighbour whose edge row is judged anew is done again, whole
        again: set[VehicleHour] = set()
        passed = 0
        for chunk in _by_vehicles(pending):  # bronze is per vehicle: each file read once
            again |= _transform(run, chunk)
            if run.held.rows >= HELD_ROWS:
                run.held.flush()
            passed += len(chunk)
            if on_progress is not None:
                on_progress(result, len(done) + passed, len(done) + len(pending))
        run.held.flush()  # what is done again reads these as its edges
        done |= pending
        pending = again - done
    result.vehicle_hours = len(done)
    if full_refresh:
        held.remove_unwritten()
    hours.save()
    if everything:
        lake.write_json({"high_water_mark": max(f.modified for f in everything)}, *STATE)
    result.seconds = time.monotonic() - started
    return result


def _days_around(everything: list[BronzeFile], fresh: list[BronzeFile]) -> list[BronzeFile]:
    """The files of the fresh files' days and the days next to them (edges cross midnight)."""
    days = {f.day + timedelta(days=d) for f in fresh for d in (-1, 0, 1)}
    return [f for f in everything if f.day in days]


def _by_vehicles(keys: set[VehicleHour]) -> list[set[VehicleHour]]:
    """The keys in chunks of whole vehicles, about KEYS_PER_PASS each."""
    hours: dict[str, list[datetime]] = defaultdict(list)
    for vin, hour in keys:
        hours[vin].append(hour)
    chunks: list[set[VehicleHour]] = [set()]
    for vin in sorted(hours):
        if len(chunks[-1]) >= KEYS_PER_PASS:
            chunks.append(set())
        chunks[-1].update((vin, hour) for hour in hours[vin])
    return chunks


def _transform(run: _Run, wanted: set[VehicleHour]) -> set[VehicleHour]:
    """One engine pass over these vehicle-hours' bronze, with the edge rows of the hours
    around them (from silver's own output) as neighbours; holds them for their hour files
    and returns the neighbouring vehicle-hours whose edge row is now judged otherwise."""
    around = {(vin, hour + d * HOUR) for vin, hour in wanted for d in (-1, 1)} - wanted
    edges, seen = edge_rows(run.lake, {k for k in around if k in run.files})
    unseen = {key for key in around if key in run.files and key not in seen}
    wanted = wanted | unseen  # never computed: computed now, whole
    keys = sorted(wanted)
    key_table = pa.table(
        {"vin": [k[0] for k in keys], "hour": pa.array([k[1] for k in keys], UTC_HOUR)}
    )
    names = quoted(TELEMETRY_SCHEMA.names)
    views: dict[str, list[str] | pa.Table] = {
        "own": sorted({path for key in wanted for path in run.files.get(key, [])}),
        "wanted_keys": key_table,
    }
    rows = (
        f"SELECT {names} FROM own WHERE EXISTS (SELECT 1 FROM wanted_keys k "  # noqa: S608
        "WHERE k.vin = own.vin AND k.hour = {hour}(own.ts))"
    )
    if edges is not None:
        views["edges"] = edges
        rows += f" UNION ALL SELECT {names} FROM edges"  # noqa: S608  (all: duplicates count)
    sql = silver_sql(
        columns=TELEMETRY_SCHEMA.names,
        max_speed_kmh=run.rules.max_speed_kmh,
        speed_outliers=run.rules.speed_outliers,
        future_s=run.rules.future_tolerance_s,
        source=f"({rows}) AS bronze_rows",
    )
    query = f"SELECT *, {{hour}}(ts) AS hour FROM ({sql}) AS judged_rows"  # noqa: S608
    own = views["own"]
    first, last = min(k[1] for k in keys), max(k[1] for k in keys)
    files = short_list(own if isinstance(own, list) else [])
    with working_on(hours=f"{first:%Y-%m-%dT%H}…{last:%Y-%m-%dT%H}", files=files):
        judged = run.engine.query(query, views=views).select(JUDGED.names).cast(JUDGED)
    judged = judged.sort_by(JUDGED_ORDER)  # neither engine keeps the order it hands over
    run.held.hold(judged, wanted)
    return judged_otherwise(judged, edges, wanted)
