"""`/api/v1/monitoring/…`: deviations, baselines, events and their workflow, leak estimates,
what-if leaks, and the pushed stream of events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, WebSocket
from sse_starlette.sse import EventSourceResponse

from fleetlake.api.deps import (
    ConnDep,
    EngineDep,
    OptionalLastEventId,
    ReadKey,
    SettingsDep,
    WriteKey,
)
from fleetlake.api.jobs import stream_response, stream_socket
from fleetlake.api.schemas import SSE, error_responses, ok
from fleetlake.monitoring import alarms, catalog, detection, workflow
from fleetlake.monitoring.schemas import (
    ActionIn,
    BaselineIn,
    DeviationPage,
    Event,
    EventPage,
    LeakEstimate,
    Sensor,
    WhatIf,
    WhatIfIn,
)

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
EventId = Annotated[int, Path(ge=1, le=2**62)]
READ: dict[str, Any] = {"dependencies": [ReadKey], "response_model": None}
WRITE: dict[str, Any] = {"dependencies": [WriteKey], "response_model": None}


@router.get("/sensors/{sensor_id}/deviations", **READ,
            responses=ok(DeviationPage) | error_responses(404))  # fmt: skip
def sensor_deviations(
    sensor_id: Id, connection: ConnDep, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """The sensor's levels as intervals overlapping [start, end)."""
    catalog.sensor_row(connection, sensor_id=sensor_id)
    found = detection.deviations_between(connection, sensor_id=sensor_id, start=start, end=end)
    return {"sensor_id": sensor_id, "data": found}


@router.put("/sensors/{sensor_id}/baseline", **WRITE,
            responses=ok(Sensor) | error_responses(400, 401, 404))  # fmt: skip
def put_baseline(sensor_id: Id, body: BaselineIn, engine: EngineDep) -> dict[str, Any]:
    """The stretch of normal readings the sensor is scored against (default: its first days)."""
    with engine.begin() as connection:
        return catalog.set_baseline(connection, sensor_id=sensor_id, start=body.start,
                                    end=body.end)  # fmt: skip


@router.get("/events", **READ, responses=ok(EventPage))
def list_events(
    connection: ConnDep,
    template_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    level: Literal["ok", "warning", "critical"] | None = None,
    state: Literal["open", "acknowledged", "resolved"] | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Events, newest first."""
    return {"data": workflow.list_events(connection, template_id=template_id, level=level,
                                         since=since, state=state, limit=limit)}  # fmt: skip


@router.get("/events/stream", dependencies=[ReadKey], responses=SSE)
async def event_stream(
    engine: EngineDep, settings: SettingsDep, last_event_id: OptionalLastEventId = None
) -> EventSourceResponse:
    """Server-Sent Events: template.level_changed, event.updated."""
    return await stream_response(engine, stream=alarms.STREAM, home=settings.home_dir,
                                 last_event_id=last_event_id)  # fmt: skip


@router.websocket("/ws")
async def event_socket(websocket: WebSocket) -> None:
    """The same events over a WebSocket; `?after=<event id>` resumes."""
    await stream_socket(websocket, stream=alarms.STREAM)


@router.get("/events/{event_id}", **READ, responses=ok(Event) | error_responses(404))
def get_event(event_id: EventId, connection: ConnDep) -> dict[str, Any]:
    return workflow.get_event(connection, event_id=event_id)


@router.post("/events/{event_id}/{action}", **WRITE,
             responses=ok(Event) | error_responses(400, 401, 404, 409))  # fmt: skip
def act_on_event(
    event_id: EventId,
    action: Literal["acknowledge", "resolve", "comment"],
    body: ActionIn,
    engine: EngineDep,
) -> dict[str, Any]:
    """Acknowledge, resolve or comment on an event, as `by`."""
    return workflow.act(engine, event_id=event_id, action=action, by=body.by, text=body.text,
                        now=datetime.now(UTC))  # fmt: skip


@router.get("/templates/{template_id}/leak", **READ,
            responses=ok(LeakEstimate) | error_responses(404))  # fmt: skip
def template_leak(template_id: Id, connection: ConnDep) -> dict[str, Any]:
    """The latest leak estimate of the template (made when it went critical)."""
    return alarms.latest_leak(connection, template_id=template_id)


@router.post("/templates/{template_id}/simulate", **READ,
             responses=ok(WhatIf) | error_responses(400, 404))  # fmt: skip
def simulate_leak(
    template_id: Id, body: WhatIfIn, connection: ConnDep, settings: SettingsDep
) -> dict[str, Any]:
    """A what-if leak: the concentrations each sensor would see, from the same box model."""
    return alarms.what_if(connection, template_id=template_id, rate_kg_h=body.rate_kg_h,
                          source_xyz=(body.x_m, body.y_m, body.z_m), hours=body.hours,
                          every_s=body.every_s, settings=settings.monitoring)  # fmt: skip
