"""Silver's small files made one per sensor-day: the same readings, a repeat collapsed, today
left alone until it has many files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from fleetlake.monitoring import catalog
from fleetlake.monitoring.compaction import TODAY_MAX_FILES, compact_silver
from fleetlake.monitoring.landing import SILVER, land_readings, write_silver
from fleetlake.monitoring.readings import Reading, Received
from fleetlake.monitoring.series import readings_between
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.platform.lake import Lake
from tests.integration.monitoring.test_mqtt import MODEL

T0 = datetime(2026, 12, 1, 22, tzinfo=UTC)


def test_days_become_one_file_each_with_the_same_readings(engine: Engine, settings: Any) -> None:
    lake = Lake(settings.resolved_lake_uri)
    with engine.begin() as connection:
        catalog.load_model(connection, model=MODEL, settings=MonitoringSettings(), now=T0)
    batches = [[Received(k, "gas-1", T0 + timedelta(minutes=10 * (b * 6 + k)), float(b * 6 + k))
                for k in range(6)] for b in range(8)]  # fmt: skip
    for batch in batches:  # 8 hours across midnight, a file per batch
        land_readings(engine, lake, batch, source="test", now=T0)
    before = readings_between(lake, sensor_id=1, start=T0, end=T0 + timedelta(days=1))
    assert before.num_rows == 48
    repeat = [Reading(1, 1, T0 + timedelta(minutes=10), 1.0)]  # as a crash could leave it
    write_silver(lake, repeat, batch="again.parquet")
    files_before = len(lake.list_files(*SILVER))
    found = compact_silver(lake, today=(T0 + timedelta(days=1)).date())
    assert found == {"days": 1, "files": 3} and files_before == 8 + 1  # 2 + repeat; 6 today
    after = readings_between(lake, sensor_id=1, start=T0, end=T0 + timedelta(days=1))
    assert after.equals(before)
    first_day = lake.list_files(*SILVER, "sensor=1", "date=2026-12-01")
    assert len(first_day) == 1 and pq.read_metadata(first_day[0]).num_rows == 12
    today = lake.list_files(*SILVER, "sensor=1", "date=2026-12-02")
    assert len(today) == 6 < TODAY_MAX_FILES  # today's day stays as it is
    assert compact_silver(lake, today=(T0 + timedelta(days=3)).date()) == {"days": 1, "files": 6}
    assert readings_between(lake, sensor_id=1, start=T0, end=T0 + timedelta(days=1)).equals(before)
