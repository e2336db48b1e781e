"""Silver's hour files, and the recomputed rows held for them until they are rewritten.

A pass recomputes some vehicles' hours; their rows are held per hour and, at `flush`, each
hour file is rewritten once: its other vehicles' rows as they were, these vehicles' anew.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleetlake.platform.lake import Lake
from fleetlake.telemetry.schema import TELEMETRY_SCHEMA

SILVER = ("silver", "telemetry")
SILVER_QUARANTINE = ("silver", "_quarantine", "telemetry")
VehicleHour = tuple[str, datetime]
UTC_HOUR = TELEMETRY_SCHEMA.field("ts").type
JUDGED = TELEMETRY_SCHEMA.append(pa.field("reason", pa.string())).append(pa.field("hour", UTC_HOUR))
ORDER = [("vin", "ascending"), ("ts", "ascending"), ("received_at", "ascending")]
JUDGED_ORDER = [("hour", "ascending"), *ORDER]  # a pass's rows: an hour, then its vehicles
HOUR_FILE = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/part\.parquet$")


def hour_parts(folder: tuple[str, ...], hour: datetime) -> tuple[str, ...]:
    return (*folder, f"date={hour.date()}", f"hour={hour:%H}", "part.parquet")


def hour_of_file(path: str) -> datetime | None:
    """The UTC hour an hour file (silver's layout) holds; None for any other path."""
    match = HOUR_FILE.search(path)
    return datetime.fromisoformat(f"{match[1]}T{match[2]}:00:00+00:00") if match else None


@dataclass
class SilverResult:
    vehicle_hours: int = 0
    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    changed: set[VehicleHour] = field(default_factory=set)  # what gold must look at again
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "vehicle_hours": self.vehicle_hours,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": dict(sorted(self.dropped.items())),
            "seconds": round(self.seconds, 3),
        }


class HeldHours:
    def __init__(self, lake: Lake, result: SilverResult, *, rewrite: bool = False) -> None:
        self.lake = lake
        self.result = result
        self.rewrite = rewrite  # a full refresh: an hour file's old rows are not kept
        self.written: set[str] = set()  # the hour files this run wrote (or found empty)
        self.vins: dict[datetime, set[str]] = defaultdict(set)  # recomputed, rows or not
        self.kept: dict[datetime, list[pa.Table]] = defaultdict(list)
        self.dropped: dict[datetime, list[pa.Table]] = defaultdict(list)
        self.rows = 0

    def hold(self, judged: pa.Table, wanted: set[VehicleHour]) -> None:
        """Keep the judged rows of `wanted` (the edge rows around them are not theirs);
        `judged` is in JUDGED_ORDER."""
        mine: dict[datetime, set[str]] = defaultdict(set)
        for vin, hour in wanted:
            mine[hour].add(vin)
            self.vins[hour].add(vin)
        self.result.changed |= wanted
        by_hour = judged
        hours = pc.cast(by_hour["hour"], pa.int64()).to_numpy()
        if not len(hours):
            return
        starts: list[int] = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]]).tolist()
        for start, end in zip(starts, [*starts[1:], len(hours)], strict=True):
            hour = by_hour["hour"][start].as_py()
            if hour not in mine:
                continue
            rows = by_hour.slice(start, end - start)
            rows = rows.filter(pc.is_in(rows["vin"], pa.array(sorted(mine[hour]))))
            kept = rows.filter(pc.is_null(rows["reason"])).select(TELEMETRY_SCHEMA.names)
            dropped = rows.filter(pc.is_valid(rows["reason"])).drop_columns(["hour"])
            self.kept[hour].append(kept.cast(TELEMETRY_SCHEMA))
            self.dropped[hour].append(dropped)
            self._count(rows.num_rows, kept.num_rows, dropped)

    def _count(self, rows: int, kept: int, dropped: pa.Table) -> None:
        self.rows += rows
        self.result.rows_in += rows
        self.result.rows_out += kept
        counts = pc.value_counts(dropped["reason"]).to_pylist() if dropped.num_rows else []
        for item in counts:
            reason = item["values"]
            self.result.dropped[reason] = self.result.dropped.get(reason, 0) + item["counts"]

    def remove_unwritten(self) -> int:
        """After a full refresh: remove the hour files no vehicle-hour of bronze wrote."""
        return sum(
            self.lake.remove_files_except(*folder, keep=self.written)
            for folder in (SILVER, SILVER_QUARANTINE)
        )

    def flush(self) -> None:
        """Rewrite every hour file with held rows (or recomputed vehicles) once."""
        for hour, vins in sorted(self.vins.items()):
            for folder, held in ((SILVER, self.kept), (SILVER_QUARANTINE, self.dropped)):
                self._merge(hour_parts(folder, hour), vins, held.get(hour, []))
        self.vins.clear()
        self.kept.clear()
        self.dropped.clear()
        self.rows = 0

    def _merge(self, parts: tuple[str, ...], vins: set[str], fresh: list[pa.Table]) -> None:
        tables = [t for t in fresh if t.num_rows]
        path = self.lake.path(*parts)
        keep_old = not self.rewrite or path in self.written
        self.written.add(path)
        if keep_old and self.lake.exists(*parts):
            old = self.lake.read_parquet(*parts)
            tables.insert(0, old.filter(pc.invert(pc.is_in(old["vin"], pa.array(sorted(vins))))))
        tables = [t for t in tables if t.num_rows]
        if tables:
            merged = pa.concat_tables(tables, promote_options="permissive").sort_by(ORDER)
            self.lake.write_parquet(merged, *parts)
        elif self.lake.exists(*parts):
            self.lake.fs.rm(self.lake.path(*parts))
