"""Per-file ingestion state in `trip_files`: claim a file, commit a chunk, mark it complete.

The chunk's trips, its quarantined lines and the file's next offset are written in one
transaction, which is what makes a retried job continue exactly where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.platform.db import bulk_insert, reserve_ids
from fleetlake.platform.jobs import ACTIVE_STATES, utcnow
from fleetlake.platform.tables import jobs
from fleetlake.trips.models import trip_files, trip_quarantine, trips
from fleetlake.trips.parse import Rejected

RESTART = {"next_offset": 0, "next_line": 2, "rows_loaded": 0, "rows_quarantined": 0}


def claim_file(
    engine: Engine,
    *,
    sha256: str,
    source: str,
    path: Path,
    job_id: int,
    force: bool,
    before_replace: Callable[[Connection, dict[str, Any]], None],
) -> tuple[dict[str, Any] | None, str | None]:
    """(the file's row, ready to load from its next offset) or (None, why it is skipped).

    `before_replace` runs in the same transaction when `force` replaces a complete file.
    """
    with engine.begin() as connection:
        row = _file_row(connection, sa.and_(trip_files.c.sha256 == sha256), lock=True)
        if row is None:
            connection.execute(
                trip_files.insert().values(
                    sha256=sha256,
                    source=source,
                    name=path.name,
                    size_bytes=path.stat().st_size,
                    state="loading",
                    job_id=job_id,
                    started_at=utcnow(),
                )
            )
            return _file_row(connection, trip_files.c.sha256 == sha256), None
        if row["state"] == "complete" and not force:
            return None, "already ingested"
        owner = row["job_id"]
        if row["state"] == "loading" and owner not in (None, job_id) and _active(connection, owner):
            return None, f"being ingested by job {owner}"
        values: dict[str, Any] = {"state": "loading", "job_id": job_id, "source": source}
        if row["state"] == "complete":  # force: replace what this file loaded before
            before_replace(connection, row)
            connection.execute(trips.delete().where(trips.c.file_id == row["id"]))
            connection.execute(
                trip_quarantine.delete().where(trip_quarantine.c.file_id == row["id"])
            )
            values |= RESTART | {"started_at": utcnow(), "finished_at": None}
        connection.execute(trip_files.update().where(trip_files.c.id == row["id"]).values(**values))
        return _file_row(connection, trip_files.c.id == row["id"]), None


def _file_row(
    connection: Connection, condition: sa.ColumnElement[bool], *, lock: bool = False
) -> dict[str, Any] | None:
    query = sa.select(trip_files).where(condition)
    row = connection.execute(query.with_for_update() if lock else query).mappings().first()
    return dict(row) if row else None


def _active(connection: Connection, job_id: int) -> bool:
    state = connection.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).scalar()
    return state in ACTIVE_STATES


def commit_chunk(
    engine: Engine,
    *,
    file_id: int,
    job_id: int,
    source: str,
    trips_table: pa.Table,
    rejected: list[Rejected],
    next_offset: int,
    next_line: int,
) -> None:
    """The chunk's trips, its quarantined lines and the file's new offset: all or nothing."""
    rows = trips_table.num_rows
    stored = [name for name in trips_table.schema.names if name in trips.c]
    batch = trips_table.select(stored)
    batch = batch.append_column("file_id", pa.array(np.full(rows, file_id, np.int32)))
    first_id = reserve_ids(engine, table=trips, count=rows)
    if first_id is not None:
        batch = batch.add_column(0, "id", pa.array(np.arange(first_id, first_id + rows)))
    with engine.begin() as connection:
        bulk_insert(connection, trips, batch)
        if rejected:
            quarantine(connection, job_id=job_id, file_id=file_id, source=source, rejected=rejected)
        connection.execute(
            trip_files.update()
            .where(trip_files.c.id == file_id)
            .values(
                next_offset=next_offset,
                next_line=next_line,
                rows_loaded=trip_files.c.rows_loaded + trips_table.num_rows,
                rows_quarantined=trip_files.c.rows_quarantined + len(rejected),
            )
        )


NUL_SHOWN = "\u2400"  # ␀, the symbol for a NUL byte


def quarantine(
    connection: Connection,
    *,
    job_id: int,
    file_id: int | None,
    source: str,
    rejected: list[Rejected],
) -> None:
    now = utcnow()
    connection.execute(
        trip_quarantine.insert(),
        [
            {
                "job_id": job_id,
                "file_id": file_id,
                "source": source,
                "line": r.line,
                "raw": r.raw.replace("\x00", NUL_SHOWN),  # text columns hold no NUL
                "reason": r.reason,
                "created_at": now,
            }
            for r in rejected
        ],
    )
