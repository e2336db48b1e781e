"""The telemetry messages refused at landing (bronze's quarantine), a day at a time, for the
API and the dashboard: when, from where, which line, why, and what was received."""

from __future__ import annotations

from datetime import date
from typing import Any

from fleetlake.platform.day_pages import day_page, partition_days
from fleetlake.platform.lake import Lake
from fleetlake.platform.redact import redact_text
from fleetlake.telemetry.bronze import QUARANTINE, QUARANTINE_SCHEMA

RAW_SHOWN = 2000  # characters of a refused message shown; the lake keeps all of it


def quarantine_days(lake: Lake) -> list[date]:
    """The days that have refused messages, newest first."""
    return partition_days(lake, *QUARANTINE)


def quarantined(lake: Lake, *, day: date | None, after: int, limit: int) -> dict[str, Any]:
    """One day's refused messages (default: the latest day), newest first, a page at a time
    (`after` = how many were shown before)."""
    page = day_page(lake, *QUARANTINE, day=day, schema=QUARANTINE_SCHEMA,
                    sort=[("received_at", "descending"), ("position", "ascending")],
                    after=after, limit=limit)  # fmt: skip
    rows = page.pop("rows")
    return page | {
        "data": [
            {
                "received_at": row["received_at"].isoformat(),
                "source": redact_text(row["source"]),
                "position": row["position"],
                "reason": row["reason"],
                "raw": (row["raw"] or "")[:RAW_SHOWN],
            }
            for row in rows
        ],
    }
