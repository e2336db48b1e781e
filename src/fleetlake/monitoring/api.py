"""`/api/v1/monitoring/…`: the monitored model (platforms, templates, sensors)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from fleetlake.api.deps import ConnDep, EngineDep, ReadKey, RunnerDep, SettingsDep, WriteKey
from fleetlake.api.jobs import job_accepted
from fleetlake.api.schemas import JobAccepted, error_responses, ok
from fleetlake.monitoring import catalog, series
from fleetlake.monitoring.ingest import SUFFIXES, queue_import
from fleetlake.monitoring.landing import land_readings, quarantined
from fleetlake.monitoring.readings import Received
from fleetlake.monitoring.schemas import (
    ImportIn,
    Platform,
    PlatformIn,
    PlatformPage,
    QuarantinePage,
    ReadingsIn,
    ReadingsLanded,
    Sensor,
    SensorIn,
    SensorPage,
    Series,
    Template,
    TemplateIn,
    TemplatePage,
)
from fleetlake.platform.lake import Lake
from fleetlake.platform.sources import resolve_sources

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
CREATED: dict[str, Any] = {"status_code": 201, "dependencies": [WriteKey], "response_model": None}
READ: dict[str, Any] = {"dependencies": [ReadKey], "response_model": None}


def now_utc() -> datetime:
    return datetime.now(UTC)


@router.post("/platforms", **CREATED, responses=ok(Platform, 201) | error_responses(400, 401, 409))
def create_platform(body: PlatformIn, engine: EngineDep) -> dict[str, Any]:
    with engine.begin() as connection:
        return catalog.create_platform(
            connection, name=body.name, description=body.description, now=now_utc()
        )


@router.get("/platforms", **READ, responses=ok(PlatformPage))
def list_platforms(connection: ConnDep) -> dict[str, Any]:
    return {"data": catalog.list_platforms(connection)}


@router.get("/platforms/{platform_id}", **READ, responses=ok(Platform) | error_responses(404))
def get_platform(platform_id: Id, connection: ConnDep) -> dict[str, Any]:
    return catalog.get_platform(connection, platform_id=platform_id)


@router.post(
    "/templates", **CREATED, responses=ok(Template, 201) | error_responses(400, 401, 404, 409)
)
def create_template(body: TemplateIn, engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    with engine.begin() as connection:
        return catalog.create_template(
            connection, values=body.model_dump(), settings=settings.monitoring, now=now_utc()
        )


@router.get("/templates", **READ, responses=ok(TemplatePage))
def list_templates(
    connection: ConnDep, settings: SettingsDep, platform_id: OptionalId = None
) -> dict[str, Any]:
    found = catalog.list_templates(
        connection, settings=settings.monitoring, platform_id=platform_id
    )
    return {"data": found}


@router.get("/templates/{template_id}", **READ, responses=ok(Template) | error_responses(404))
def get_template(template_id: Id, connection: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    return catalog.get_template(connection, template_id=template_id, settings=settings.monitoring)


@router.post("/sensors", **CREATED, responses=ok(Sensor, 201) | error_responses(400, 401, 404, 409))
def create_sensor(body: SensorIn, engine: EngineDep) -> dict[str, Any]:
    with engine.begin() as connection:
        return catalog.create_sensor(connection, values=body.model_dump(), now=now_utc())


@router.get("/sensors", **READ, responses=ok(SensorPage))
def list_sensors(connection: ConnDep, template_id: OptionalId = None) -> dict[str, Any]:
    return {"data": catalog.list_sensors(connection, template_id=template_id)}


@router.get("/sensors/{sensor_id}", **READ, responses=ok(Sensor) | error_responses(404))
def get_sensor(sensor_id: Id, connection: ConnDep) -> dict[str, Any]:
    return catalog.get_sensor(connection, sensor_id=sensor_id)


@router.post("/readings", dependencies=[WriteKey], response_model=None,
             responses=ok(ReadingsLanded) | error_responses(401, 422))  # fmt: skip
def post_readings(body: ReadingsIn, engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    """Land readings; each refused one is kept in the quarantine with its reason."""
    records = [Received(k, r.sensor, r.ts, r.ppmv) for k, r in enumerate(body.readings, start=1)]
    return land_readings(engine, Lake(settings.resolved_lake_uri), records, source="api",
                         now=now_utc())  # fmt: skip


@router.post("/imports", status_code=202, dependencies=[WriteKey], response_model=None,
             responses=ok(JobAccepted, 202) | error_responses(400, 401))  # fmt: skip
def start_import(
    body: ImportIn, request: Request, engine: EngineDep, settings: SettingsDep, runner: RunnerDep
) -> dict[str, Any]:
    """Files of readings (paths in the import folders, or URLs) landed by a job."""
    found = resolve_sources(body.sources, settings=settings, suffixes=SUFFIXES,
                            restrict_to=settings.import_folders)  # fmt: skip
    job_id = queue_import(engine, sources=found)
    runner.submit(job_id)
    return job_accepted(request, job_id, engine)


@router.get("/sensors/{sensor_id}/series", **READ, responses=ok(Series) | error_responses(404))
def sensor_series(
    sensor_id: Id,
    connection: ConnDep,
    settings: SettingsDep,
    start: datetime | None = None,
    end: datetime | None = None,
    every: Annotated[float | None, Query(gt=0, le=366 * 86400, description="bucket, s")] = None,
) -> dict[str, Any]:
    """Readings in [start, end) as min/mean/max buckets (default: the last day read)."""
    sensor = catalog.sensor_row(connection, sensor_id=sensor_id)
    first, last = series.window(start, end, latest=sensor["last_reading_at"])
    return series.downsampled(Lake(settings.resolved_lake_uri), sensor_id=sensor_id,
                              start=first, end=last, every_s=every)  # fmt: skip


@router.get("/quarantine", **READ, responses=ok(QuarantinePage))
def list_quarantine(
    settings: SettingsDep,
    day: date | None = None,
    after: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The readings refused on one day (default: the latest), with source, line and reason."""
    return quarantined(Lake(settings.resolved_lake_uri), day=day, after=after, limit=limit)
