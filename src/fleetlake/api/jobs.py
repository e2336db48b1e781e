"""Jobs over HTTP: state, pushed events (SSE and WebSocket), cancel and retry.

`/api/v1/ingestions/{id}…` are the same resources under the name ingestion users know.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from sqlalchemy.engine import Engine
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from fleetlake.api.deps import (
    MAX_INT32,
    MAX_INT64,
    ConnDep,
    EngineDep,
    JobId,
    LastEventId,
    OptionalLastEventId,
    ReadKey,
    RunnerDep,
    SettingsDep,
    WriteKey,
    key_is_valid,
)
from fleetlake.api.schemas import SSE, Job, JobAccepted, JobPage, error_responses, ok
from fleetlake.platform import jobs as job_service
from fleetlake.platform.events import bus
from fleetlake.platform.redact import hide_home

router = APIRouter(tags=["jobs"])
TERMINAL_TYPES = {"completed", "failed", "cancelled"}
KEEPALIVE_S = 15.0


async def follow_events(
    engine: Engine, job_id: int | None, after_id: int, *, home: Path, stream: str | None = None
) -> AsyncIterator[dict[str, Any] | None]:
    """Stored events after `after_id`, then live ones as they land; None is a keep-alive tick.

    One job's stream ends with its final event; the all-jobs stream (job_id None) and a named
    `stream` (a domain's news) never end.
    Subscribing before each read means a notification between read and wait is never lost.
    """
    with bus.subscribe(job_id, asynchronous=True) as subscription:
        while True:
            events = await run_in_threadpool(_read_events, engine, job_id, after_id, stream)
            for event in events:
                after_id = event["id"]
                yield hide_home(job_service.event_message(event), home=home)
                if job_id is not None and event["type"] in TERMINAL_TYPES:
                    return
            if not events and not await subscription.wait(KEEPALIVE_S):
                yield None


def _read_events(
    engine: Engine, job_id: int | None, after_id: int, stream: str | None
) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return job_service.list_events(connection, job_id=job_id, after_id=after_id, stream=stream)


def _latest_event_id(engine: Engine) -> int:
    with engine.connect() as connection:
        return job_service.last_event_id(connection)


def sse_response(messages: AsyncIterator[dict[str, Any] | None]) -> EventSourceResponse:
    async def stream() -> AsyncIterator[dict[str, Any]]:
        async for message in messages:
            if message is None:
                yield {"comment": "keep-alive"}
            else:
                yield {
                    "event": message["type"],
                    "id": str(message["id"]),
                    "data": json.dumps(message),
                }

    return EventSourceResponse(stream(), ping=None)


async def stream_response(
    engine: Engine, *, stream: str, home: Path, last_event_id: int | None
) -> EventSourceResponse:
    """A named stream's events from now on (or after Last-Event-ID), as Server-Sent Events."""
    after = last_event_id
    if after is None:
        after = await run_in_threadpool(_latest_event_id, engine)
    return sse_response(follow_events(engine, None, after, home=home, stream=stream))


async def stream_socket(websocket: WebSocket, *, stream: str) -> None:
    """A named stream's events over a WebSocket; `?after=<event id>` resumes."""
    settings = websocket.app.state.settings
    if settings.read_requires_key and not key_is_valid(
        settings, websocket.headers.get("x-api-key")
    ):
        await websocket.close(code=4401, reason="X-API-Key required")
        return
    engine: Engine = websocket.app.state.engine
    await websocket.accept()
    text = websocket.query_params.get("after", "")
    after = int(text) if text.isdigit() and len(text) <= 18 else None
    if after is None:
        after = await run_in_threadpool(_latest_event_id, engine)
    try:
        async for message in follow_events(engine, None, after, home=settings.home_dir,
                                           stream=stream):  # fmt: skip
            if message is not None:
                await websocket.send_json(message)
    except WebSocketDisconnect:
        return


def _job(engine: Engine, job_id: int, home: Path) -> dict[str, Any]:
    with engine.connect() as connection:
        job = job_service.job_summary(job_service.get_job(connection, job_id=job_id))
    return hide_home(job, home=home)


@router.get("/api/v1/jobs", dependencies=[ReadKey], response_model=None, responses=ok(JobPage))
def list_jobs(
    connection: ConnDep,
    settings: SettingsDep,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    found = job_service.list_jobs(connection, kind=kind, limit=limit)
    return {"data": hide_home([job_service.job_summary(j) for j in found], home=settings.home_dir)}


@router.get("/api/v1/jobs/{job_id}", dependencies=[ReadKey], response_model=None, responses=ok(Job))
@router.get(
    "/api/v1/ingestions/{job_id}", dependencies=[ReadKey], response_model=None, responses=ok(Job)
)
def get_job(job_id: JobId, engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    return _job(engine, job_id, settings.home_dir)


@router.get("/api/v1/jobs/{job_id}/events", dependencies=[ReadKey], responses=SSE)
@router.get("/api/v1/ingestions/{job_id}/events", dependencies=[ReadKey], responses=SSE)
async def job_events_stream(
    job_id: JobId,
    engine: EngineDep,
    settings: SettingsDep,
    last_event_id: LastEventId = 0,
) -> EventSourceResponse:
    """Server-Sent Events: `event:` the type, `data:` JSON; ends after the final event."""
    await run_in_threadpool(_job, engine, job_id, settings.home_dir)  # 404 before the stream
    return sse_response(follow_events(engine, job_id, last_event_id, home=settings.home_dir))


@router.get("/api/v1/events", dependencies=[ReadKey], responses=SSE)
async def all_events_stream(
    engine: EngineDep,
    settings: SettingsDep,
    last_event_id: OptionalLastEventId = None,
) -> EventSourceResponse:
    """Every job's events from now on (or after Last-Event-ID): what the dashboard listens to."""
    if last_event_id is None:
        last_event_id = await run_in_threadpool(_latest_event_id, engine)
    return sse_response(follow_events(engine, None, last_event_id, home=settings.home_dir))


@router.websocket("/api/v1/jobs/{job_id}/ws")
@router.websocket("/api/v1/ingestions/{job_id}/ws")
async def job_events_socket(websocket: WebSocket, job_id: int) -> None:
    if not 1 <= job_id <= MAX_INT32:
        await websocket.close(code=4404, reason=f"job {job_id} does not exist")
        return
    engine: Engine = websocket.app.state.engine
    settings = websocket.app.state.settings
    if settings.read_requires_key and not key_is_valid(
        settings, websocket.headers.get("x-api-key")
    ):
        await websocket.close(code=4401, reason="X-API-Key required")
        return
    await websocket.accept()
    try:
        await run_in_threadpool(_job, engine, job_id, settings.home_dir)
    except Exception as exc:
        await websocket.send_json({"type": "error", "data": {"message": str(exc)}})
        await websocket.close(code=4404)
        return
    after = _cursor(websocket.query_params.get("after"))
    try:
        async for message in follow_events(engine, job_id, after, home=settings.home_dir):
            if message is not None:
                await websocket.send_json(message)
        await websocket.close()
    except WebSocketDisconnect:
        return


CANCEL: dict[str, Any] = {"dependencies": [WriteKey], "response_model": None,
                          "responses": ok(Job) | error_responses(409)}  # fmt: skip
RETRY: dict[str, Any] = {"status_code": 202, "dependencies": [WriteKey], "response_model": None,
                         "responses": ok(JobAccepted, 202) | error_responses(409)}  # fmt: skip


@router.post("/api/v1/jobs/{job_id}/cancel", **CANCEL)
@router.post("/api/v1/ingestions/{job_id}/cancel", **CANCEL)
def cancel_job(job_id: JobId, engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    job = job_service.job_summary(job_service.request_cancel(engine, job_id=job_id))
    return hide_home(job, home=settings.home_dir)


@router.post("/api/v1/jobs/{job_id}/retry", **RETRY)
@router.post("/api/v1/ingestions/{job_id}/retry", **RETRY)
def retry_job(
    job_id: JobId, engine: EngineDep, runner: RunnerDep, request: Request
) -> dict[str, Any]:
    new_id = job_service.retry_job(engine, job_id=job_id)
    runner.submit(new_id)
    return job_accepted(request, new_id, engine)


def _cursor(text: str | None) -> int:
    """`?after=` of a WebSocket: a bounded event id, 0 when absent or not a number."""
    value = int(text) if text and text.isdigit() and len(text) <= 19 else 0
    return min(value, MAX_INT64)


def job_accepted(request: Request, job_id: int, engine: Engine) -> dict[str, Any]:
    """The 202 body for a queued job: where to follow it."""
    base = str(request.base_url).rstrip("/")
    ws_base = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    with engine.connect() as connection:
        state = job_service.get_job(connection, job_id=job_id)["state"]
    return {
        "id": job_id,
        "state": state,
        "events_url": f"{base}/api/v1/ingestions/{job_id}/events",
        "ws_url": f"{ws_base}/api/v1/ingestions/{job_id}/ws",
    }
