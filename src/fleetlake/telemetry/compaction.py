"""Daily compaction: a day's buffer files → `bronze/telemetry/date=YYYY-MM-DD/<VIN>.parquet`.

Per vehicle and day: the compacted file so far plus the buffer files not yet in it are
written as one new file (zstd, sorted by ts), atomically, naming in its metadata the buffer
files it took in; it is read back and checked (rows and a sum of row hashes) before those
buffer files are deleted. So a crash anywhere loses nothing and duplicates nothing: before
the new file is in place the buffers are merged again next time; after, the next run sees
them named in the file and only deletes them. Late data for a compacted day lands in new
buffer files and is merged by the next compaction of that day.
"""

from __future__ import annotations

import json
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fleetlake.errors import ServiceError
from fleetlake.platform.failures import working_on
from fleetlake.platform.jobs import JobContext, register_job_kind
from fleetlake.platform.lake import Lake
from fleetlake.telemetry.bronze import BUFFER
from fleetlake.telemetry.schema import TELEMETRY_SCHEMA

COMPACTED = ("bronze", "telemetry")
MERGED_KEY = b"fleetlake.merged_buffers"
_COLUMNS = ", ".join(f'"{name}"' for name in TELEMETRY_SCHEMA.names)  # our schema's own names
FINGERPRINT_SQL = f"SELECT count(*), sum(hash({_COLUMNS})) FROM rows"  # noqa: S608
SORT_KEYS = [("ts", "ascending"), ("received_at", "ascending")]


@dataclass
class DayResult:
    vin: str
    day: date
    buffer_files: int = 0
    rows_added: int = 0
    rows_total: int = 0
    stale_deleted: int = 0  # buffers a crashed run had merged but not yet deleted


@dataclass
class CompactionResult:
    days: list[DayResult] = field(default_factory=list)

    @property
    def rows_added(self) -> int:
        return sum(d.rows_added for d in self.days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vehicle_days": len(self.days),
            "buffer_files": sum(d.buffer_files for d in self.days),
            "rows_added": self.rows_added,
            "stale_deleted": sum(d.stale_deleted for d in self.days),
        }


def compacted_path(day: date, vin: str) -> tuple[str, ...]:
    return (*COMPACTED, f"date={day.isoformat()}", f"{vin}.parquet")


def buffered_vehicle_days(lake: Lake, *, day: date | None = None) -> list[tuple[str, date]]:
    """(VIN, day) pairs that have buffer files, optionally for one day only."""
    pattern = lake.path(*BUFFER, "*", f"date={day.isoformat()}" if day else "date=*")
    found = []
    for folder in lake.fs.glob(pattern):
        vin = posixpath.basename(posixpath.dirname(folder))
        found.append((vin, date.fromisoformat(posixpath.basename(folder).removeprefix("date="))))
    return sorted(found)


def compact(
    lake: Lake,
    *,
    day: date | None = None,
    before: date | None = None,
    on_progress: Callable[[CompactionResult, int], None] | None = None,
) -> CompactionResult:
    """Compact one day, or every buffered day before `before` (default: today, UTC);
    `on_progress(result, vehicle-days to do)` after each vehicle-day."""
    import duckdb

    limit = before or datetime.now(UTC).date()
    result = CompactionResult()
    connection = duckdb.connect()  # one for every fingerprint of the run (~20 ms to open)
    try:
        todo = [
            (vin, buffered_day)
            for vin, buffered_day in buffered_vehicle_days(lake, day=day)
            if day is not None or buffered_day < limit  # today's buffer is still being written
        ]
        for vin, buffered_day in todo:
            with working_on(stage="compaction", vehicle=vin, day=buffered_day):
                day_result = compact_vehicle_day(
                    lake, vin=vin, day=buffered_day, connection=connection
                )
            result.days.append(day_result)
            if on_progress is not None:
                on_progress(result, len(todo))
    finally:
        connection.close()
    return result


def compact_vehicle_day(lake: Lake, *, vin: str, day: date, connection: Any = None) -> DayResult:
    result = DayResult(vin=vin, day=day)
    target = compacted_path(day, vin)
    existing, merged_before = _read_compacted(lake, target)
    buffers = lake.list_files(*BUFFER, vin, f"date={day.isoformat()}")
    fresh = [path for path in buffers if posixpath.basename(path) not in merged_before]
    for stale in set(buffers) - set(fresh):
        lake.fs.rm(stale)
        result.stale_deleted += 1
    if not fresh:
        result.rows_total = existing.num_rows if existing is not None else 0
        return result
    parts = ([existing] if existing is not None else []) + [_read(lake, p) for p in fresh]
    table = pa.concat_tables(parts).sort_by(SORT_KEYS)
    expected = fingerprint(table, connection=connection)
    names = json.dumps(sorted(posixpath.basename(p) for p in fresh)).encode()
    lake.write_parquet(table.replace_schema_metadata({MERGED_KEY: names}), *target)
    written, _ = _read_compacted(lake, target)
    if written is None or fingerprint(written, connection=connection) != expected:
        raise ServiceError(
            f"the compacted file {lake.path(*target)} does not read back as written; its "
            "buffer files are kept: check the disk and run the compaction again"
        )
    for path in fresh:
        lake.fs.rm(path)
    _remove_empty_folders(lake, vin, day)
    result.buffer_files = len(fresh)
    result.rows_added = table.num_rows - (existing.num_rows if existing is not None else 0)
    result.rows_total = table.num_rows
    return result


def fingerprint(table: pa.Table, *, connection: Any = None) -> tuple[int, int]:
    """(rows, sum of row hashes): equal for the same rows in any order, additive over parts."""
    import duckdb

    own = connection is None
    connection = duckdb.connect() if own else connection
    connection.register("rows", table.select(TELEMETRY_SCHEMA.names))
    try:
        [row] = connection.execute(FINGERPRINT_SQL).fetchall()  # all: the result is done
    finally:
        connection.unregister("rows")
        if own:
            connection.close()
    return int(row[0]), int(row[1] or 0)


def _read(lake: Lake, path: str) -> pa.Table:
    with lake.fs.open(path, "rb") as handle:
        return pq.read_table(handle).replace_schema_metadata(None).cast(TELEMETRY_SCHEMA)


def _read_compacted(lake: Lake, parts: tuple[str, ...]) -> tuple[pa.Table | None, set[str]]:
    if not lake.exists(*parts):
        return None, set()
    with lake.fs.open(lake.path(*parts), "rb") as handle:
        table = pq.read_table(handle)
    merged = json.loads((table.schema.metadata or {}).get(MERGED_KEY, b"[]"))
    return table.replace_schema_metadata(None).cast(TELEMETRY_SCHEMA), set(merged)


def _remove_empty_folders(lake: Lake, vin: str, day: date) -> None:
    for parts in ((*BUFFER, vin, f"date={day.isoformat()}"), (*BUFFER, vin)):
        folder = lake.path(*parts)
        if lake.fs.exists(folder) and not lake.fs.ls(folder):
            lake.fs.rmdir(folder)


JOB_KIND = "telemetry.compact"
TELEMETRY_LOCK = "telemetry"  # held by compactions and pipeline runs: one at a time


def compact_job(context: JobContext) -> None:
    """The job form: `params["date"]` one day (ISO), or every buffered day before today."""
    from fleetlake.settings import get_settings

    day = date.fromisoformat(context.params["date"]) if context.params.get("date") else None

    def counted(result: CompactionResult, total: int, *, force: bool = False) -> None:
        context.counted(stage="compaction", unit="vehicle-days", done=len(result.days),
                        total=total, rows_done=result.rows_added, force=force)  # fmt: skip

    started = time.monotonic()
    lake = Lake(get_settings().resolved_lake_uri)
    with lake.exclusive(TELEMETRY_LOCK):  # silver never reads a buffer being deleted
        result = compact(lake, day=day, on_progress=counted)
    counted(result, len(result.days), force=True)
    summary = result.to_dict() | {
        "name": f"compaction of {day.isoformat() if day else 'every day before today'}",
        "status": "compacted",
        "rows_loaded": result.rows_added,
        "rows_quarantined": 0,
        "date": day.isoformat() if day else None,
        "duration_s": round(time.monotonic() - started, 3),
    }
    context.set_results([summary])
    context.event("compacted", **summary)
    context.log("compaction: %s", summary)


def drop_merged_buffers(engine: Any, job_id: int) -> None:
    """After a compaction died between writing a day file and deleting its buffers: the
    buffers that file already holds go, so a plain glob over bronze counts each row once."""
    from fleetlake.settings import get_settings

    lake = Lake(get_settings().resolved_lake_uri)
    for vin, day in buffered_vehicle_days(lake):
        target = compacted_path(day, vin)
        if not lake.exists(*target):
            continue
        with lake.fs.open(lake.path(*target), "rb") as handle:
            metadata = pq.read_schema(handle).metadata or {}
        merged = set(json.loads(metadata.get(MERGED_KEY, b"[]")))
        for path in lake.list_files(*BUFFER, vin, f"date={day.isoformat()}"):
            if posixpath.basename(path) in merged:
                lake.fs.rm(path)
    lake.remove_temporaries(*BUFFER[:2])


register_job_kind(JOB_KIND, compact_job, recover=drop_merged_buffers)
