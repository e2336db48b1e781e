"""The trips ingestion job: sources → bronze Parquet chunks → `trips`, one commit per chunk.

Resumable: `trip_files.next_offset` advances in the same transaction as the chunk's rows,
so a job retried after a crash continues from the last committed chunk, never twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import FleetlakeError, SourceRejected
from fleetlake.platform import fetch
from fleetlake.platform.db import bulk_insert
from fleetlake.platform.jobs import JobContext, register_job_kind, utcnow
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings, get_settings
from fleetlake.trips.files import read_blocks, read_header, sha256_of
from fleetlake.trips.models import trip_files, trip_quarantine, trips
from fleetlake.trips.parse import Rejected, parse_block

JOB_KIND = "trips.ingest"


@dataclass
class JobTotals:
    rows_done: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    started: float = field(default_factory=time.monotonic)


def ingest_trips_job(context: JobContext) -> None:
    settings = get_settings()
    from fleetlake.platform.db import get_engine

    engine = get_engine(settings.resolved_database_url)
    sources: list[str] = context.params["sources"]
    force = bool(context.params.get("force", False))
    totals = JobTotals()
    results: list[dict[str, Any]] = []
    for index, source in enumerate(sources):
        context.check_cancelled()
        result = ingest_source(
            engine,
            context,
            settings=settings,
            source=source,
            index=index,
            force=force,
            totals=totals,
        )
        results.append(result)
        context.set_results(results)
        context.event("source_finished", **result)
    failed = [r for r in results if r["status"] in ("rejected", "failed")]
    if failed:
        names = ", ".join(f"{r['name']} ({r['reason']})" for r in failed[:3])
        raise SourceRejected(f"{len(failed)} of {len(results)} sources not ingested: {names}")


def ingest_source(
    engine: Engine,
    context: JobContext,
    *,
    settings: Settings,
    source: str,
    index: int,
    force: bool,
    totals: JobTotals,
) -> dict[str, Any]:
    started_at = utcnow()
    result: dict[str, Any] = {
        "source": source,
        "name": Path(source).name or source,
        "status": "failed",
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "bytes": 0,
        "sha256": None,
        "started_at": started_at.isoformat(),
        "reason": None,
    }
    context.event("source_started", source=source, index=index)
    context.log("source %s: started", source)
    try:
        path = materialise(source, settings=settings, job_id=context.job_id, index=index)
        result["bytes"] = path.stat().st_size
        totals.bytes_total += result["bytes"]
        result["sha256"] = sha256_of(path)
        try:
            read_header(path)
        except SourceRejected as exc:
            _quarantine_whole_file(engine, context.job_id, source, exc.message)
            result.update(status="rejected", reason=exc.message, rows_quarantined=1)
            return result
        _load_file(
            engine,
            context,
            settings=settings,
            path=path,
            source=source,
            force=force,
            result=result,
            totals=totals,
        )
    except FleetlakeError as exc:
        result.update(
            status="rejected" if isinstance(exc, SourceRejected) else "failed", reason=exc.message
        )
        if isinstance(exc, SourceRejected):
            _quarantine_whole_file(engine, context.job_id, source, exc.message)
            result["rows_quarantined"] = 1
    except OSError as exc:
        result.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
    finally:
        finished_at = utcnow()
        result["finished_at"] = finished_at.isoformat()
        result["duration_s"] = (finished_at - started_at).total_seconds()
        context.log(
            "source %s: %s, %d rows loaded, %d quarantined%s",
            source,
            result["status"],
            result["rows_loaded"],
            result["rows_quarantined"],
            f" ({result['reason']})" if result["reason"] else "",
        )
    return result


def materialise(source: str, *, settings: Settings, job_id: int, index: int) -> Path:
    """A local file for the source: URLs are downloaded under home first."""
    if fetch.is_url(source):
        return fetch.download(
            source,
            dest_dir=settings.home_dir / "data" / "downloads" / f"job-{job_id}",
            max_bytes=settings.max_upload_bytes,
            timeout_s=settings.url_timeout_s,
            allow_private=settings.allow_private_urls,
        )
    path = Path(source)
    if not path.is_file():
        raise SourceRejected(f"{source} does not exist or is not a file")
    return path


def _quarantine_whole_file(engine: Engine, job_id: int, source: str, reason: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            trip_quarantine.insert().values(
                job_id=job_id,
                file_id=None,
                source=source,
                line=None,
                raw="",
                reason=reason,
                created_at=utcnow(),
            )
        )


def _claim_file(
    connection: Connection, *, sha256: str, source: str, path: Path, job_id: int, force: bool
) -> tuple[dict[str, Any] | None, str | None]:
    """(file row to load, or None with the reason it is skipped)."""
    row = (
        connection.execute(
            sa.select(trip_files).where(trip_files.c.sha256 == sha256).with_for_update()
        )
        .mappings()
        .first()
    )
    now = utcnow()
    if row is None:
        file_id = connection.execute(
            trip_files.insert().values(
                sha256=sha256,
                source=source,
                name=path.name,
                size_bytes=path.stat().st_size,
                state="loading",
                job_id=job_id,
                started_at=now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        row = (
            connection.execute(sa.select(trip_files).where(trip_files.c.id == file_id))
            .mappings()
            .one()
        )
        return dict(row), None
    if row["state"] == "complete" and not force:
        return None, "already ingested"
    if (
        row["state"] == "loading"
        and row["job_id"] not in (None, job_id)
        and _job_active(connection, row["job_id"])
    ):
        return None, f"being ingested by job {row['job_id']}"
    values: dict[str, Any] = {"state": "loading", "job_id": job_id, "source": source}
    if row["state"] == "complete":  # --force: replace what this file loaded before
        connection.execute(trips.delete().where(trips.c.file_id == row["id"]))
        connection.execute(trip_quarantine.delete().where(trip_quarantine.c.file_id == row["id"]))
        values |= {
            "next_offset": 0,
            "next_line": 2,
            "rows_loaded": 0,
            "rows_quarantined": 0,
            "started_at": now,
            "finished_at": None,
        }
    connection.execute(trip_files.update().where(trip_files.c.id == row["id"]).values(**values))
    row = (
        connection.execute(sa.select(trip_files).where(trip_files.c.id == row["id"]))
        .mappings()
        .one()
    )
    return dict(row), None


def _job_active(connection: Connection, job_id: int) -> bool:
    from fleetlake.platform.tables import jobs

    state = connection.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).scalar()
    return state in ("queued", "running")


def _load_file(
    engine: Engine,
    context: JobContext,
    *,
    settings: Settings,
    path: Path,
    source: str,
    force: bool,
    result: dict[str, Any],
    totals: JobTotals,
) -> None:
    with engine.begin() as connection:
        row, skipped = _claim_file(
            connection,
            sha256=result["sha256"],
            source=source,
            path=path,
            job_id=context.job_id,
            force=force,
        )
    if row is None:
        result.update(status=skipped, reason=None)
        totals.bytes_done += result["bytes"]
        return
    lake = Lake(settings.resolved_lake_uri)
    result["rows_loaded"], result["rows_quarantined"] = row["rows_loaded"], row["rows_quarantined"]
    result["resumed_from_offset"] = row["next_offset"] or None
    bytes_before = totals.bytes_done
    for block in read_blocks(
        path,
        start_offset=row["next_offset"],
        start_line=row["next_line"],
        chunk_bytes=settings.chunk_bytes,
    ):
        context.check_cancelled()
        parsed = parse_block(
            block.data,
            first_line=block.first_line,
            h3_resolution=settings.h3_resolution,
            time_bucket_minutes=settings.time_bucket_minutes,
        )
        lake.write_parquet(
            parsed.trips,
            "bronze",
            "trips",
            f"file={result['sha256'][:16]}",
            f"offset={block.offset:015d}.parquet",
        )
        _commit_chunk(
            engine,
            file_id=row["id"],
            job_id=context.job_id,
            source=source,
            trips_table=parsed.trips,
            rejected=parsed.rejected,
            next_offset=block.end_offset,
            next_line=block.first_line + block.data.count(b"\n"),
        )
        result["rows_loaded"] += parsed.trips.num_rows
        result["rows_quarantined"] += len(parsed.rejected)
        totals.rows_done += parsed.trips.num_rows
        totals.bytes_done = bytes_before + block.raw_position
        elapsed = max(time.monotonic() - totals.started, 1e-6)
        context.progress(
            rows_done=totals.rows_done,
            bytes_done=totals.bytes_done,
            bytes_total=totals.bytes_total,
            current_source=source,
            rows_loaded=result["rows_loaded"],
            rows_quarantined=result["rows_quarantined"],
            rows_per_s=round(totals.rows_done / elapsed, 1),
        )
    with engine.begin() as connection:
        connection.execute(
            trip_files.update()
            .where(trip_files.c.id == row["id"])
            .values(state="complete", finished_at=utcnow())
        )
    totals.bytes_done = bytes_before + result["bytes"]
    result["status"] = "loaded"


def _commit_chunk(
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
    with engine.begin() as connection:
        rows = trips_table.append_column(
            "file_id", pa.array([file_id] * trips_table.num_rows, pa.int32())
        )
        bulk_insert(connection, trips, rows)
        if rejected:
            now = utcnow()
            connection.execute(
                trip_quarantine.insert(),
                [
                    {
                        "job_id": job_id,
                        "file_id": file_id,
                        "source": source,
                        "line": r.line,
                        "raw": r.raw,
                        "reason": r.reason,
                        "created_at": now,
                    }
                    for r in rejected
                ],
            )
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


register_job_kind(JOB_KIND, ingest_trips_job)
