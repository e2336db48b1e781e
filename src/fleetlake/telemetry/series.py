"""A vehicle's telemetry over time, read from silver with DuckDB (not the serving DB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleetlake.errors import InvalidParameter
from fleetlake.platform.lake import Lake
from fleetlake.telemetry.models import TEXT_MEASURES
from fleetlake.telemetry.schema import MEASURES
from fleetlake.telemetry.silver_hours import SILVER, hour_of_file

MAX_ROWS = 100_000  # one answer; narrow the time range or use `every` for more
MAX_DAYS = 366


def vehicle_series(
    lake: Lake,
    *,
    vin: str,
    start: datetime,
    end: datetime,
    fields: list[str] | None,
    every_s: int | None,
) -> dict[str, Any]:
    """Rows of `fields` (default all) between start (inclusive) and end (exclusive); with
    `every_s`, one row per bucket: numbers averaged, words the bucket's last."""
    chosen = _fields(fields)
    if end <= start:
        raise InvalidParameter("end", f"end {end.isoformat()} must be after start")
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidParameter("end", f"at most {MAX_DAYS} days in one request")
    paths = _hour_files(lake, start=start, end=end)
    if not paths:
        return {"vin": vin, "fields": chosen, "every_s": every_s, "data": []}
    connection = lake.duckdb(memory_limit_mb=512)
    connection.execute("SET TimeZone = 'UTC'")
    connection.read_parquet(lake.duckdb_paths(paths)).create_view("rows")
    # Arrow, not fetchall: DuckDB hands out aware datetimes only through pytz otherwise.
    table = connection.sql(_query(chosen, every_s), params=[vin, start, end]).to_arrow_table()
    connection.close()
    if table.num_rows > MAX_ROWS:
        raise InvalidParameter(
            "every", f"more than {MAX_ROWS:,} rows: narrow start/end or give every (seconds)"
        )
    data = [
        {"ts": row.pop("ts").isoformat(), **row}
        for row in table.rename_columns(["ts", *chosen]).to_pylist()
    ]
    return {"vin": vin, "fields": chosen, "every_s": every_s, "data": data}


def _hour_files(lake: Lake, *, start: datetime, end: datetime) -> list[str]:
    """Silver's hour files between start and end: one listing a day, not a look an hour."""
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    day, found = first.date(), []
    while day <= end.astimezone(UTC).date():
        for path in lake.list_files(*SILVER, f"date={day}"):
            hour = hour_of_file(path)
            if hour is not None and first <= hour < end:
                found.append(path)
        day += timedelta(days=1)
    return found


def _fields(fields: list[str] | None) -> list[str]:
    if not fields:
        return list(MEASURES)
    unknown = [f for f in fields if f not in MEASURES]
    if unknown:
        raise InvalidParameter(
            "fields", f"{unknown[0]!r} is not a field; use any of {', '.join(MEASURES)}"
        )
    return list(dict.fromkeys(fields))


def _query(fields: list[str], every_s: int | None) -> str:
    where = "WHERE vin = ? AND ts >= ? AND ts < ?"  # hour files hold every vehicle
    if every_s is None:
        return f"SELECT ts, {', '.join(fields)} FROM rows {where} ORDER BY ts LIMIT {MAX_ROWS + 1}"  # noqa: S608
    bucket = (
        f"time_bucket(INTERVAL '{int(every_s)} seconds', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    )
    parts = [
        f"arg_max({f}, ts) AS {f}" if f in TEXT_MEASURES else f"avg({f}) AS {f}" for f in fields
    ]
    return (
        f"SELECT {bucket} AS bucket, {', '.join(parts)} FROM rows {where} "  # noqa: S608
        f"GROUP BY bucket ORDER BY bucket LIMIT {MAX_ROWS + 1}"
    )
