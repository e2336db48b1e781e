"""What the charging routes answer, for the OpenAPI document (checked by schemathesis)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from fleetlake.api.schemas import Strict

KWH = "kWh, as a JSON number"
ISO = "ISO 8601 UTC"


class ImportIn(BaseModel):
    url: str | None = Field(None, description="http(s) URL of the CSV", examples=[
        "https://example.com/lot.csv"])  # fmt: skip
    path: str | None = Field(None, description="a CSV in the server's import folders")


class ReadingIn(BaseModel):
    ts: datetime = Field(description="when the meter read it, with a zone")
    energy_kwh: float | None = Field(None, description="energy delivered this session (meter)")
    soc_pct: float | None = None
    power_kw: float | None = Field(None, description="grid power then")


class ReadingsIn(BaseModel):
    readings: list[ReadingIn] = Field(max_length=10_000)


class FitOut(Strict):
    power_kw: float
    taper_start_pct: float | None
    taper_end_power_pct: float | None
    readings: int
    residual_kw: float = Field(description="root mean square of power against the fit")


class RejectedReading(Strict):
    index: int
    reason: str


class ReadingsAccepted(Strict):
    accepted: int
    rejected: list[RejectedReading]
    fit: FitOut | None = Field(description="null until three readings give power and charge")
    vehicle: Vehicle


class ReadingOut(Strict):
    ts: str
    energy_kwh: float | None
    soc_pct: float | None
    power_kw: float | None
    accepted: bool
    reason: str | None


class CurveOut(Strict):
    fitted: bool
    power_kw: float
    taper_start_pct: float
    taper_end_power_pct: float | None


class ReadingPage(Strict):
    plate: str
    data: list[ReadingOut]
    fit: CurveOut


class CompatVehicle(Strict):
    vehicle: str
    current_charge: float = Field(description=KWH)
    total_charge: float = Field(description=KWH)
    desired_percentage: float
    ready_at: str | None = Field(description=ISO)


class CompatReady(Strict):
    data: list[CompatVehicle]


class CompatStatus(Strict):
    vehicle: str
    ready: bool
    ready_at: str | None = Field(description=f"{ISO}; null if it will not reach its target")
    current_charge: float = Field(description=KWH)


class CompatRemoved(Strict):
    vehicle: str
    current_charge: float = Field(description=KWH)


class Vehicle(Strict):
    plate: str
    current_charge_kwh: float
    total_charge_kwh: float
    desired_pct: float
    soc_pct: float
    power_kw: float = Field(description="grid power drawn now, following the lot's plan")
    plugged_at: str | None
    ready: bool
    ready_at: str | None = Field(description=f"{ISO}; null if it will not reach its target")
    departure: str | None
    reaches_target: bool = Field(description="false: it leaves before reaching desired_pct")


class VehiclePage(Strict):
    data: list[Vehicle]


class Session(Strict):
    id: int
    plate: str
    parked: bool
    total_charge_kwh: float
    start_charge_kwh: float
    desired_pct: float
    plugged_at: str
    unplugged_at: str | None
    departure: str | None
    final_charge_kwh: float | None
    energy_delivered_kwh: float | None = Field(description="battery side, kWh")
    duration_s: float | None


class SessionPage(Strict):
    data: list[Session]
    next_after: int | None


class PlanSegment(Strict):
    start: str
    end: str
    power_kw: float = Field(description="the car's cap in this segment (it draws up to it)")


class PlanVehicle(Strict):
    plate: str
    power_kw: float
    ready_at: str | None
    reaches_target: bool
    end_charge_kwh: float | None = Field(description="at its target, or at its departure")
    segments: list[PlanSegment]


class LoadPoint(Strict):
    at: str
    power_kw: float


class LotPlan(Strict):
    site_limit_kw: float | None = Field(description="the limit this plan was made under")
    settings_site_limit_kw: float | None = Field(
        description="the limit set now; if it differs, it applies from the next replan"
    )
    planned_at: str | None
    version: int
    power_now_kw: float
    vehicles: list[PlanVehicle]
    load: list[LoadPoint] = Field(description="the lot's planned draw from each time on")


class LotEvent(Strict):
    id: int
    job_id: None
    stream: str = Field(examples=["charging"])
    type: str = Field(examples=["vehicle.ready"])
    data: dict[str, Any]
    created_at: str


ReadingsAccepted.model_rebuild()
