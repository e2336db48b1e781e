"""The edge rows silver hands a pass as neighbours, and the neighbours judged otherwise.

A vehicle-hour recomputed is judged against the nearest rows of the hours next to it. Those
come from silver's own output: the rows of that hour that passed rules 1-4 (kept, or dropped
for a neighbour reason), first and last two of each vehicle, with the reason stored for them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleetlake.platform.lake import Lake
from fleetlake.telemetry.bronze_hours import HOUR
from fleetlake.telemetry.schema import TELEMETRY_SCHEMA
from fleetlake.telemetry.silver_hours import SILVER, SILVER_QUARANTINE, VehicleHour, hour_parts

NEIGHBOUR_REASONS = ("odometer_decreasing", "gps_jump")  # dropped after passing rules 1-4
EDGE_ROWS = 2  # an edge row and its own neighbour inside its hour
JUDGING = ("vin", "ts", "received_at", "source", "extra", "lat", "lon", "odometer_km",
           "speed_kmh", "soc_pct")  # fmt: skip  # the columns rules 1-6 read


def edge_rows(lake: Lake, around: set[VehicleHour]) -> tuple[pa.Table | None, set[VehicleHour]]:
    """The edge rows of these vehicle-hours with their `stored_reason` (null when kept; the
    columns the rules do not read null), and which of them silver has any output for."""
    by_hour: dict[datetime, list[str]] = defaultdict(list)
    for vin, hour in around:
        by_hour[hour].append(vin)
    parts: list[pa.Table] = []
    seen: set[VehicleHour] = set()
    for hour, vins in sorted(by_hour.items()):
        wanted = pa.array(sorted(vins))
        pieces = []
        if lake.exists(*hour_parts(SILVER, hour)):
            rows = _read(lake, hour_parts(SILVER, hour), list(JUDGING), wanted)
            pieces.append(rows.append_column("stored_reason", pa.nulls(rows.num_rows, pa.string())))
        if lake.exists(*hour_parts(SILVER_QUARANTINE, hour)):
            rows = _read(lake, hour_parts(SILVER_QUARANTINE, hour), [*JUDGING, "reason"], wanted)
            seen.update((vin, hour) for vin in pc.unique(rows["vin"]).to_pylist())
            rows = rows.filter(pc.is_in(rows["reason"], pa.array(NEIGHBOUR_REASONS)))
            pieces.append(rows.rename_columns([*JUDGING, "stored_reason"]))
        if not pieces:
            continue
        both = pa.concat_tables(pieces).sort_by([("vin", "ascending"), ("ts", "ascending")])
        seen.update((vin, hour) for vin in pc.unique(both["vin"]).to_pylist())
        parts.append(_ends(both))
    if not parts or not sum(p.num_rows for p in parts):
        return None, seen
    edges = pa.concat_tables(parts)
    for column in TELEMETRY_SCHEMA:
        if column.name not in edges.column_names:
            edges = edges.append_column(column.name, pa.nulls(edges.num_rows, column.type))
    return edges, seen


def _read(lake: Lake, parts: tuple[str, ...], columns: list[str], vins: pa.Array) -> pa.Table:
    import pyarrow.parquet as pq

    with lake.fs.open(lake.path(*parts), "rb") as handle:
        table = pq.read_table(handle, columns=columns, filters=pc.is_in(pc.field("vin"), vins))
    return table


def _ends(rows: pa.Table) -> pa.Table:
    """Per vehicle, the first and last EDGE_ROWS rows of each series a neighbour rule reads
    (odometer readings; fixes with both coordinates); `rows` sorted by vin, then ts."""
    if rows.num_rows == 0:
        return rows
    vins = rows["vin"].to_numpy(zero_copy_only=False)
    group = np.cumsum(np.r_[True, vins[1:] != vins[:-1]]) - 1
    picked = np.zeros(rows.num_rows, dtype=bool)
    odometer = pc.is_valid(rows["odometer_km"])
    fix = pc.and_(pc.is_valid(rows["lat"]), pc.is_valid(rows["lon"]))
    for series in (odometer, fix):
        mask = series.to_numpy(zero_copy_only=False)
        counted = np.cumsum(mask)
        before = np.r_[0, counted][np.searchsorted(group, group, side="left")]
        from_start = counted - before  # 1 for a vehicle's first row of the series
        total = np.bincount(group, weights=mask).astype(int)[group]
        picked |= mask & ((from_start <= EDGE_ROWS) | (total - from_start < EDGE_ROWS))
    return rows.filter(pa.array(picked))


def judged_otherwise(
    judged: pa.Table, edges: pa.Table | None, wanted: set[VehicleHour]
) -> set[VehicleHour]:
    """Neighbouring vehicle-hours whose row next to a computed hour got another reason than
    the one stored for it (they are to be done again)."""
    if edges is None:
        return set()
    stored: dict[tuple[str, Any], str | None] = dict(
        zip(
            zip(edges["vin"].to_pylist(), edges["ts"].to_pylist(), strict=True),
            edges["stored_reason"].to_pylist(),
            strict=True,
        )
    )
    edge_times = pa.array(sorted({ts for _, ts in stored}), judged.schema.field("ts").type)
    rows = judged.filter(pc.is_in(judged["ts"], value_set=edge_times))  # a few rows a vehicle
    nearest: dict[tuple[str, datetime, int], tuple[Any, str | None]] = {}
    for row in rows.select(["vin", "ts", "hour", "reason"]).to_pylist():
        key = (row["vin"], row["hour"])
        if (row["vin"], row["ts"]) not in stored or key in wanted:
            continue
        if (row["vin"], row["hour"] + HOUR) in wanted:  # its last row counts
            nearest[(row["vin"], row["hour"], 1)] = (row["ts"], row["reason"])
        if (row["vin"], row["hour"] - HOUR) in wanted:  # its first row counts
            nearest.setdefault((row["vin"], row["hour"], -1), (row["ts"], row["reason"]))
    return {
        (vin, hour)
        for (vin, hour, _), (ts, reason) in nearest.items()
        if stored[(vin, ts)] != reason
    }
