"""`/api/v1/telemetry`: HTTP push of telemetry messages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from fleetlake.api.deps import ReadKey, SettingsDep, WriteKey
from fleetlake.errors import InvalidParameter, UploadTooLarge
from fleetlake.telemetry.providers import ADAPTERS

router = APIRouter(prefix="/api/v1", tags=["telemetry"], dependencies=[ReadKey])
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


@router.post("/telemetry", dependencies=[WriteKey])
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
    body = await _body_within(request, limit=settings.telemetry_max_push_bytes)
    client = request.client.host if request.client else "unknown"
    return await run_in_threadpool(
        land_push,
        body,
        ndjson=ndjson,
        provider=provider,
        source=f"http:{client}",
        settings=settings,
    )


async def _body_within(request: Request, *, limit: int) -> bytes:
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
    return bytes(received)
