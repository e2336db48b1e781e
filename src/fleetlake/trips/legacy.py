"""Queries behind the compatibility router: the original challenge API's exact answers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fleetlake.errors import InvalidParameter
from fleetlake.platform import jobs as job_service
from fleetlake.platform.redact import redact_url
from fleetlake.trips import stats
from fleetlake.trips.ingest import JOB_KIND
from fleetlake.trips.models import trips
from fleetlake.trips.service import TRIP_COLUMNS

COUNTABLE = ("region", "datasource")
STATUS_TIME = "%m/%d/%Y, %H:%M:%S"


def vehicle_record(row: Any) -> dict[str, Any]:
    """One trip as the original API printed it (coordinates as strings, RFC 1123 GMT time)."""
    return {
        "datasource": row.datasource,
        "datetime": format_datetime(row.datetime.astimezone(UTC), usegmt=True),
        "destination_coord_point_x": repr(row.destination_lon),
        "destination_coord_point_y": repr(row.destination_lat),
        "id": row.id,
        "origin_coord_point_x": repr(row.origin_lon),
        "origin_coord_point_y": repr(row.origin_lat),
        "region": row.region,
    }


def list_vehicles(
    connection: Connection, *, filters: dict[str, Any], day: date | None, limit: int
) -> list[Any]:
    columns = {
        "region": trips.c.region,
        "datasource": trips.c.datasource,
        "origin_coord_x": trips.c.origin_lon,
        "origin_coord_y": trips.c.origin_lat,
        "destination_coord_x": trips.c.destination_lon,
        "destination_coord_y": trips.c.destination_lat,
    }
    query = sa.select(*TRIP_COLUMNS)
    for name, value in filters.items():
        if value is not None:
            query = query.where(columns[name] == value)
    if day is not None:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        query = query.where(trips.c.datetime >= start, trips.c.datetime < start + timedelta(days=1))
    return list(connection.execute(query.order_by(trips.c.id).limit(limit)))


def count_by(connection: Connection, *, column: str) -> list[dict[str, Any]]:
    if column not in COUNTABLE:
        raise InvalidParameter("column", f"cannot count by {column!r}: use region or datasource")
    return [{"count": n, column: value} for value, n in stats.counts_by(connection, column=column)]


def weekly_trips(connection: Connection) -> list[dict[str, Any]]:
    """Trips per ISO week number (years merged, as the original did) and region."""
    counts: Counter[tuple[int, str]] = Counter()
    for row in stats.weekly_counts_by_region(connection):
        counts[(row["week"], row["region"])] += row["trips"]
    return [
        {"freq_trip": n, "region": region, "week_number": week}
        for (week, region), n in sorted(counts.items())
    ]


def weekly_avg_trips(connection: Connection) -> list[dict[str, Any]]:
    """Mean over the weeks that have trips, printed like PostgreSQL's numeric AVG."""
    totals: dict[str, list[int]] = {}
    for row in weekly_trips(connection):
        totals.setdefault(row["region"], []).append(row["freq_trip"])
    return [
        {"freq_avg_weekly_trips": pg_numeric_avg(sum(n), len(n)), "region": region}
        for region, n in sorted(totals.items())
    ]


def _base10000(value: int) -> tuple[int, int]:
    """(weight, first digit) of a positive integer in PostgreSQL's base-10000 numeric."""
    groups = []
    while value:
        value, digit = divmod(value, 10000)
        groups.append(digit)
    return len(groups) - 1, groups[-1]


def pg_numeric_avg(total: int, count: int) -> str:
    """`AVG(bigint)::varchar` of PostgreSQL: its select_div_scale rule, rounded half up."""
    weight1, first1 = _base10000(total)
    weight2, first2 = _base10000(count)
    quotient_weight = weight1 - weight2 - (1 if first1 <= first2 else 0)
    scale = min(max(16 - quotient_weight * 4, 0), 1000)
    with localcontext() as context:
        context.prec = 1100
        value = (Decimal(total) / Decimal(count)).quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
    return f"{value:f}"


def ingest_status(connection: Connection, *, home: Path) -> dict[str, Any]:
    """The status endpoint's three published shapes: nothing / in progress / finished."""
    latest = job_service.list_jobs(connection, kind=JOB_KIND, limit=1)
    if not latest:
        return {"review": "Nothing is being processed"}
    job = latest[0]
    start = job["started_at"] or job["created_at"]
    details = [_file_status(r, home=home) for r in job["results"]]
    if job["state"] in ("queued", "running"):
        done = {r["source"] for r in job["results"]}
        pending = [s for s in job["params"].get("sources", []) if s not in done]
        current = job["current_source"] or (pending[0] if pending else None)
        return {
            "details": details,
            "review": f"{_shown(current, home=home)}: In progress.."
            if current
            else "In progress..",
            "start_time": format_datetime(start.astimezone(UTC), usegmt=True),
        }
    finished = job["finished_at"]
    review = {"succeeded": "Process Finished", "cancelled": "Process Cancelled"}.get(
        job["state"], f"Process Failed: {job['error'] or job['state']}"
    )
    return {
        "details": details,
        "end_time": finished.strftime(STATUS_TIME),
        "lead_time": str(finished - start),
        "review": review,
        "start_time": start.strftime(STATUS_TIME),
    }


def _file_status(result: dict[str, Any], *, home: Path) -> dict[str, Any]:
    """One finished file as the original listed it."""
    started = datetime.fromisoformat(result["started_at"])
    finished = datetime.fromisoformat(result["finished_at"])
    status = result["status"]
    if status == "loaded":
        outcome = "Successful Data Ingestion"
    elif status in ("rejected", "failed"):
        outcome = f"Failed Data Ingestion: {result['reason']}"
    else:  # skipped: "already ingested", "being ingested by job N"
        outcome = f"Skipped: {status}"
    return {
        "file": _shown(result["source"], home=home),
        "lead_time": str(finished - started),
        "num_rows": result["rows_loaded"],
        "result": outcome,
    }


def _shown(source: str, *, home: Path) -> str:
    """A file as the original showed it, relative to the install (`data/raw/trips.csv`);
    a file elsewhere by its name only, so no server path is shown."""
    if "://" in source:
        return redact_url(source)
    path = Path(source)
    return str(path.relative_to(home)) if path.is_relative_to(home) else path.name
