"""A lake folder of `date=YYYY-MM-DD` partitions read a day and a page at a time (what the
quarantine views of every domain show: newest day first)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fleetlake.platform.lake import Lake


def partition_days(lake: Lake, *parts: str) -> list[date]:
    """The days under `parts` that hold files, newest first."""
    if not lake.exists(*parts):
        return []
    names = (entry.rsplit("/", 1)[-1] for entry in lake.fs.ls(lake.path(*parts)))
    return sorted({date.fromisoformat(n.removeprefix("date=")) for n in names
                   if n.startswith("date=")}, reverse=True)  # fmt: skip


def day_page(
    lake: Lake, *parts: str, day: date | None, schema: pa.Schema,
    sort: list[tuple[str, str]], after: int, limit: int,
) -> dict[str, Any]:  # fmt: skip
    """One day's rows (default: the latest day) sorted by `sort`, `limit` after `after`."""
    days = partition_days(lake, *parts)
    day = day or (days[0] if days else None)
    files = lake.list_files(*parts, f"date={day.isoformat()}") if day else []
    tables = [_read(lake, path, schema) for path in files]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    table = table.sort_by(sort)
    return {
        "date": day.isoformat() if day else None,
        "days": [d.isoformat() for d in days],
        "total": table.num_rows,
        "next_after": after + limit if after + limit < table.num_rows else None,
        "rows": table.slice(after, limit).to_pylist(),
    }


def _read(lake: Lake, path: str, schema: pa.Schema) -> pa.Table:
    with lake.fs.open(path, "rb") as handle:
        return pq.read_table(handle).cast(schema)
