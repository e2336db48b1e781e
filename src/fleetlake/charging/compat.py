"""The charging lot's original API (AmpControl) at its original paths and in its shapes:
`POST /data`, `GET /data`, `GET /vehicle/{plate}`, `DELETE /vehicle/{plate}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fleetlake.api.deps import EngineDep, ReadKey, ReadsDep, SettingsDep
from fleetlake.api.schemas import error_responses, ok
from fleetlake.charging import service, views
from fleetlake.charging.api import (
    IMPORT_ROUTE,
    REMOVE_ROUTE,
    Plate,
    lot_cache,
    remove_vehicle,
    start_import,
)
from fleetlake.charging.schemas import CompatReady, CompatStatus

router = APIRouter(tags=["charging (compatibility)"])


# The writes are the v1 routes' own functions at the original paths: one behaviour, two names.
router.post("/data", summary="Import the lot from a CSV at a URL (AmpControl)", **IMPORT_ROUTE)(
    start_import
)


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
    plate: Plate, request: Request, engine: EngineDep, settings: SettingsDep, reads: ReadsDep
) -> JSONResponse:
    """Is the car ready, and when will it be."""
    status = await service.vehicle_status_now(engine, plate=plate, settings=settings.charging,
                                              cache=lot_cache(request), reads=reads)  # fmt: skip
    return JSONResponse(views.compat_status(status))


router.delete("/vehicle/{plate}", summary="The car leaves (AmpControl)", **REMOVE_ROUTE)(
    remove_vehicle
)
