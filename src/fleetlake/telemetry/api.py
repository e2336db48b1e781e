"""`/api/v1` telemetry resources: push, vehicles' last state and series, reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fleetlake.api.deps import (
    Cursor,
    EngineDep,
    LakeDep,
    ReadKey,
    ReadsDep,
    RunnerDep,
    SettingsDep,
    WriteKey,
)
from fleetlake.api.jobs import job_accepted
from fleetlake.api.schemas import JobAccepted, error_responses, ok
from fleetlake.errors import InvalidParameter, UploadTooLarge
from fleetlake.settings import Settings
from fleetlake.telemetry import service
from fleetlake.telemetry.providers import ADAPTERS
from fleetlake.telemetry.reports import top_speeds_report
from fleetlake.telemetry.schemas import (
    PUSH_BODY,
    DailyStats,
    PushResult,
    RefusedMessages,
    Series,
    TopSpeeds,
    Vehicle,
    VehiclePage,
)
from fleetlake.telemetry.series import vehicle_series

router = APIRouter(prefix="/api/v1", tags=["telemetry"], dependencies=[ReadKey])
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


@router.post(
    "/telemetry",
    dependencies=[WriteKey],
    response_model=None,
    responses=ok(PushResult) | error_responses(413),
    openapi_extra=PUSH_BODY,
)
async def push_telemetry(
    request: Request,
    settings: SettingsDep,
    provider: Annotated[
        str, Query(description=f"one of {', '.join(ADAPTERS)}", examples=["canonical"])
    ] = "canonical",
) -> dict[str, Any]:
    """Messages as a JSON array (or one object) or NDJSON (`Content-Type:
    application/x-ndjson`). Answered once every record is durable in bronze; messages that
    cannot be used are kept in the quarantine and counted, with their reasons."""
    from fleetlake.telemetry.push import land_push

    if provider not in ADAPTERS:
        raise InvalidParameter(
            "provider", f"unknown provider {provider!r}: use one of {', '.join(ADAPTERS)}"
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    ndjson = content_type in NDJSON_TYPES
    if not ndjson and content_type not in ("application/json", ""):
        raise InvalidParameter(
            "Content-Type", f"{content_type!r}: send application/json or application/x-ndjson"
        )
    body = await _body_within(request, limit=settings.telemetry.max_push_bytes)
    client = request.client.host if request.client else "unknown"
    return await run_in_threadpool(
        land_push,
        body,
        ndjson=ndjson,
        provider=provider,
        source=f"http:{client}",
        settings=settings,
    )


async def _body_within(request: Request, *, limit: int) -> bytearray:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(
            f"body of {declared} bytes exceeds the limit of {limit} bytes; send smaller batches",
            field="body",
            limit_bytes=limit,
        )
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise UploadTooLarge(
                f"body exceeds the limit of {limit} bytes; send smaller batches",
                field="body",
                limit_bytes=limit,
            )
    return received


@router.get("/vehicles", response_model=None, responses=ok(VehiclePage))
async def list_vehicles(
    reads: ReadsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(description="the previous page's next_after")] = None,
) -> dict[str, Any]:
    """Every vehicle's last state (gold), by VIN."""
    return await reads(partial(service.list_vehicles, limit=limit, after=after))


@router.get("/vehicles/{vin}", response_model=None, responses=ok(Vehicle))
async def get_vehicle(vin: str, reads: ReadsDep) -> dict[str, Any]:
    """The latest valid value of each canonical field, and in `seen_at` when it was seen."""
    return await reads(partial(service.get_vehicle, vin=vin))


@router.get("/vehicles/{vin}/telemetry", response_model=None, responses=ok(Series))
async def vehicle_telemetry(
    vin: str,
    lake: LakeDep,
    start: datetime,
    end: datetime,
    fields: Annotated[str | None, Query(description="comma-separated canonical fields")] = None,
    every: Annotated[
        int | None, Query(ge=1, le=86_400, description="seconds per row (averaged), at most a day")
    ] = None,
) -> dict[str, Any]:
    """The vehicle's clean telemetry between start and end, from the lake (silver)."""
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise InvalidParameter(name, f"{name} {value.isoformat()} needs a timezone, e.g. Z")
    chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    return await run_in_threadpool(
        vehicle_series,
        lake,
        vin=vin,
        start=start,
        end=end,
        fields=chosen,
        every_s=every,
    )


@router.get(
    "/vehicles/{vin}/daily", response_model=None, responses=ok(DailyStats) | error_responses(404)
)
async def vehicle_daily_stats(
    vin: str,
    reads: ReadsDep,
    lake: LakeDep,
    start: Annotated[
        date | None, Query(description="first UTC day; default 29 days before end")
    ] = None,
    end: Annotated[date | None, Query(description="last UTC day; default today")] = None,
) -> dict[str, Any]:
    """The vehicle's distance, speeds, SoC and energy per UTC day (gold), at most a year."""
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=29)
    fetch = partial(service.daily_stats, lake=lake, vin=vin, start=start, end=end)
    return await reads(fetch)


@router.get("/telemetry/quarantine", response_model=None, responses=ok(RefusedMessages))
async def refused_messages(
    lake: LakeDep,
    date: Annotated[
        date | None, Query(description="UTC day of receipt; default the latest")
    ] = None,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Messages refused at landing, newest first: when, from where, which line, why."""
    from fleetlake.telemetry.quarantine import quarantined

    return await run_in_threadpool(quarantined, lake, day=date, after=after, limit=limit)


@router.get("/reports/top-speeds", response_model=None, responses=ok(TopSpeeds))
async def top_speeds(
    lake: LakeDep,
    date: Annotated[date, Query(description="UTC day, YYYY-MM-DD")],
    hour: Annotated[int | None, Query(ge=0, le=23)] = None,
) -> dict[str, Any]:
    """The 10 fastest vehicles of each UTC hour of the day (each vehicle once per hour)."""
    return await run_in_threadpool(service.top_speeds, lake, day=date, hour=hour)


ReportDay = Annotated[date, Query(alias="date", description="UTC day, YYYY-MM-DD")]


REPORT_MEDIA = {"csv": "text/csv", "html": "text/html"}


def _report(kind: str, settings: Settings, day: date) -> FileResponse:
    path = top_speeds_report(day=day, kind=kind, reports_dir=settings.home_dir / "reports")
    return FileResponse(path, media_type=REPORT_MEDIA[kind], filename=path.name)


@router.get("/reports/top-speeds.csv", response_class=FileResponse,
            responses={200: {"content": {"text/csv": {}}}, **error_responses(404)})  # fmt: skip
async def top_speeds_csv(settings: SettingsDep, day: ReportDay) -> FileResponse:
    """The day's top-speeds report as CSV, a download (written by the gold stage)."""
    return _report("csv", settings, day)


@router.get("/reports/top-speeds.html", response_class=FileResponse,
            responses={200: {"content": {"text/html": {}}}, **error_responses(404)})  # fmt: skip
async def top_speeds_html(settings: SettingsDep, day: ReportDay) -> FileResponse:
    """The day's top-speeds report as a page to read or print (written by the gold stage)."""
    return _report("html", settings, day)


class PipelineRunIn(BaseModel):
    stages: list[str] | None = Field(None, description="silver, gold; default every stage")
    full_refresh: bool = Field(False, description="recompute everything from bronze")
    engine: Literal["duckdb", "spark"] | None = Field(
        None, description="what runs the SQL; default the server's setting"
    )


@router.post(
    "/pipeline/runs",
    status_code=202,
    dependencies=[WriteKey],
    response_model=None,
    responses=ok(JobAccepted, 202),
)
async def start_pipeline_run(
    request: Request, engine: EngineDep, runner: RunnerDep, body: PipelineRunIn | None = None
) -> dict[str, Any]:
    """Run the telemetry stages as a job; follow it at `events_url` (SSE) or `ws_url`."""
    from fleetlake.telemetry.pipeline import queue_pipeline

    body = body or PipelineRunIn()
    job_id = queue_pipeline(
        engine, stages=body.stages, full_refresh=body.full_refresh, query_engine=body.engine
    )
    runner.submit(job_id)
    return job_accepted(request, job_id, engine)
