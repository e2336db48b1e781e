"""Silver: bronze cleaned — one Parquet file per vehicle per day, and what was dropped.

    silver/telemetry/date=YYYY-MM-DD/<VIN>.parquet              sorted by ts, one row per ts
    silver/_quarantine/telemetry/date=YYYY-MM-DD/<VIN>.parquet  the dropped rows + reason

Incremental: the stage's state (`_state/telemetry/silver.json`) keeps the high-water mark,
the newest bronze modification time it has read. A run reads the bronze files modified after
it (less the look-back window, for files still being written around the mark), recomputes
the vehicle-days they hold and their neighbouring days (a row is judged against the rows
next to it, see `silver_sql`), and rewrites only those files. `full_refresh` recomputes every
vehicle-day from all of bronze and gives the same files.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from fleetlake.platform.lake import Lake
from fleetlake.platform.query_engines import DuckDbEngine, QueryEngine
from fleetlake.telemetry.schema import TELEMETRY_SCHEMA
from fleetlake.telemetry.silver_sql import quoted, silver_sql

SILVER = ("silver", "telemetry")
SILVER_QUARANTINE = ("silver", "_quarantine", "telemetry")
STATE = ("_state", "telemetry", "silver.json")
BRONZE = ("bronze", "telemetry")
VEHICLES_PER_BATCH = 200  # bounds the memory of one DuckDB pass
COMPACTED = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/([^/]+)\.parquet$")
BUFFERED = re.compile(r"/_buffer/([^/]+)/date=(\d{4}-\d{2}-\d{2})/[^/]+\.parquet$")
VehicleDay = tuple[str, date]
JUDGED = TELEMETRY_SCHEMA.append(pa.field("reason", pa.string())).append(
    pa.field("day", pa.date32())
)


@dataclass(frozen=True)
class SilverRules:
    max_speed_kmh: float = 250.0
    speed_outliers: bool = True
    future_tolerance_s: float = 300.0
    lookback_s: float = 600.0


@dataclass
class SilverResult:
    vehicle_days: int = 0
    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    changed: list[VehicleDay] = field(default_factory=list)  # what gold must look at again
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "vehicle_days": self.vehicle_days,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": dict(sorted(self.dropped.items())),
            "seconds": round(self.seconds, 3),
        }


def bronze_index(lake: Lake) -> tuple[dict[VehicleDay, list[str]], dict[str, float]]:
    """Every bronze data file by (VIN, day), and every file's modification time."""
    modified = lake.modified_files(*BRONZE)
    index: dict[VehicleDay, list[str]] = defaultdict(list)
    for path in modified:
        if match := BUFFERED.search(path):
            index[(match[1], date.fromisoformat(match[2]))].append(path)
        elif "/_" not in path.split("/bronze/telemetry/", 1)[-1] and (m := COMPACTED.search(path)):
            index[(m[2], date.fromisoformat(m[1]))].append(path)
    return dict(index), modified


def run_silver(
    lake: Lake,
    *,
    rules: SilverRules,
    full_refresh: bool = False,
    engine: QueryEngine | None = None,
) -> SilverResult:
    started = time.monotonic()
    engine = engine or DuckDbEngine(lake)
    state = lake.read_json(*STATE, default={})
    index, modified = bronze_index(lake)
    mark = 0.0 if full_refresh else float(state.get("high_water_mark", 0.0))
    since = mark - rules.lookback_s if mark else float("-inf")
    fresh = {p for p, m in modified.items() if m > since}
    pending = set(index) if full_refresh else {k for k, p in index.items() if fresh.intersection(p)}
    result = SilverResult()
    done: set[VehicleDay] = set()
    while pending:  # a neighbour whose edge row is judged anew is done again, whole
        by_vehicle: dict[str, list[date]] = defaultdict(list)
        for vin, day in sorted(pending):
            by_vehicle[vin].append(day)
        vins, again = sorted(by_vehicle), set()
        for first in range(0, len(vins), VEHICLES_PER_BATCH):
            batch = {vin: by_vehicle[vin] for vin in vins[first : first + VEHICLES_PER_BATCH]}
            again |= _transform(lake, engine, batch, index=index, rules=rules, result=result)
        done |= pending
        pending = again - done
    result.vehicle_days = len(done)
    if modified:
        lake.write_json({"high_water_mark": max(modified.values())}, *STATE)
    result.seconds = time.monotonic() - started
    return result


def _transform(
    lake: Lake,
    engine: QueryEngine,
    days_by_vin: dict[str, list[date]],
    *,
    index: dict[VehicleDay, list[str]],
    rules: SilverRules,
    result: SilverResult,
) -> set[VehicleDay]:
    """One engine pass over these vehicle-days' bronze, with the edge rows of the days around
    them (from silver's own output) as neighbours; writes their files and returns the
    neighbouring days whose edge row is now judged otherwise (to be done again)."""
    wanted = {(vin, day) for vin, days in days_by_vin.items() for day in days}
    around = {(vin, day + timedelta(days=d)) for vin, day in wanted for d in (-1, 1)}
    around = {key for key in around - wanted if key in index}
    unseen = {key for key in around if not _outputs(lake, key)}
    wanted, around = wanted | unseen, around - unseen  # never computed: computed now, whole
    files = sorted(path for key in wanted for path in index[key])
    names = quoted(TELEMETRY_SCHEMA.names)
    views: dict[str, list[str] | pa.Table] = {"own": files}
    rows = f"SELECT {names} FROM own"  # noqa: S608  (our own names)
    edges = _edge_rows(lake, around)
    if edges is not None:
        views["edges"] = edges
        rows += f" UNION ALL SELECT {names} FROM edges"  # noqa: S608  (all: duplicates count)
    sql = silver_sql(
        columns=TELEMETRY_SCHEMA.names,
        max_speed_kmh=rules.max_speed_kmh,
        speed_outliers=rules.speed_outliers,
        future_s=rules.future_tolerance_s,
        source=f"({rows}) AS bronze_rows",
    )
    query = f"SELECT *, CAST(ts AS DATE) AS day FROM ({sql}) AS judged_rows"  # noqa: S608
    judged = engine.query(query, views=views).select(JUDGED.names).cast(JUDGED)
    stored = {} if edges is None else _stored_reasons(edges)
    # Sorted here: neither engine keeps the order of the rows it hands over.
    judged = judged.sort_by(
        [("vin", "ascending"), ("ts", "ascending"), ("received_at", "ascending")]
    )
    _write_days(lake, judged, wanted, result)
    return _judged_otherwise(judged, stored, wanted)


NEIGHBOUR_REASONS = ("odometer_decreasing", "gps_jump")  # dropped after passing rules 1-4
EDGE_ROWS = 2  # an edge row and its own neighbour inside its day


def _outputs(lake: Lake, key: VehicleDay) -> list[str]:
    vin, day = key
    found = [
        lake.path(*folder, f"date={day}", f"{vin}.parquet")
        for folder in (SILVER, SILVER_QUARANTINE)
    ]
    return [path for path in found if lake.fs.exists(path)]


JUDGING = ("vin", "ts", "received_at", "source", "extra", "lat", "lon", "odometer_km",
           "speed_kmh", "soc_pct")  # fmt: skip  # the columns rules 1-6 read


def _edge_rows(lake: Lake, around: set[VehicleDay]) -> pa.Table | None:
    """The first and last rows that passed rules 1-4 of each day around, with their
    `stored_reason` (null when in silver); only the columns the rules read, the rest null.
    Silver files are sorted by ts, so their edges are their first and last rows."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parts: list[pa.Table] = []
    for vin, day in sorted(around):
        kept = (*SILVER, f"date={day}", f"{vin}.parquet")
        dropped = (*SILVER_QUARANTINE, f"date={day}", f"{vin}.parquet")
        pieces: list[pa.Table] = []
        if lake.exists(*kept):
            with lake.fs.open(lake.path(*kept), "rb") as handle:
                rows = pq.read_table(handle, columns=list(JUDGING))
            ends = pa.concat_tables(
                [rows.slice(0, EDGE_ROWS), rows.slice(max(rows.num_rows - EDGE_ROWS, EDGE_ROWS))]
            )
            pieces.append(ends.append_column("stored_reason", pa.nulls(ends.num_rows, pa.string())))
        if lake.exists(*dropped):
            with lake.fs.open(lake.path(*dropped), "rb") as handle:
                rows = pq.read_table(handle, columns=[*JUDGING, "reason"])
            rows = rows.filter(pc.is_in(rows["reason"], pa.array(NEIGHBOUR_REASONS)))
            pieces.append(rows.rename_columns([*JUDGING, "stored_reason"]))
        if pieces:
            both = pa.concat_tables(pieces, promote_options="permissive")
            parts.extend(_ends(both.sort_by([("ts", "ascending")])))
    if not parts:
        return None
    edges = pa.concat_tables(parts, promote_options="permissive")
    for column in TELEMETRY_SCHEMA:
        if column.name not in edges.column_names:
            edges = edges.append_column(column.name, pa.nulls(edges.num_rows, column.type))
    return edges


def _ends(rows: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The first and the last EDGE_ROWS rows (no row twice)."""
    return rows.slice(0, EDGE_ROWS), rows.slice(max(rows.num_rows - EDGE_ROWS, EDGE_ROWS))


def _stored_reasons(edges: pa.Table) -> dict[tuple[str, Any], str | None]:
    keys = zip(edges["vin"].to_pylist(), edges["ts"].to_pylist(), strict=True)
    return dict(zip(keys, edges["stored_reason"].to_pylist(), strict=True))


def _judged_otherwise(
    judged: pa.Table, stored: dict[tuple[str, Any], str | None], wanted: set[VehicleDay]
) -> set[VehicleDay]:
    """Neighbouring days whose row next to a computed day got another reason than before."""
    changed: set[VehicleDay] = set()
    if not stored:
        return changed
    import pyarrow.compute as pc

    edge_times = pa.array(sorted({ts for _, ts in stored}), judged.schema.field("ts").type)
    edges = judged.filter(pc.is_in(judged["ts"], value_set=edge_times))  # a few rows a vehicle
    nearest: dict[tuple[str, date, int], tuple[Any, str | None]] = {}
    for row in edges.select(["vin", "ts", "day", "reason"]).to_pylist():
        key = (row["vin"], row["day"])
        if (row["vin"], row["ts"]) not in stored or key in wanted:
            continue
        if (row["vin"], row["day"] + timedelta(days=1)) in wanted:  # its last row counts
            nearest[(row["vin"], row["day"], 1)] = (row["ts"], row["reason"])
        if (row["vin"], row["day"] - timedelta(days=1)) in wanted:  # its first row counts
            nearest.setdefault((row["vin"], row["day"], -1), (row["ts"], row["reason"]))
    for (vin, day, _), (ts, reason) in nearest.items():
        if stored[(vin, ts)] != reason:
            changed.add((vin, day))
    return changed


def _write_days(
    lake: Lake, judged: pa.Table, wanted: set[VehicleDay], result: SilverResult
) -> None:
    """Rows are sorted by vin then ts, so each vehicle-day is one slice of them."""
    import pyarrow.compute as pc

    positions = pa.table(
        {"vin": judged["vin"], "day": judged["day"], "i": pa.array(range(judged.num_rows))}
    )
    spans = positions.group_by(["vin", "day"], use_threads=False).aggregate(
        [("i", "min"), ("i", "max")]
    )
    where = {
        (vin, day): (low, high)
        for vin, day, low, high in zip(
            *(spans[c].to_pylist() for c in ("vin", "day", "i_min", "i_max")), strict=True
        )
    }
    for vin, day in sorted(wanted):
        low, high = where.get((vin, day), (0, -1))
        rows = judged.slice(low, high - low + 1)
        result.rows_in += rows.num_rows
        kept = rows.filter(pc.is_null(rows["reason"])).select(TELEMETRY_SCHEMA.names)
        dropped = rows.filter(pc.is_valid(rows["reason"])).drop_columns(["day"])
        _replace(lake, kept.cast(TELEMETRY_SCHEMA), (*SILVER, f"date={day}", f"{vin}.parquet"))
        _replace(lake, dropped, (*SILVER_QUARANTINE, f"date={day}", f"{vin}.parquet"))
        result.rows_out += kept.num_rows
        for reason in dropped["reason"].to_pylist():
            result.dropped[reason] = result.dropped.get(reason, 0) + 1
        result.changed.append((vin, day))


def _replace(lake: Lake, table: pa.Table, parts: tuple[str, ...]) -> None:
    """Write the file, or remove it when there is nothing to hold."""
    if table.num_rows:
        lake.write_parquet(table, *parts)
    elif lake.exists(*parts):
        lake.fs.rm(lake.path(*parts))
