"""What the monitoring routes take and answer, for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from fleetlake.api.schemas import Strict


def _encodable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no database can store it
        raise ValueError("is not valid Unicode text") from exc
    return text


Name = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$"),
    AfterValidator(_encodable),
]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
# Bounds a template never reaches (a millimetre, a kilometre, a million m³): the leak
# model's products and ratios stay finite.
Positive = Annotated[float, Field(ge=1e-3, le=1e6, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Angle = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
PER_FACE = "one value, or one per face (at most 6)"


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlatformIn(In):
    name: Name = Field(examples=["Troll A"])
    description: Annotated[str, AfterValidator(_encodable)] | None = Field(None, max_length=2000)


class Platform(Strict):
    id: int
    name: str
    description: str | None
    created_at: str


class TemplateIn(In):
    platform_id: RowId
    name: Name = Field(examples=["T-1"])
    internal_volume_m3: Positive = Field(description="the volume the gas mixes in")
    length_m: Positive
    width_m: Positive
    height_m: Positive
    angle_from_north_deg: Annotated[float, Field(ge=0, lt=360, allow_inf_nan=False)] = 0.0
    porosity: Share | Annotated[list[Share], Field(min_length=1, max_length=6)] = Field(
        description=f"open share of the walls, {PER_FACE}"
    )
    wall_area_m2: Positive | Annotated[list[Positive], Field(min_length=1, max_length=6)] = Field(
        description=PER_FACE
    )
    inclination_deg: Angle | Annotated[list[Angle], Field(min_length=1, max_length=6)] = 0.0


class Template(Strict):
    id: int
    platform_id: int
    name: str
    internal_volume_m3: float
    length_m: float
    width_m: float
    height_m: float
    angle_from_north_deg: float
    porosity: float | list[float]
    wall_area_m2: float | list[float]
    inclination_deg: float | list[float]
    exchange_per_h: float = Field(description="the leak model's λ from the geometry")
    created_at: str


class SensorIn(In):
    template_id: RowId
    name: Name = Field(examples=["MS-3"])
    x_m: Finite = Field(description="in the template's frame, 0 to length_m")
    y_m: Finite = Field(description="0 to width_m")
    z_m: Finite = Field(description="0 to height_m")
    source_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.:/-]+$",
        description="the name a source knows it by (MQTT topic part, Omnia timeseries id)",
    )


class Baseline(Strict):
    start: str
    end: str


class Sensor(Strict):
    id: int
    template_id: int
    name: str
    source_id: str | None
    x_m: float
    y_m: float
    z_m: float
    baseline: Baseline | None = Field(description="null: the sensor's first days (a setting)")
    last_reading_at: str | None = Field(description="its newest landed reading")
    readings: int = Field(description="readings landed in silver")
    created_at: str


class PlatformPage(Strict):
    data: list[Platform]


class TemplatePage(Strict):
    data: list[Template]


class SensorPage(Strict):
    data: list[Sensor]


class ReadingIn(In):
    sensor: int | str = Field(description="the sensor's id, or its source_id")
    ts: str | float = Field(description="ISO 8601 with a zone, or Unix seconds")
    ppmv: float | str | None = Field(description="≥ 0; anything else is quarantined")


class ReadingsIn(In):
    readings: list[ReadingIn] = Field(min_length=1, max_length=50_000)


class RefusedReading(Strict):
    line: int = Field(description="its position in the list (1 = first) or file line")
    reason: str


class ReadingsLanded(Strict):
    name: str
    status: str
    rows_loaded: int
    rows_quarantined: int
    sensors: dict[str, int] = Field(description="readings landed per sensor id")
    rejected: list[RefusedReading] = Field(description="the first 100 refused")


class SeriesPoint(Strict):
    ts: str = Field(description="the bucket's start")
    min: float
    mean: float
    max: float
    count: int


class Series(Strict):
    sensor_id: int
    start: str
    end: str
    every_s: int
    data: list[SeriesPoint]


class ImportIn(In):
    sources: list[str] = Field(
        min_length=1, max_length=100, description="paths in the import folders or http(s) URLs"
    )


class ActionIn(In):
    by: Name = Field(description="who takes the action", examples=["ops@troll"])
    text: Annotated[str, AfterValidator(_encodable)] | None = Field(None, max_length=4000)


class Action(Strict):
    action: str = Field(examples=["acknowledge"])
    by: str
    text: str | None
    at: str


class LeakEstimate(Strict):
    rate_kg_h: float
    rate_kg_h_low: float = Field(description="95 % interval")
    rate_kg_h_high: float
    rate_nm3_h: float
    exchange_per_h: float
    started_at: str
    source: dict[str, float] = Field(description="x_m, y_m, z_m in the template's frame")
    sensors: list[int]
    residual_ppmv: float


class Event(Strict):
    id: int
    template_id: int
    type: str = Field(examples=["level_changed"])
    level: str = Field(examples=["critical"])
    message: str
    sensors: list[int]
    leak: LeakEstimate | None
    state: str = Field(examples=["open", "acknowledged", "resolved"])
    at: str
    actions: list[Action]


class EventPage(Strict):
    data: list[Event]


class Deviation(Strict):
    start: str
    end: str
    level: str
    score: float = Field(description="the highest, in baseline spreads")


class DeviationPage(Strict):
    sensor_id: int
    data: list[Deviation]


class BaselineIn(In):
    start: datetime = Field(description="with a zone")
    end: datetime


class WhatIfIn(In):
    rate_kg_h: Annotated[float, Field(gt=0, le=1e5, allow_inf_nan=False)]
    x_m: Finite
    y_m: Finite
    z_m: Finite
    hours: Annotated[float, Field(gt=0, le=240)] = 2.0
    every_s: Annotated[float, Field(ge=10, le=3600)] = 60.0


class WhatIfSensor(Strict):
    sensor_id: int
    name: str
    distance_m: float
    steady_ppmv: float | None = Field(
        description="what it reads above background once settled (null: a closed template)"
    )
    ppmv: list[float] = Field(description="above background, at each of `hours_since`")


class WhatIf(Strict):
    template_id: int
    exchange_per_h: float
    hours_since: list[float]
    sensors: list[WhatIfSensor]


class QuarantinedReading(Strict):
    received_at: str
    source: str
    line: int
    reason: str
    raw: str = Field(description="the record as received (first 2,000 characters)")


class QuarantinePage(Strict):
    date: str | None = Field(description="the day shown")
    days: list[str] = Field(description="every day with refused readings, newest first")
    total: int
    next_after: int | None
    data: list[QuarantinedReading]
