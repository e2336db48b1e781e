"""What the shared routes answer, for the OpenAPI document: the error shape, jobs, events,
webhooks. The routes return plain dicts (no second validation on the hot paths); the
schemathesis suite checks every answer against these models, so they cannot drift."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """A documented shape: a field the server adds without documenting fails the suite."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetails(BaseModel):
    model_config = ConfigDict(extra="allow")  # the error's own facts: limit_bytes, known…
    field: str | None = Field(None, description="the parameter, header or body field at fault")


class ErrorInfo(Strict):
    code: str = Field(examples=["invalid_parameter"])
    message: str = Field(description="one sentence naming the value and the fix")
    details: ErrorDetails


class ErrorBody(Strict):
    """Every 4xx and 5xx answer."""

    error: ErrorInfo


ERROR_MEANINGS = {
    400: "A parameter or the body is wrong: `details.field` names it",
    401: "Missing or wrong `X-API-Key`",
    404: "No such resource",
    409: "The request clashes with the current state",
    413: "The body exceeds the size limit",
    422: "A parameter does not have the declared type or range",
    503: "The database schema is outdated or a service is unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the real error body."""
    return {s: {"model": ErrorBody, "description": ERROR_MEANINGS[s]} for s in statuses}


class JobAccepted(Strict):
    id: int
    state: str = Field(examples=["queued"])
    events_url: str = Field(description="Server-Sent Events of the job, until it ends")
    ws_url: str = Field(description="the same events over a WebSocket")


class JobProgress(Strict):
    rows_done: int
    rows_total: int | None
    bytes_done: int
    bytes_total: int | None
    current_source: str | None


class Job(Strict):
    id: int
    kind: str = Field(examples=["trips.ingest", "telemetry.pipeline"])
    state: str = Field(description="queued, running, succeeded, failed or cancelled")
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    progress: JobProgress
    results: list[dict[str, Any]] = Field(description="per source or stage, by job kind")
    error: str | None = Field(description="why the job failed, in one line")
    retry_of: int | None
    params: dict[str, Any]


class JobPage(Strict):
    data: list[Job]


class Webhook(Strict):
    id: int
    url: str
    event_types: list[str] | None
    active: bool
    created_at: str


class WebhookCreated(Webhook):
    secret: str = Field(description="the HMAC key: shown this once")


class WebhookPage(Strict):
    data: list[Webhook]


class Delivery(BaseModel):
    id: int
    webhook_id: int
    event_id: int
    attempt: int
    outcome: str
    created_at: str


class DeliveryPage(Strict):
    data: list[Delivery]


class Health(Strict):
    status: str = Field(examples=["ok"])
    version: str


SSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `event:` the type, `id:` the event id, `data:` JSON",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def ok(model: type[BaseModel], status: int = 200, description: str = "OK") -> dict[int | str, Any]:
    """`responses=` documenting a route's answer (the route itself returns plain dicts)."""
    return {status: {"model": model, "description": description}}
