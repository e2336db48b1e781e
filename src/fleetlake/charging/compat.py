"""The charging lot's original API (AmpControl) at its original paths and in its shapes:
`POST /data`, `GET /data`, `GET /vehicle/{plate}`, `DELETE /vehicle/{plate}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fleetlake.api.deps import EngineDep, ReadKey, RunnerDep, SettingsDep, WriteKey
from fleetlake.api.jobs import job_accepted
from fleetlake.api.schemas import JobAccepted, error_responses, ok
from fleetlake.charging import service, views
from fleetlake.charging.api import IMPORT_BODY, Plate, import_source, lot_cache
from fleetlake.charging.ingest import queue_import
from fleetlake.charging.schemas import CompatReady, CompatRemoved, CompatStatus

router = APIRouter(tags=["charging (compatibility)"])


@router.post(
    "/data",
    status_code=202,
    dependencies=[WriteKey],
    response_model=None,
    responses=ok(JobAccepted, 202) | error_responses(400, 413),
    openapi_extra=IMPORT_BODY,
)
async def import_data(
    request: Request, engine: EngineDep, settings: SettingsDep, runner: RunnerDep
) -> dict[str, Any]:
    """Import the lot from `{"url": …}` (or an upload): a job whose events say how it went."""
    job_id = queue_import(engine, source=await import_source(request, settings))
    runner.submit(job_id)
    return job_accepted(request, job_id, engine)


@router.get("/data", dependencies=[ReadKey], response_model=None, responses=ok(CompatReady))
def ready_vehicles(engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    """The cars at their desired charge; their stored charge is brought up to date."""
    ready = service.ready_vehicles(engine, settings=settings.charging, now=service.now_utc())
    return {"data": [views.compat_vehicle(v) for v in ready]}


@router.get(
    "/vehicle/{plate}",
    dependencies=[ReadKey],
    response_model=None,
    responses=ok(CompatStatus) | error_responses(404),
)
async def vehicle_status(
    plate: Plate, request: Request, engine: EngineDep, settings: SettingsDep
) -> JSONResponse:
    """Is the car ready, and when will it be."""
    status = await service.vehicle_status_now(engine, plate=plate, settings=settings.charging,
                                              cache=lot_cache(request))  # fmt: skip
    return JSONResponse(views.compat_status(status))


@router.delete(
    "/vehicle/{plate}",
    dependencies=[WriteKey],
    response_model=None,
    responses=ok(CompatRemoved) | error_responses(404),
)
def remove_vehicle(
    plate: Plate, request: Request, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    """The car leaves: its current charge (kWh); its session is kept for statistics."""
    return service.remove_vehicle(engine, plate=plate, settings=settings.charging,
                                  cache=lot_cache(request), now=service.now_utc())  # fmt: skip
