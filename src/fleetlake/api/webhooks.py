"""`/api/v1/webhooks`: register a URL to be pushed every job event, signed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from fleetlake.api.deps import ConnDep, EngineDep, SettingsDep, WebhookId, WriteKey
from fleetlake.api.schemas import DeliveryPage, WebhookCreated, WebhookPage, ok
from fleetlake.platform import webhooks as webhook_service

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=[WriteKey])


class WebhookIn(BaseModel):
    url: str = Field(description="http(s) URL that receives POSTs of job events")
    secret: str | None = Field(None, min_length=16, description="HMAC key; generated if omitted")
    event_types: list[str] | None = Field(None, description="only these event types; all if null")


@router.post("", status_code=201, response_model=None, responses=ok(WebhookCreated, 201))
def create_webhook(body: WebhookIn, engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    """The response is the only time the secret is shown."""
    with engine.begin() as connection:
        return webhook_service.create_webhook(
            connection,
            url=body.url,
            secret=body.secret,
            event_types=body.event_types,
            allow_private=settings.allow_private_urls,
        )


@router.get("", response_model=None, responses=ok(WebhookPage))
def list_webhooks(connection: ConnDep) -> dict[str, Any]:
    return {"data": webhook_service.list_webhooks(connection)}


@router.get("/{webhook_id}/deliveries", response_model=None, responses=ok(DeliveryPage))
def list_deliveries(
    webhook_id: WebhookId, connection: ConnDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    """Every delivery attempt, newest first: outcome, HTTP status, error, duration."""
    return {"data": webhook_service.list_deliveries(connection, webhook_id=webhook_id, limit=limit)}


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: WebhookId, engine: EngineDep) -> None:
    with engine.begin() as connection:
        webhook_service.delete_webhook(connection, webhook_id=webhook_id)
