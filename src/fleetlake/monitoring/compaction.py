"""Silver's many small files (a batch a minute from MQTT, one per POST) made into one per
sensor-day, so a baseline or a day's series is a few files to read.

A day before today (UTC) is compacted once it has two files; today's once it has
`TODAY_MAX_FILES`. The compacted file is written before the files it replaces are removed,
and readers take one reading per time, so a reader never misses a reading and never counts
one twice; a file landed meanwhile is not among those removed.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from fleetlake.monitoring.landing import SILVER, SILVER_SCHEMA
from fleetlake.platform.lake import Lake

TODAY_MAX_FILES = 60
COMPACTED = "SELECT DISTINCT ON (ts) sensor_id, ts, ppmv FROM read_parquet(?) ORDER BY ts"


def compact_silver(lake: Lake, *, today: date) -> dict[str, Any]:
    """Every sensor-day due; how many days and files were compacted."""
    days = files = 0
    if not lake.exists(*SILVER):
        return {"days": 0, "files": 0}
    with lake.exclusive("monitoring-compaction"):
        for sensor in _children(lake, *SILVER, prefix="sensor="):
            for day in _children(lake, *SILVER, sensor, prefix="date="):
                found = lake.list_files(*SILVER, sensor, day)
                due = 2 if day.removeprefix("date=") < today.isoformat() else TODAY_MAX_FILES
                if len(found) >= due:
                    compact_day(lake, parts=(*SILVER, sensor, day), files=found)
                    days, files = days + 1, files + len(found)
    return {"days": days, "files": files}


def compact_day(lake: Lake, *, parts: tuple[str, ...], files: list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:24]
    with lake.duckdb(memory_limit_mb=512) as db:
        table = db.sql(COMPACTED, params=[lake.duckdb_paths(files)]).to_arrow_table()
    written = lake.write_parquet(table.cast(SILVER_SCHEMA), *parts, f"compacted-{digest}.parquet")
    for path in files:
        if path.rsplit("/", 1)[-1] != written.rsplit("/", 1)[-1]:
            lake.fs.rm(path)
    return written


def _children(lake: Lake, *parts: str, prefix: str) -> list[str]:
    names = (str(e).rstrip("/").rsplit("/", 1)[-1] for e in lake.fs.ls(lake.path(*parts)))
    return sorted(n for n in names if n.startswith(prefix))
