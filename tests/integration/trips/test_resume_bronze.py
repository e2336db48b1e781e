"""A resumed load cuts blocks differently: chunks landed ahead of the last commit must go."""

from __future__ import annotations

import shutil
from typing import Any

import sqlalchemy as sa

from fleetlake.platform.jobs import retry_job, run_job
from fleetlake.platform.lake import Lake
from fleetlake.trips import service
from fleetlake.trips.verify import verify_rollups
from tests.conftest import SAMPLE_TRIPS


def test_chunks_landed_ahead_of_a_crash_are_not_double_counted(
    engine: sa.Engine, crash_commit: Any, chunk_bytes: Any
) -> None:
    chunk_bytes(1500)
    heal = crash_commit(4)  # by now the workers have landed later chunks in bronze
    first = run_job(
        engine, job_id=service.queue_ingestion(engine, sources=[str(SAMPLE_TRIPS)], force=False)
    )
    heal()
    from fleetlake.settings import get_settings

    # A chunk landed ahead whose boundaries the resumed read will not reproduce.
    lake = Lake(get_settings().resolved_lake_uri)
    chunks = lake.list_files("bronze", "trips")
    stale = chunks[-1].rsplit("offset=", 1)[0] + "offset=000000000005000.parquet"
    shutil.copy(chunks[-1], stale)
    second = run_job(engine, job_id=retry_job(engine, job_id=first["id"]))
    assert second["state"] == "succeeded"
    report = verify_rollups(engine, group_resolution=7, time_bucket_minutes=60)
    assert all(found == {"missing": 0, "extra": 0, "drift": 0} for found in report.values())
    with engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT sum(trips) FROM trip_day_counts")).scalar_one()
            == 100
        )
