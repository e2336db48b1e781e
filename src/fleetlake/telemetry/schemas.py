"""What the telemetry routes answer, for the OpenAPI document (checked by schemathesis)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import Field, create_model

from fleetlake.api.schemas import Strict
from fleetlake.telemetry.schema import MEASURES


class Rejected(Strict):
    position: int = Field(description="the NDJSON line or the array index of the message")
    reason: str


class PushResult(Strict):
    source: str
    messages: int
    rows_loaded: int
    rows_quarantined: int
    rejected: list[Rejected] = Field(description="the first 100 refused messages")


def _measure_type(kind: pa.DataType) -> Any:
    return str if pa.types.is_string(kind) else float


# Canonical fields at the top (latest valid value), and when each was seen in `seen_at`.
SEEN_AT: dict[str, Any] = {name: (str | None, None) for name in MEASURES}
SeenAt = create_model("SeenAt", __base__=Strict, **SEEN_AT)
MEASURED: dict[str, Any] = {name: (_measure_type(k) | None, None) for name, k in MEASURES.items()}
Vehicle = create_model(
    "Vehicle",
    __base__=Strict,
    vin=(str, ...),
    last_ts=(str, ...),
    seen_at=(SeenAt, ...),
    source=(str | None, None),
    **MEASURED,
)


class VehiclePage(Strict):
    data: list[Vehicle]
    next_after: str | None = Field(description="pass as `after` for the next page")


class Series(Strict):
    vin: str
    fields: list[str]
    every_s: int | None
    data: list[dict[str, Any]] = Field(description='rows of `"ts"` and the chosen fields')


class DailyStat(Strict):
    date: str = Field(description="UTC day")
    distance_km: float | None = Field(description="odometer at the day's end less its start")
    max_speed_kmh: float | None
    mean_speed_kmh: float | None
    soc_min_pct: float | None
    soc_max_pct: float | None
    energy_used_kwh: float | None = Field(description="the falls of the energy remaining")
    energy_added_kwh: float | None = Field(description="its rises (charging)")
    messages: int


class DailyStats(Strict):
    vin: str
    start: str
    end: str
    data: list[DailyStat] = Field(description="one row per day the vehicle reported")


class TopSpeed(Strict):
    hour: str
    rank: int
    vin: str
    speed_kmh: float
    ts: str
    lat: float | None
    lon: float | None


class RefusedMessage(Strict):
    received_at: str
    source: str
    position: int | None = Field(description="the line of a file or push, the array index")
    reason: str
    raw: str = Field(description="what was received (its first 2,000 characters)")


class RefusedMessages(Strict):
    date: str | None = Field(description="the day shown; the latest one when none is asked")
    days: list[str] = Field(description="every day that has refused messages, newest first")
    total: int
    next_after: int | None = Field(description="pass as `after` for the next page")
    data: list[RefusedMessage]


class TopSpeeds(Strict):
    data: list[TopSpeed]


PUSH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {"type": "object"},
                    ]
                },
                "example": [
                    {"vin": "5YJSA1111111111A", "ts": "2026-11-16T08:00:00Z", "speed_kmh": 50.0}
                ],
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "one JSON message per line"}
            },
        },
    }
}
