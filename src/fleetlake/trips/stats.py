"""Weekly averages, similar-trip groups and counts, read from the rollups.

Rollups hold published files only (see rollups.py), so every answer here is an exact
aggregate of those trips, whatever the size of the `trips` table.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import h3
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fleetlake.errors import InvalidParameter, NotFound
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings
from fleetlake.trips import models
from fleetlake.trips.area_counts import area_week_counts
from fleetlake.trips.areas import BBox, Match
from fleetlake.trips.models import trip_day_counts

Week = tuple[int, int]


def iso_weeks(first: Week, last: Week) -> list[Week]:
    """Every ISO (year, week) from `first` to `last` inclusive."""
    monday = date.fromisocalendar(first[0], first[1], 1)
    end = date.fromisocalendar(last[0], last[1], 1)
    weeks = []
    while monday <= end:
        year, week, _ = monday.isocalendar()
        weeks.append((year, week))
        monday += timedelta(days=7)
    return weeks


def known_region(connection: Connection, region: str) -> str:
    """The region as stored, matched case-insensitively (`prague` is Prague); an unknown one
    is a 404 that lists the known regions, never a confident zero."""
    names = connection.execute(sa.select(trip_day_counts.c.region).distinct()).scalars().all()
    wanted = region.strip().casefold()
    for name in names:
        if name.casefold() == wanted:
            return str(name)
    known = sorted(names)
    listed = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    raise NotFound(
        f"no trips in region {region[:100]!r}: known regions are {listed or 'none yet'}",
        field="region",
        known=known[:100],
    )


def weekly_average(
    connection: Connection,
    *,
    lake: Lake,
    region: str | None = None,
    bbox: BBox | None = None,
    match: Match = Match.origin,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """Average trips per ISO week, counting every week of the window, empty ones included.

    The window is the user's date range, else the first to the last week with data in the area.
    """
    if (region is None) == (bbox is None):
        raise InvalidParameter("region", "give a region or a bbox (one of them)")
    if start and end and end < start:
        raise InvalidParameter("end", f"end {end} is before start {start}")
    if bbox is None:
        region = known_region(connection, str(region))
        counts = _region_week_counts(connection, region=region, start=start, end=end)
    else:
        counts = area_week_counts(connection, lake, bbox=bbox, match=match, start=start, end=end)
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


def _region_week_counts(
    connection: Connection, *, region: str | None, start: date | None, end: date | None
) -> Counter[Week]:
    """From the per-day rollup: exact for any date range."""
    query = sa.select(trip_day_counts.c.day, sa.func.sum(trip_day_counts.c.trips)).where(
        trip_day_counts.c.region == region
    )
    if start:
        query = query.where(trip_day_counts.c.day >= start)
    if end:
        query = query.where(trip_day_counts.c.day <= end)
    counts: Counter[Week] = Counter()
    for day, n in connection.execute(query.group_by(trip_day_counts.c.day)):
        counts[day.isocalendar()[:2]] += int(n)
    return counts


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
    """Groups of similar trips (region, origin cell, destination cell, time-of-day bucket).

    A bbox keeps the groups whose representative (mean) endpoint(s) lie in it.
    """
    g = models.trip_groups
    query = sa.select(g).where(g.c.trips >= min_count)
    if region is not None:
        query = query.where(g.c.region == known_region(connection, region))
    if bbox is not None:
        origin = bbox.contains(g.c.origin_lon_sum / g.c.trips, g.c.origin_lat_sum / g.c.trips)
        destination = bbox.contains(
            g.c.destination_lon_sum / g.c.trips, g.c.destination_lat_sum / g.c.trips
        )
        query = query.where(
            {
                Match.origin: origin,
                Match.destination: destination,
                Match.both: sa.and_(origin, destination),
                Match.either: sa.or_(origin, destination),
            }[match]
        )
    order = (g.c.trips.desc(), g.c.region, g.c.origin_cell, g.c.destination_cell, g.c.time_bucket)
    rows = connection.execute(query.order_by(*order).limit(limit)).mappings()
    return [_group(row, settings.trips.time_bucket_minutes) for row in rows]


def _group(row: Any, bucket: int) -> dict[str, Any]:
    n = row["trips"]
    return {
        "region": row["region"],
        "regions": [row["region"]],
        "origin_cell": h3.int_to_str(row["origin_cell"]),
        "destination_cell": h3.int_to_str(row["destination_cell"]),
        "time_bucket": row["time_bucket"],
        "time_window": {
            "start": _clock(row["time_bucket"] * bucket),
            "end": _clock((row["time_bucket"] + 1) * bucket),
        },
        "trips": n,
        "first_seen": row["first_seen"].isoformat(),
        "last_seen": row["last_seen"].isoformat(),
        "origin": {"lon": row["origin_lon_sum"] / n, "lat": row["origin_lat_sum"] / n},
        "destination": {
            "lon": row["destination_lon_sum"] / n,
            "lat": row["destination_lat_sum"] / n,
        },
    }


def _clock(minutes: int) -> str:
    minutes = min(minutes, 24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def counts_by(connection: Connection, *, column: str) -> list[tuple[str, int]]:
    """Trips per region or per datasource."""
    target = trip_day_counts.c[column]
    rows = connection.execute(
        sa.select(target, sa.func.sum(trip_day_counts.c.trips)).group_by(target).order_by(target)
    )
    return [(value, int(n)) for value, n in rows]


def weekly_counts_by_region(connection: Connection) -> list[dict[str, Any]]:
    """Trips per region and ISO week (year, week)."""
    counts: Counter[tuple[str, int, int]] = Counter()
    rows = connection.execute(
        sa.select(
            trip_day_counts.c.region, trip_day_counts.c.day, sa.func.sum(trip_day_counts.c.trips)
        ).group_by(trip_day_counts.c.region, trip_day_counts.c.day)
    )
    for region, day, n in rows:
        year, week, _ = day.isocalendar()
        counts[(region, year, week)] += int(n)
    return [
        {"region": r, "year": y, "week": w, "trips": n} for (r, y, w), n in sorted(counts.items())
    ]
