"""The readings import job: files (CSV `sensor,ts,ppmv`, NDJSON, Parquet; paths or URLs)
landed one after another, each in a batch of its own (so a retried job lands each again
without storing a reading twice: see `landing`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from fleetlake.monitoring.landing import land_readings
from fleetlake.monitoring.readings import read_file
from fleetlake.platform.jobs import JobContext, create_job, register_job_kind
from fleetlake.platform.lake import Lake
from fleetlake.platform.sources import materialise, source_name
from fleetlake.settings import get_settings

JOB_KIND = "monitoring.import"
SUFFIXES = (".csv", ".ndjson", ".jsonl", ".parquet")


def queue_import(engine: Engine, *, sources: list[str]) -> int:
    return create_job(engine, kind=JOB_KIND, params={"sources": sources})


def import_job(context: JobContext) -> None:
    settings = get_settings()
    lake = Lake(settings.resolved_lake_uri)
    results: list[dict[str, Any]] = []
    rows_done = bytes_done = 0
    for source in context.params["sources"]:
        path = materialise(source, settings=settings, job_id=context.job_id)
        context.progress(rows_done=rows_done, bytes_done=bytes_done, bytes_total=None,
                         current_source=source_name(source))  # fmt: skip
        result = land_readings(context.engine, lake, read_file(path), source=source_name(source),
                               now=datetime.now(UTC))  # fmt: skip
        results.append(result)
        rows_done += result["rows_loaded"] + result["rows_quarantined"]
        bytes_done += path.stat().st_size
        context.set_results(results)
        context.event("source_finished", **{k: v for k, v in result.items() if k != "rejected"})


register_job_kind(JOB_KIND, import_job)
