"""Telemetry commands; the API, the CLI and the dashboard are thin over these."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import InvalidParameter, NotFound
from fleetlake.platform import sources as platform_sources
from fleetlake.platform.jobs import create_job
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings
from fleetlake.telemetry import compaction
from fleetlake.telemetry.files import SUFFIXES
from fleetlake.telemetry.gold import GOLD
from fleetlake.telemetry.ingest import JOB_KIND as INGEST_KIND
from fleetlake.telemetry.models import vehicle_state
from fleetlake.telemetry.providers import adapter_for
from fleetlake.telemetry.schema import MEASURES


def queue_ingestion(
    engine: Engine,
    *,
    sources: list[str],
    settings: Settings,
    provider: str = "canonical",
    mapping: Path | None = None,
    force: bool = False,
    restrict_to: list[Path] | None = None,
) -> int:
    """Check the sources and the provider (or mapping) now, then queue the job."""
    resolved = platform_sources.resolve_sources(
        sources, settings=settings, suffixes=SUFFIXES, restrict_to=restrict_to
    )
    adapter_for(provider, mapping=mapping)  # an unknown name or a bad mapping fails here
    params = {
        "sources": resolved,
        "provider": provider,
        "mapping": str(mapping.resolve()) if mapping else None,
        "force": force,
    }
    return create_job(engine, kind=INGEST_KIND, params=params)


def queue_compaction(engine: Engine, *, day: date | None) -> int:
    params = {"date": day.isoformat() if day else None}
    return create_job(engine, kind=compaction.JOB_KIND, params=params)


def vehicle_object(row: Any) -> dict[str, Any]:
    """A vehicle's last state: the canonical fields at the top, when each was seen beside."""
    found: dict[str, Any] = {"vin": row["vin"], "last_ts": _iso(row["last_ts"])}
    found |= {name: row[name] for name in MEASURES}
    found["seen_at"] = {name: _iso(row[f"{name}_at"]) for name in MEASURES}
    found["source"] = row["source"]
    return found


def list_vehicles(connection: Connection, *, limit: int, after: str | None) -> dict[str, Any]:
    """Vehicles by VIN, a page at a time (`after` = the previous page's `next_after`)."""
    query = sa.select(vehicle_state).order_by(vehicle_state.c.vin).limit(limit + 1)
    if after is not None:
        query = query.where(vehicle_state.c.vin > after)
    rows = connection.execute(query).mappings().all()
    page = [vehicle_object(row) for row in rows[:limit]]
    return {"data": page, "next_after": page[-1]["vin"] if len(rows) > limit else None}


def get_vehicle(connection: Connection, *, vin: str) -> dict[str, Any]:
    row = (
        connection.execute(sa.select(vehicle_state).where(vehicle_state.c.vin == vin))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(
            f"no vehicle {vin!r} in gold: ingest its telemetry and run `fleetlake pipeline run`",
            field="vin",
        )
    return vehicle_object(row)


def top_speeds(lake: Lake, *, day: date, hour: int | None) -> dict[str, Any]:
    """The day's top-10 rows (of one UTC hour if given) from gold."""
    parts = (*GOLD, "top_speeds", f"date={day}", "part.parquet")
    rows = lake.read_parquet(*parts).to_pylist() if lake.exists(*parts) else []
    if hour is not None:
        rows = [row for row in rows if row["hour"].hour == hour]
    return {"data": [{k: _iso(v) for k, v in row.items()} for row in rows]}


MAX_DAILY_DAYS = 366


def daily_stats(
    connection: Connection, *, lake: Lake, vin: str, start: date, end: date
) -> dict[str, Any]:
    """The vehicle's gold daily stats (distance, speeds, SoC, energy) from `start` to `end`
    inclusive; a day it did not report has no row."""
    if end < start or (end - start).days >= MAX_DAILY_DAYS:
        raise InvalidParameter(
            "end",
            f"{start}..{end} is not a span of 1 to {MAX_DAILY_DAYS} days: pick an end "
            "on or after the start, at most a year later",
        )
    get_vehicle(connection, vin=vin)  # an unknown VIN is a 404, not an empty answer
    rows = []
    for path in lake.list_files(*GOLD, "daily_stats"):  # one listing, not a lookup per day
        day = date.fromisoformat(path.rsplit("/date=", 1)[1][:10])
        if start <= day <= end:
            table = lake.read_parquet(path.removeprefix(lake.root + "/"))
            mine = table.filter(pc.equal(table["vin"], vin)).drop_columns(["vin"])
            rows += [{"date": day.isoformat(), **row} for row in mine.to_pylist()]
    return {"vin": vin, "start": start.isoformat(), "end": end.isoformat(), "data": rows}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
