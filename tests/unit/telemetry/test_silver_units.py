"""Silver's plumbing: the hours each bronze file holds, what a compaction brings anew, and
which edge rows a recomputed hour is handed."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from fleetlake.platform.lake import Lake
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.bronze_hours import HourIndex, bronze_files
from fleetlake.telemetry.compaction import compact
from fleetlake.telemetry.schema import MappedBatch, TelemetryRecord
from fleetlake.telemetry.silver_edges import _ends

DAY = date(2026, 11, 16)
START = datetime(2026, 11, 16, tzinfo=UTC)


def land(lake: Lake, *seconds: float, vin: str = "V1") -> None:
    received = START + timedelta(days=2)
    records = [
        TelemetryRecord.of(vin=vin, ts=START + timedelta(seconds=s), received_at=received,
                           source="test", values={"speed_kmh": 10.0})
        for s in seconds
    ]  # fmt: skip
    buffers = BronzeBuffers(lake, flush_messages=10_000)
    buffers.add(MappedBatch(records), source="test", received_at=received)
    buffers.flush_all()


def index_of(lake: Lake) -> HourIndex:
    hours = HourIndex(lake)
    hours.load(bronze_files(lake))
    return hours


def test_a_files_hours_come_from_its_footer(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    land(lake, 10, 2 * 3600 + 5)  # 00:00:10 and 02:00:05
    hours = index_of(lake)
    [span] = hours.spans[DAY].values()
    assert span.hours() == [START, START + timedelta(hours=1), START + timedelta(hours=2)]
    assert span.rows == 2


def test_a_compaction_of_seen_buffers_is_known_and_one_with_unseen_rows_is_not(
    tmp_path: Path,
) -> None:
    lake = Lake(str(tmp_path))
    land(lake, 10, 20)
    index_of(lake).save()  # silver has seen the buffers
    time.sleep(0.01)
    compact(lake, day=DAY)
    [compacted] = bronze_files(lake)
    hours = index_of(lake)
    assert "/_buffer/" not in compacted.path and hours.is_known(compacted)
    hours.save()
    land(lake, 30)  # late data: silver sees the buffer only after the compaction merged it
    time.sleep(0.01)
    compact(lake, day=DAY)
    [again] = bronze_files(lake)
    assert not index_of(lake).is_known(again)


def test_edge_rows_are_the_ends_of_each_series_per_vehicle() -> None:
    odometer = [None, 1.0, 2.0, None, 3.0, 4.0, None]
    lat = [45.0, None, 45.1, 45.2, None, 45.3, 45.4]
    rows = pa.table({
        "vin": ["A"] * 7 + ["B"],
        "ts": list(range(8)),
        "odometer_km": [*odometer, None],
        "lat": [*lat, None],
        "lon": [7.0] * 8,
    })  # fmt: skip
    picked = _ends(rows)["ts"].to_pylist()
    # A: odometer rows 1,2 (first two) and 4,5 (last two); fixes 0,2 and 5,6. B: no series.
    assert picked == [0, 1, 2, 4, 5, 6]
