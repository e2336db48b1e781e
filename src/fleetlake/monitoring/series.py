"""A sensor's readings from silver: any range, raw or downsampled to min/mean/max buckets
(a year of 1 Hz readings draws as a thousand points)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pyarrow as pa

from fleetlake.monitoring.landing import SILVER, SILVER_SCHEMA
from fleetlake.platform.db import iso_utc
from fleetlake.platform.lake import Lake

MAX_BUCKETS = 5000
_readers = threading.local()
T = TypeVar("T")
# Times passed as ISO text and cast: DuckDB wants pytz for Python's aware datetimes.
READINGS = (
    "SELECT DISTINCT ON (ts) sensor_id, ts, ppmv FROM read_parquet(?)"
    " WHERE ts >= CAST(? AS TIMESTAMPTZ) AND ts < CAST(? AS TIMESTAMPTZ) ORDER BY ts"
)
BUCKETS = (
    "SELECT floor(epoch(ts) / ?) * ? AS bucket, min(ppmv), avg(ppmv), max(ppmv), count(*)"
    " FROM read_parquet(?) WHERE ts >= CAST(? AS TIMESTAMPTZ) AND ts < CAST(? AS TIMESTAMPTZ)"
    " GROUP BY bucket ORDER BY bucket"
)
NICE_S = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)


def day_files(lake: Lake, *, sensor_id: int, start: datetime, end: datetime) -> list[str]:
    """The silver files of a sensor's days that overlap [start, end)."""
    base = (*SILVER, f"sensor={sensor_id}")
    if not lake.exists(*base):
        return []
    first, last = start.date().isoformat(), end.date().isoformat()
    found = []
    for entry in sorted(lake.fs.ls(lake.path(*base))):
        name = entry.rsplit("/", 1)[-1]
        if name.startswith("date=") and first <= name.removeprefix("date=") <= last:
            found += lake.list_files(*base, name)
    return found


def first_reading_at(lake: Lake, *, sensor_id: int) -> datetime | None:
    """The sensor's oldest landed reading (in its first day's files)."""
    base = (*SILVER, f"sensor={sensor_id}")
    if not lake.exists(*base):
        return None
    days = sorted(e.rsplit("/", 1)[-1].removeprefix("date=") for e in lake.fs.ls(lake.path(*base))
                  if e.rsplit("/", 1)[-1].startswith("date="))  # fmt: skip
    for day in days:
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        found = readings_between(lake, sensor_id=sensor_id, start=start,
                                 end=start + timedelta(days=1))  # fmt: skip
        if found.num_rows:
            moment: datetime = found["ts"][0].as_py()
            return moment
    return None


def readings_between(lake: Lake, *, sensor_id: int, start: datetime, end: datetime) -> pa.Table:
    """Every reading in [start, end), by time."""

    def read(db: Any, files: list[str]) -> pa.Table:
        given = [lake.duckdb_paths(files), iso_utc(start), iso_utc(end)]
        return db.sql(READINGS, params=given).to_arrow_table()

    table = on_day_files(lake, sensor_id=sensor_id, start=start, end=end, read=read)
    return SILVER_SCHEMA.empty_table() if table is None else table.cast(SILVER_SCHEMA)


def on_day_files(
    lake: Lake,
    *,
    sensor_id: int,
    start: datetime,
    end: datetime,
    read: Callable[[Any, list[str]], T],
) -> T | None:
    """`read(db, files)` over the day files (None when there are none), listed again once
    when a file went away meanwhile (compaction replaced it)."""
    import duckdb

    for attempt in range(2):
        files = day_files(lake, sensor_id=sensor_id, start=start, end=end)
        if not files:
            return None
        try:
            return read(_reader(lake), files)
        except duckdb.IOException:
            if attempt:
                raise
    return None


def _reader(lake: Lake) -> Any:
    """This thread's DuckDB connection to the lake, made once: a connection costs ~10 ms, more
    than reading a sensor's new minutes (a connection is not shared between threads)."""
    readers = _readers.__dict__.setdefault("by_lake", {})
    if lake.root not in readers:
        readers[lake.root] = lake.duckdb(memory_limit_mb=512)
    return readers[lake.root]


def bucket_seconds(start: datetime, end: datetime, every_s: float | None) -> int:
    """The bucket asked for, or the smallest nice one giving at most ~1,000 buckets; never
    more than MAX_BUCKETS."""
    span_s = max((end - start).total_seconds(), 1.0)
    wanted = every_s or span_s / 1000
    wanted = max(wanted, span_s / MAX_BUCKETS)
    return next((n for n in NICE_S if n >= wanted), int(wanted))


def downsampled(
    lake: Lake, *, sensor_id: int, start: datetime, end: datetime, every_s: float | None
) -> dict[str, Any]:
    every = bucket_seconds(start, end, every_s)

    def read(db: Any, files: list[str]) -> list[Any]:
        given = [every, every, lake.duckdb_paths(files), iso_utc(start), iso_utc(end)]
        return list(db.execute(BUCKETS, given).fetchall())

    rows = on_day_files(lake, sensor_id=sensor_id, start=start, end=end, read=read) or []
    points = [{"ts": iso_utc(datetime.fromtimestamp(b, UTC)), "min": lo, "mean": mean,
               "max": hi, "count": n} for b, lo, mean, hi, n in rows]  # fmt: skip
    return {"sensor_id": sensor_id, "start": iso_utc(start), "end": iso_utc(end),
            "every_s": every, "data": points}  # fmt: skip


def window(start: datetime | None, end: datetime | None, *, latest: datetime | None,
           default: timedelta = timedelta(days=1)) -> tuple[datetime, datetime]:  # fmt: skip
    """The range asked for; by default the day up to the sensor's newest reading."""
    last = end or (latest + timedelta(microseconds=1) if latest else None)
    if last is None:
        last = datetime.now(UTC)
    return start or last - default, last
