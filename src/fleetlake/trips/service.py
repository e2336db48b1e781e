"""Trips queries and commands; the API, the CLI and the dashboard are thin over these."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import h3
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import InvalidParameter, NotFound
from fleetlake.platform import fetch
from fleetlake.platform.jobs import create_job
from fleetlake.settings import Settings
from fleetlake.trips.areas import BBox, Match, area_condition
from fleetlake.trips.ingest import JOB_KIND
from fleetlake.trips.models import trip_quarantine, trips

TRIP_COLUMNS = (
    trips.c.id,
    trips.c.region,
    trips.c.origin_lon,
    trips.c.origin_lat,
    trips.c.destination_lon,
    trips.c.destination_lat,
    trips.c.datetime,
    trips.c.datasource,
)


def resolve_sources(
    specs: list[str], *, settings: Settings, restrict_to: list[Path] | None = None
) -> list[str]:
    """Expand folders to their CSV files and refuse what cannot be ingested, before queuing.

    `restrict_to` (used by the API) keeps remote callers inside the import folders.
    """
    if not specs:
        raise InvalidParameter("sources", "give at least one path, folder or URL to ingest")
    resolved: list[str] = []
    for spec in specs:
        if fetch.is_url(spec):
            fetch.check_url_allowed(spec, allow_private=settings.allow_private_urls)
            resolved.append(spec)
            continue
        path = Path(spec).expanduser().resolve()
        if restrict_to is not None and not any(path.is_relative_to(d) for d in restrict_to):
            allowed = ", ".join(str(d) for d in restrict_to)
            raise InvalidParameter("sources", f"{spec} is outside the import folders ({allowed})")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.endswith((".csv", ".csv.gz")))
            if not found:
                raise InvalidParameter("sources", f"folder {spec} holds no .csv or .csv.gz file")
            resolved.extend(str(p) for p in found)
        elif path.is_file():
            resolved.append(str(path))
        else:
            raise InvalidParameter("sources", f"{spec} does not exist")
    return resolved


def queue_ingestion(engine: Engine, *, sources: list[str], force: bool) -> int:
    return create_job(engine, kind=JOB_KIND, params={"sources": sources, "force": force})


def trip_row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "region": row.region,
        "datetime": row.datetime.isoformat(),
        "datasource": row.datasource,
        "origin": {"lon": row.origin_lon, "lat": row.origin_lat},
        "destination": {"lon": row.destination_lon, "lat": row.destination_lat},
    }


def get_trip(connection: Connection, *, trip_id: int) -> Any:
    row = connection.execute(sa.select(*TRIP_COLUMNS).where(trips.c.id == trip_id)).first()
    if row is None:
        raise NotFound(f"trip {trip_id} does not exist", field="id")
    return row


def list_trips(
    connection: Connection,
    *,
    region: str | None = None,
    bbox: BBox | None = None,
    match: Match = Match.origin,
    start: datetime | None = None,
    end: datetime | None = None,
    datasource: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[Any]:
    """Trips in id order after `after_id` (keyset pagination: stable and index-only)."""
    query = sa.select(*TRIP_COLUMNS).where(
        area_condition(region=region, bbox=bbox, match=match), trips.c.id > after_id
    )
    if start is not None:
        query = query.where(trips.c.datetime >= start)
    if end is not None:
        query = query.where(trips.c.datetime < end)
    if datasource is not None:
        query = query.where(trips.c.datasource == datasource)
    return list(connection.execute(query.order_by(trips.c.id).limit(limit)))


def day_range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Inclusive dates → [start 00:00 UTC, day after end 00:00 UTC)."""
    if start and end and end < start:
        raise InvalidParameter("end", f"end {end} is before start {start}")
    low = datetime.combine(start, time(), UTC) if start else None
    high = datetime.combine(end + timedelta(days=1), time(), UTC) if end else None
    return low, high


def iso_weeks(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    """Every ISO (year, week) from `first` to `last` inclusive."""
    monday = date.fromisocalendar(first[0], first[1], 1)
    end = date.fromisocalendar(last[0], last[1], 1)
    weeks = []
    while monday <= end:
        year, week, _ = monday.isocalendar()
        weeks.append((year, week))
        monday += timedelta(days=7)
    return weeks


def weekly_average(
    connection: Connection,
    *,
    region: str | None = None,
    bbox: BBox | None = None,
    match: Match = Match.origin,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """Average trips per ISO week, counting every week of the window, empty ones included.

    The window is the user's date range, else the first to the last week with data in the area.
    """
    if region is None and bbox is None:
        raise InvalidParameter("region", "give a region or a bbox")
    low, high = day_range(start, end)
    query = sa.select(trips.c.iso_year, trips.c.iso_week, sa.func.count()).where(
        area_condition(region=region, bbox=bbox, match=match)
    )
    if low is not None:
        query = query.where(trips.c.datetime >= low)
    if high is not None:
        query = query.where(trips.c.datetime < high)
    counts = {
        (int(y), int(w)): int(n)
        for y, w, n in connection.execute(query.group_by(trips.c.iso_year, trips.c.iso_week))
    }
    first = start.isocalendar()[:2] if start else min(counts, default=None)
    last = end.isocalendar()[:2] if end else max(counts, default=None)
    weeks = iso_weeks(first, last) if first and last else []
    total = sum(counts.values())
    return {
        "weekly_average": total / len(weeks) if weeks else 0.0,
        "weeks": len(weeks),
        "trips": total,
        "per_week": [{"year": y, "week": w, "trips": counts.get((y, w), 0)} for y, w in weeks],
    }


def trip_groups(
    connection: Connection,
    *,
    settings: Settings,
    region: str | None = None,
    bbox: BBox | None = None,
    match: Match = Match.origin,
    min_count: int = 1,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Groups of similar trips: same origin cell, destination cell and time-of-day bucket."""
    key = (trips.c.origin_cell, trips.c.destination_cell, trips.c.time_bucket)
    count = sa.func.count().label("trips")
    rows = connection.execute(
        sa.select(
            *key,
            count,
            sa.func.min(trips.c.datetime),
            sa.func.max(trips.c.datetime),
            sa.func.avg(trips.c.origin_lon),
            sa.func.avg(trips.c.origin_lat),
            sa.func.avg(trips.c.destination_lon),
            sa.func.avg(trips.c.destination_lat),
        )
        .where(area_condition(region=region, bbox=bbox, match=match))
        .group_by(*key)
        .having(sa.func.count() >= min_count)
        .order_by(count.desc(), *key)
        .limit(limit)
    ).all()
    regions = _group_regions(connection, [tuple(r[:3]) for r in rows])
    bucket = settings.time_bucket_minutes
    return [
        {
            "origin_cell": h3.int_to_str(r[0]),
            "destination_cell": h3.int_to_str(r[1]),
            "time_bucket": r[2],
            "time_window": {"start": _clock(r[2] * bucket), "end": _clock((r[2] + 1) * bucket)},
            "trips": r[3],
            "regions": regions.get(tuple(r[:3]), []),
            "first_seen": _utc(r[4]).isoformat(),
            "last_seen": _utc(r[5]).isoformat(),
            "origin": {"lon": r[6], "lat": r[7]},
            "destination": {"lon": r[8], "lat": r[9]},
        }
        for r in rows
    ]


def _group_regions(
    connection: Connection, keys: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], list[str]]:
    if not keys:
        return {}
    key = sa.tuple_(trips.c.origin_cell, trips.c.destination_cell, trips.c.time_bucket)
    found: dict[tuple[Any, ...], list[str]] = {}
    for *group, region in connection.execute(
        sa.select(
            trips.c.origin_cell, trips.c.destination_cell, trips.c.time_bucket, trips.c.region
        )
        .distinct()
        .where(key.in_(keys))
        .order_by(trips.c.region)
    ):
        found.setdefault(tuple(group), []).append(region)
    return found


def _clock(minutes: int) -> str:
    minutes = min(minutes, 24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _utc(value: datetime) -> datetime:
    """min()/max() over a DateTime bypass the column type on SQLite and come back as text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def weekly_counts_by_region(connection: Connection) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(trips.c.region, trips.c.iso_year, trips.c.iso_week, sa.func.count())
        .group_by(trips.c.region, trips.c.iso_year, trips.c.iso_week)
        .order_by(trips.c.region, trips.c.iso_year, trips.c.iso_week)
    )
    return [{"region": r, "year": y, "week": w, "trips": n} for r, y, w, n in rows]


def list_quarantine(
    connection: Connection, *, job_id: int | None = None, limit: int = 100, after_id: int = 0
) -> list[dict[str, Any]]:
    query = sa.select(trip_quarantine).where(trip_quarantine.c.id > after_id)
    if job_id is not None:
        query = query.where(trip_quarantine.c.job_id == job_id)
    rows = connection.execute(query.order_by(trip_quarantine.c.id).limit(limit)).mappings()
    return [
        {
            "id": r["id"],
            "job_id": r["job_id"],
            "source": r["source"],
            "line": r["line"],
            "raw": r["raw"],
            "reason": r["reason"],
            "created_at": r["created_at"].isoformat(),
        }
        for r in rows
    ]
