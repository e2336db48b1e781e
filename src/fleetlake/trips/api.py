"""`/api/v1` trips resources: trips, weekly averages, groups, ingestions."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from fleetlake.api.deps import (
    MAX_INT64,
    ConnDep,
    Cursor,
    EngineDep,
    JobId,
    LakeDep,
    ReadKey,
    ReadsDep,
    RunnerDep,
    SettingsDep,
    TripId,
    WriteKey,
)
from fleetlake.api.errors import invalid_body
from fleetlake.api.jobs import job_accepted
from fleetlake.api.schemas import JobAccepted, JobPage, error_responses, ok
from fleetlake.api.uploads import save_upload
from fleetlake.errors import InvalidParameter
from fleetlake.platform import jobs as job_service
from fleetlake.platform.redact import hide_home
from fleetlake.trips import service, stats
from fleetlake.trips.areas import BBox, Match
from fleetlake.trips.ingest import JOB_KIND
from fleetlake.trips.schemas import (
    INGESTION_BODY,
    IngestionIn,
    QuarantinePage,
    RegionWeeks,
    Trip,
    TripGroups,
    TripPage,
    WeeklyAverage,
)

router = APIRouter(prefix="/api/v1", tags=["trips"], dependencies=[ReadKey])

BBoxQuery = Annotated[
    str | None, Query(description="min_lon,min_lat,max_lon,max_lat", examples=["7.5,44.9,7.8,45.2"])
]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _bbox(text: str | None) -> BBox | None:
    return BBox.parse(text) if text is not None else None


@router.get(
    "/trips/weekly-average", response_model=None, responses=ok(WeeklyAverage) | error_responses(404)
)
async def weekly_average(
    reads: ReadsDep,
    lake: LakeDep,
    region: str | None = None,
    bbox: BBoxQuery = None,
    match: Match = Match.origin,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """Average trips per ISO week in the area; weeks without trips count as zero."""
    query = partial(
        stats.weekly_average,
        lake=lake,
        region=region,
        bbox=_bbox(bbox),
        match=match,
        start=start,
        end=end,
    )
    return await reads(query)


@router.get("/trips/weekly-counts", response_model=None, responses=ok(RegionWeeks))
def weekly_counts(connection: ConnDep) -> dict[str, Any]:
    return {"data": stats.weekly_counts_by_region(connection)}


@router.get("/trips", response_model=None, responses=ok(TripPage))
def list_trips(
    connection: ConnDep,
    region: str | None = None,
    bbox: BBoxQuery = None,
    match: Match = Match.origin,
    start: datetime | None = None,
    end: datetime | None = None,
    datasource: str | None = None,
    after: Cursor = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Trips in id order; pass the returned `next_after` as `after` for the next page."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise InvalidParameter(name, f"{name} {value.isoformat()} needs a timezone, e.g. Z")
    rows = service.list_trips(
        connection,
        region=region,
        bbox=_bbox(bbox),
        match=match,
        start=start,
        end=end,
        datasource=datasource,
        after_id=after,
        limit=limit,
    )
    return {
        "data": [service.trip_row(r) for r in rows],
        "next_after": rows[-1].id if len(rows) == limit else None,
    }


@router.get("/trips/{trip_id}", responses=ok(Trip))
async def get_trip(trip_id: TripId, reads: ReadsDep) -> JSONResponse:
    def read(connection: Connection) -> dict[str, Any]:
        return service.trip_row(service.get_trip(connection, trip_id=trip_id))

    # Plain JSON values already: returned as a response, FastAPI skips its generic encoder.
    return JSONResponse(await reads(read))


@router.get("/trip-groups", response_model=None, responses=ok(TripGroups) | error_responses(404))
async def trip_groups(
    reads: ReadsDep,
    settings: SettingsDep,
    region: str | None = None,
    bbox: BBoxQuery = None,
    match: Match = Match.origin,
    min_count: Annotated[int, Query(ge=1, le=MAX_INT64)] = 1,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Similar trips: same origin cell, destination cell and time-of-day bucket, biggest first."""
    query = partial(
        stats.trip_groups,
        settings=settings,
        region=region,
        bbox=_bbox(bbox),
        match=match,
        min_count=min_count,
        limit=limit,
    )
    return {"data": await reads(query)}


@router.post(
    "/ingestions",
    status_code=202,
    dependencies=[WriteKey],
    response_model=None,
    responses=ok(JobAccepted, 202) | error_responses(413),
    openapi_extra=INGESTION_BODY,
)
async def start_ingestion(
    request: Request, engine: EngineDep, settings: SettingsDep, runner: RunnerDep
) -> dict[str, Any]:
    """JSON `{"sources": [...], "force": false}` or a multipart upload in field `file`."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        sources, force = [str(await save_upload(request, settings))], False
    else:
        try:
            body = IngestionIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise invalid_body(exc, expected='JSON {"sources": [...], "force": false}') from exc
        sources = service.resolve_sources(
            body.sources, settings=settings, restrict_to=settings.import_folders
        )
        force = body.force
    job_id = service.queue_ingestion(engine, sources=sources, force=force)
    runner.submit(job_id)
    return job_accepted(request, job_id, engine)


@router.get("/ingestions", response_model=None, responses=ok(JobPage))
def list_ingestions(
    connection: ConnDep, settings: SettingsDep, limit: Limit = 50
) -> dict[str, Any]:
    jobs = [
        job_service.job_summary(j)
        for j in job_service.list_jobs(connection, kind=JOB_KIND, limit=limit)
    ]
    return {"data": hide_home(jobs, home=settings.home_dir)}


@router.get("/ingestions/{job_id}/quarantine", response_model=None, responses=ok(QuarantinePage))
def ingestion_quarantine(
    job_id: JobId, connection: ConnDep, settings: SettingsDep, after: Cursor = 0, limit: Limit = 100
) -> dict[str, Any]:
    """Rows refused by this ingestion, with source, line, raw text and reason."""
    job_service.get_job(connection, job_id=job_id)
    rows = service.list_quarantine(connection, job_id=job_id, after_id=after, limit=limit)
    return {"data": hide_home(rows, home=settings.home_dir)}
