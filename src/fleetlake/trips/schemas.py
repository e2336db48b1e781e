"""What the trips routes answer, for the OpenAPI document (checked by the schemathesis suite)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from fleetlake.api.schemas import Strict


class IngestionIn(BaseModel):
    sources: list[str] = Field(description="paths or folders under the import folders, or URLs")
    force: bool = Field(False, description="load again files whose content was already ingested")


UPLOAD = {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary", "description": "a trips CSV"}},
    "required": ["file"],
}
INGESTION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": IngestionIn.model_json_schema()},
            "multipart/form-data": {"schema": UPLOAD},
        },
    }
}


class Point(Strict):
    lon: float
    lat: float


class Trip(Strict):
    id: int
    region: str
    datetime: str = Field(description="ISO 8601, UTC")
    datasource: str
    origin: Point
    destination: Point


class TripPage(Strict):
    data: list[Trip]
    next_after: int | None = Field(description="pass as `after` for the next page; null at the end")


class WeekCount(Strict):
    year: int
    week: int = Field(description="ISO week number")
    trips: int


class WeeklyAverage(Strict):
    weekly_average: float
    weeks: int = Field(description="ISO weeks in the period, those without trips included")
    trips: int
    per_week: list[WeekCount]


class RegionWeek(WeekCount):
    region: str


class RegionWeeks(Strict):
    data: list[RegionWeek]


class TimeWindow(Strict):
    start: str = Field(examples=["08:00"])
    end: str = Field(examples=["09:00"])


class TripGroup(Strict):
    region: str
    regions: list[str]
    origin_cell: str = Field(description="H3 cell of the origins")
    destination_cell: str
    time_bucket: int
    time_window: TimeWindow
    trips: int
    first_seen: str
    last_seen: str
    origin: Point = Field(description="mean origin of the group's trips")
    destination: Point


class TripGroups(Strict):
    data: list[TripGroup]


class QuarantinedRow(Strict):
    id: int
    job_id: int | None
    source: str
    line: int | None
    raw: str
    reason: str
    created_at: str


class QuarantinePage(Strict):
    data: list[QuarantinedRow]


class VehicleRecord(Strict):
    """A trip as the original challenge API printed it."""

    datasource: str
    datetime: str = Field(examples=["Mon, 21 May 2018 02:54:04 GMT"])
    destination_coord_point_x: str
    destination_coord_point_y: str
    id: int
    origin_coord_point_x: str
    origin_coord_point_y: str
    region: str


class VehicleRecords(Strict):
    data: list[VehicleRecord]


class CountBy(Strict):
    data: list[dict[str, int | str]] = Field(description='[{"count": 28, "region": "Hamburg"}]')


class WeeklyTrips(Strict):
    freq_trip: int
    region: str
    week_number: int


class WeeklyTripsPage(Strict):
    data: list[WeeklyTrips]


class WeeklyAvgTrips(Strict):
    freq_avg_weekly_trips: str = Field(examples=["7.6000000000000000"])
    region: str


class WeeklyAvgTripsPage(Strict):
    data: list[WeeklyAvgTrips]


class FileStatus(Strict):
    file: str
    lead_time: str
    num_rows: int
    result: str


class IngestStatus(Strict):
    """One of the three published shapes: nothing / in progress / finished."""

    review: str
    details: list[FileStatus] | None = None
    start_time: str | None = None
    end_time: str | None = None
    lead_time: str | None = None
