"""Trips queries and commands; the API, the CLI and the dashboard are thin over these."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import NotFound
from fleetlake.platform import sources as platform_sources
from fleetlake.platform.jobs import create_job
from fleetlake.platform.redact import redact_text
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
# The hottest read, compiled once to text: Core would walk the statement for its cache key
# on every call, half the cost of the whole lookup.
TRIP_BY_ID = sa.text(
    str(sa.select(*TRIP_COLUMNS).where(trips.c.id == sa.bindparam("trip_id")))
).columns(*TRIP_COLUMNS)


CSV_SUFFIXES = (".csv", ".csv.gz")


def resolve_sources(
    specs: list[str], *, settings: Settings, restrict_to: list[Path] | None = None
) -> list[str]:
    """Expand folders to their CSV files and refuse what cannot be ingested, before queuing."""
    return platform_sources.resolve_sources(
        specs, settings=settings, suffixes=CSV_SUFFIXES, restrict_to=restrict_to
    )


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
    row = connection.execute(TRIP_BY_ID, {"trip_id": trip_id}).first()
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
            "source": redact_text(r["source"]),
            "line": r["line"],
            "raw": r["raw"],
            "reason": r["reason"],
            "created_at": r["created_at"].isoformat(),
        }
        for r in rows
    ]
