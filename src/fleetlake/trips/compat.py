"""The original trips challenge API at its original paths, so existing clients keep working."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from fleetlake.api.deps import (
    ConnDep,
    EngineDep,
    ReadKey,
    ReadsDep,
    RunnerDep,
    SettingsDep,
    TripId,
    WriteKey,
)
from fleetlake.api.schemas import error_responses, ok
from fleetlake.trips import legacy, service
from fleetlake.trips.schemas import (
    CountBy,
    IngestStatus,
    VehicleRecord,
    VehicleRecords,
    WeeklyAvgTripsPage,
    WeeklyTripsPage,
)

router = APIRouter(prefix="/vehicles", tags=["trips (compatibility)"], dependencies=[ReadKey])


@router.get("", response_model=None, responses=ok(VehicleRecords))
async def list_vehicles(
    reads: ReadsDep,
    region: str | None = None,
    origin_coord_x: float | None = None,
    origin_coord_y: float | None = None,
    destination_coord_x: float | None = None,
    destination_coord_y: float | None = None,
    datasource: str | None = None,
    date: date | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 10,
) -> dict[str, Any]:
    filters = {
        "region": region,
        "origin_coord_x": origin_coord_x,
        "origin_coord_y": origin_coord_y,
        "destination_coord_x": destination_coord_x,
        "destination_coord_y": destination_coord_y,
        "datasource": datasource,
    }
    query = partial(legacy.list_vehicles, filters=filters, day=date, limit=limit)
    rows = await reads(query)
    return {"data": [legacy.vehicle_record(r) for r in rows]}


STARTED: dict[int | str, Any] = {200: {"content": {"text/plain": {"example": "Ingestion Started"}}}}


@router.post(
    "",
    response_class=PlainTextResponse,
    dependencies=[WriteKey],
    responses=STARTED | error_responses(400),
)
def ingest_raw_folder(engine: EngineDep, settings: SettingsDep, runner: RunnerDep) -> str:
    """Ingest every CSV in the raw folder; files already ingested are skipped."""
    sources = service.resolve_sources([str(settings.resolved_raw_dir)], settings=settings)
    runner.submit(service.queue_ingestion(engine, sources=sources, force=False))
    return "Ingestion Started"


@router.get("/ingest-data/status", response_model=None, responses=ok(IngestStatus))
def ingest_status(connection: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    return legacy.ingest_status(connection, home=settings.home_dir.expanduser().resolve())


@router.get("/weekly_trips/region", response_model=None, responses=ok(WeeklyTripsPage))
def weekly_trips(connection: ConnDep) -> dict[str, Any]:
    return {"data": legacy.weekly_trips(connection)}


@router.get("/weekly_avg_trips/region", response_model=None, responses=ok(WeeklyAvgTripsPage))
def weekly_avg_trips(connection: ConnDep) -> dict[str, Any]:
    return {"data": legacy.weekly_avg_trips(connection)}


@router.get("/{column}/count", response_model=None, responses=ok(CountBy))
def count_by(column: str, connection: ConnDep) -> dict[str, Any]:
    return {"data": legacy.count_by(connection, column=column)}


@router.get("/{trip_id}", response_model=None, responses=ok(VehicleRecord))
def get_vehicle(trip_id: TripId, connection: ConnDep) -> dict[str, Any]:
    return legacy.vehicle_record(service.get_trip(connection, trip_id=trip_id))
