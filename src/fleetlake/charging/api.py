"""`/api/v1/charging/…`: the lot's vehicles, sessions, plan, imports and pushed events."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, WebSocket
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse

from fleetlake.api.deps import (
    ConnDep,
    Cursor,
    EngineDep,
    JobId,
    OptionalLastEventId,
    ReadKey,
    ReadsDep,
    RunnerDep,
    SettingsDep,
    WriteKey,
)
from fleetlake.api.errors import invalid_body
from fleetlake.api.jobs import job_accepted, stream_response, stream_socket
from fleetlake.api.schemas import SSE, JobAccepted, JobPage, error_responses, ok
from fleetlake.api.uploads import save_upload
from fleetlake.charging import meter, service, views
from fleetlake.charging.cache import LotCache
from fleetlake.charging.events import STREAM
from fleetlake.charging.ingest import JOB_KIND, queue_import
from fleetlake.charging.readings import Reading
from fleetlake.charging.schemas import (
    CompatRemoved,
    ImportIn,
    LotPlan,
    ReadingPage,
    ReadingsAccepted,
    ReadingsIn,
    SessionPage,
    Vehicle,
    VehiclePage,
)
from fleetlake.errors import InvalidParameter
from fleetlake.platform import jobs as job_service
from fleetlake.platform.redact import hide_home
from fleetlake.platform.sources import resolve_sources

router = APIRouter(prefix="/api/v1/charging", tags=["charging"])
# No control characters (a NUL is no plate, and PostgreSQL text cannot hold one): 422 instead.
Plate = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$", description="The car's plate"),
]
Limit = Annotated[int, Query(ge=1, le=1000)]
UPLOAD = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
IMPORT_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": ImportIn.model_json_schema()},
            "multipart/form-data": {"schema": UPLOAD | {"required": ["file"]}},
        }
    }
}


def lot_cache(request: Request) -> LotCache | None:
    cache: LotCache | None = getattr(request.app.state, "lot_cache", None)
    return cache


@router.get("/vehicles", dependencies=[ReadKey], response_model=None, responses=ok(VehiclePage))
def list_vehicles(
    connection: ConnDep,
    settings: SettingsDep,
    ready: bool | None = None,
    charging: bool | None = None,
) -> dict[str, Any]:
    """The parked cars, first plugged first; `ready` and `charging` filter."""
    found = service.list_vehicles(connection, settings=settings.charging, now=service.now_utc(),
                                  ready=ready, charging=charging)  # fmt: skip
    return {"data": found}


@router.get(
    "/vehicles/{plate}",
    dependencies=[ReadKey],
    response_model=None,
    responses=ok(Vehicle) | error_responses(404),
)
async def get_vehicle(
    plate: Plate, request: Request, engine: EngineDep, settings: SettingsDep, reads: ReadsDep
) -> JSONResponse:
    status = await service.vehicle_status_now(engine, plate=plate, settings=settings.charging,
                                              cache=lot_cache(request), reads=reads)  # fmt: skip
    return JSONResponse(status)


REMOVE_ROUTE: dict[str, Any] = {"dependencies": [WriteKey], "response_model": None,
                                "responses": ok(CompatRemoved) | error_responses(404)}  # fmt: skip


@router.delete("/vehicles/{plate}", **REMOVE_ROUTE)
def remove_vehicle(
    plate: Plate, request: Request, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    """The car leaves: its charge now; the session stays in the history."""
    return service.remove_vehicle(engine, plate=plate, settings=settings.charging,
                                  cache=lot_cache(request), now=service.now_utc())  # fmt: skip


@router.post(
    "/vehicles/{plate}/readings",
    dependencies=[WriteKey],
    response_model=None,
    responses=ok(ReadingsAccepted) | error_responses(400, 404),
)
def add_readings(
    plate: Plate, body: ReadingsIn, request: Request, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    """Meter readings of the car: refused ones say why; the rest correct its estimate."""
    for position, reading in enumerate(body.readings):
        if reading.ts.tzinfo is None:
            raise InvalidParameter(f"readings[{position}].ts", "ts needs a timezone, e.g. Z")
        if not 1970 <= reading.ts.year <= 9000:
            raise InvalidParameter(f"readings[{position}].ts", "ts is not a plausible time")
    readings = [Reading(ts=r.ts.astimezone(UTC), energy_kwh=r.energy_kwh, soc_pct=r.soc_pct,
                        power_kw=r.power_kw) for r in body.readings]  # fmt: skip
    return meter.add_readings(engine, plate=plate, readings=readings, settings=settings.charging,
                              cache=lot_cache(request), now=service.now_utc())  # fmt: skip


@router.get(
    "/vehicles/{plate}/readings",
    dependencies=[ReadKey],
    response_model=None,
    responses=ok(ReadingPage) | error_responses(404),
)
def list_readings(plate: Plate, connection: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    """The car's readings, accepted or refused with the reason, and the curve it follows."""
    return meter.list_readings(connection, plate=plate, settings=settings.charging)


@router.get("/sessions", dependencies=[ReadKey], response_model=None, responses=ok(SessionPage))
def list_sessions(
    connection: ConnDep,
    plate: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f]+$")] = None,
    parked: bool | None = None,
    after: Cursor = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Every stay, parked or gone; pass `next_after` as `after` for the next page."""
    rows = views.list_sessions(connection, plate=plate, parked=parked, after_id=after, limit=limit)
    return {"data": rows, "next_after": rows[-1]["id"] if len(rows) == limit else None}


@router.get("/plan", dependencies=[ReadKey], response_model=None, responses=ok(LotPlan))
def lot_plan(connection: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    """Each car's power over time under the site limit, and the lot's planned draw."""
    return views.lot_plan(connection, settings=settings.charging, now=service.now_utc())


IMPORT_ROUTE: dict[str, Any] = {
    "status_code": 202,
    "dependencies": [WriteKey],
    "response_model": None,
    "responses": ok(JobAccepted, 202) | error_responses(400, 413),
    "openapi_extra": IMPORT_BODY,
}


@router.post("/imports", **IMPORT_ROUTE)
async def start_import(
    request: Request, engine: EngineDep, settings: SettingsDep, runner: RunnerDep
) -> dict[str, Any]:
    """JSON `{"url": …}` or `{"path": …}`, or a multipart upload in field `file`."""
    source = await import_source(request, settings)
    job_id = queue_import(engine, source=source)
    runner.submit(job_id)
    return job_accepted(request, job_id, engine)


async def import_source(request: Request, settings: Any) -> str:
    """The one source an import request names, checked (SSRF guard, import folders)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return str(await save_upload(request, settings))
    try:
        body = ImportIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise invalid_body(exc, expected='JSON {"url": "https://…/lot.csv"}') from exc
    given = [value for value in (body.url, body.path) if value]
    if len(given) != 1:
        raise InvalidParameter("url", 'give one of "url" or "path"')
    if body.url is not None and not body.url.lower().startswith(("http://", "https://")):
        raise InvalidParameter("url", f"{body.url[:100]!r} is not an http(s) URL")
    found = resolve_sources(given, settings=settings, suffixes=(".csv",),
                            restrict_to=settings.import_folders)  # fmt: skip
    return found[0]


@router.get("/imports", dependencies=[ReadKey], response_model=None, responses=ok(JobPage))
def list_imports(connection: ConnDep, settings: SettingsDep, limit: Limit = 50) -> dict[str, Any]:
    found = job_service.list_jobs(connection, kind=JOB_KIND, limit=limit)
    return {"data": hide_home([job_service.job_summary(j) for j in found], home=settings.home_dir)}


@router.get("/imports/{job_id}/quarantine", dependencies=[ReadKey], response_model=None)
def import_quarantine(
    job_id: JobId, connection: ConnDep, after: Cursor = 0, limit: Limit = 100
) -> dict[str, Any]:
    """The rows an import refused: line, raw text and reason."""
    job_service.get_job(connection, job_id=job_id)
    return {"data": views.list_quarantine(connection, job_id=job_id, after_id=after, limit=limit)}


@router.get("/events", dependencies=[ReadKey], responses=SSE)
async def lot_events(
    engine: EngineDep, settings: SettingsDep, last_event_id: OptionalLastEventId = None
) -> EventSourceResponse:
    """Server-Sent Events of the lot: vehicle.ready, vehicle.plan_changed, vehicle.departed."""
    return await stream_response(engine, stream=STREAM, home=settings.home_dir,
                                 last_event_id=last_event_id)  # fmt: skip


@router.websocket("/ws")
async def lot_socket(websocket: WebSocket) -> None:
    """The lot's events over a WebSocket; `?after=<event id>` resumes."""
    await stream_socket(websocket, stream=STREAM)
