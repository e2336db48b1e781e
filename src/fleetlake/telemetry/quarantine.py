"""The telemetry messages refused at landing (bronze's quarantine), a day at a time, for the
API and the dashboard: when, from where, which line, why, and what was received."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fleetlake.platform.lake import Lake
from fleetlake.platform.redact import redact_text
from fleetlake.telemetry.bronze import QUARANTINE, QUARANTINE_SCHEMA

RAW_SHOWN = 2000  # characters of a refused message shown; the lake keeps all of it


def quarantine_days(lake: Lake) -> list[date]:
    """The days that have refused messages, newest first."""
    if not lake.exists(*QUARANTINE):
        return []
    found = {
        date.fromisoformat(name.removeprefix("date="))
        for name in (entry.rsplit("/", 1)[-1] for entry in lake.fs.ls(lake.path(*QUARANTINE)))
        if name.startswith("date=")
    }
    return sorted(found, reverse=True)


def quarantined(lake: Lake, *, day: date | None, after: int, limit: int) -> dict[str, Any]:
    """One day's refused messages (default: the latest day), newest first, a page at a time
    (`after` = how many were shown before)."""
    days = quarantine_days(lake)
    day = day or (days[0] if days else None)
    files = lake.list_files(*QUARANTINE, f"date={day.isoformat()}") if day else []
    tables = [_read(lake, path) for path in files]
    table = pa.concat_tables(tables) if tables else QUARANTINE_SCHEMA.empty_table()
    table = table.sort_by([("received_at", "descending"), ("position", "ascending")])
    page = table.slice(after, limit).to_pylist()
    return {
        "date": day.isoformat() if day else None,
        "days": [d.isoformat() for d in days],
        "total": table.num_rows,
        "next_after": after + limit if after + limit < table.num_rows else None,
        "data": [
            {
                "received_at": row["received_at"].isoformat(),
                "source": redact_text(row["source"]),
                "position": row["position"],
                "reason": row["reason"],
                "raw": (row["raw"] or "")[:RAW_SHOWN],
            }
            for row in page
        ],
    }


def _read(lake: Lake, path: str) -> pa.Table:
    with lake.fs.open(path, "rb") as handle:
        return pq.read_table(handle).cast(QUARANTINE_SCHEMA)
