"""The trips ingestion job: sources → bronze Parquet chunks → `trips`, one commit per chunk.

Resumable: `trip_files.next_offset` advances in the same transaction as the chunk's rows,
so a job retried after a crash continues from the last committed chunk, never twice.
"""

from __future__ import annotations

import functools
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.errors import FleetlakeError, SourceRejected
from fleetlake.platform.failures import failure_reason
from fleetlake.platform.jobs import JobCancelled, JobContext, register_job_kind, utcnow
from fleetlake.platform.lake import Lake
from fleetlake.platform.sources import materialise, sha256_of, source_name
from fleetlake.settings import Settings, get_settings
from fleetlake.trips.file_state import claim_file, commit_chunk, quarantine
from fleetlake.trips.files import Block, read_blocks, read_header
from fleetlake.trips.models import trip_files
from fleetlake.trips.parse import ParsedBlock, Rejected, parse_block
from fleetlake.trips.rollups import bronze_dir, publish_file, unpublish_file

JOB_KIND = "trips.ingest"


@dataclass
class JobTotals:
    rows_done: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    started: float = field(default_factory=time.monotonic)


def ingest_trips_job(context: JobContext) -> None:
    settings = get_settings()
    engine = context.engine
    sources: list[str] = context.params["sources"]
    force = bool(context.params.get("force", False))
    totals = JobTotals()
    results: list[dict[str, Any]] = []
    # Lazy imports and first-call set-up (≈0.2 s) done while the first file is hashed.
    threading.Thread(target=warm_up_parser, name="warm-up", daemon=True).start()
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
    """Ingest one source; every outcome, failures included, is a result, never an exception."""
    started_at = utcnow()
    result: dict[str, Any] = {
        "source": source,
        "name": source_name(source),
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
        path = materialise(source, settings=settings, job_id=context.job_id)
        result["bytes"] = path.stat().st_size
        totals.bytes_total += result["bytes"]
        result["sha256"] = sha256_of(path)
        read_header(path)
        FileLoad(engine, context, settings, totals, result, force).run(path)
    except SourceRejected as exc:
        with engine.begin() as connection:
            quarantine(
                connection,
                job_id=context.job_id,
                file_id=None,
                source=source,
                rejected=[Rejected(line=None, raw="", reason=exc.message)],
            )
        result.update(
            status="rejected", reason=exc.message, rows_quarantined=result["rows_quarantined"] + 1
        )
    except FleetlakeError as exc:
        result.update(status="failed", reason=exc.message)
    except (OSError, EOFError, zlib.error) as exc:  # unreadable or truncated file, full disk
        result.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
    except JobCancelled:
        raise
    except Exception as exc:  # a bug fails this source, not the sources after it
        context.log("source %s: unexpected error", source, exc_info=True)
        result.update(status="failed", reason=failure_reason(exc))
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


@dataclass
class FileLoad:
    """One file from its next committed offset to its end, chunk by chunk."""

    engine: Engine
    context: JobContext
    settings: Settings
    totals: JobTotals
    result: dict[str, Any]
    force: bool

    def run(self, path: Path) -> None:
        lake = Lake(self.settings.resolved_lake_uri)
        row, skipped = claim_file(
            self.engine,
            sha256=self.result["sha256"],
            source=self.result["source"],
            path=path,
            job_id=self.context.job_id,
            force=self.force,
            before_replace=lambda connection, old: unpublish_file(
                connection, lake, file_row=old, group_resolution=self.settings.trips.h3_resolution
            ),
        )
        if row is None:
            self.result.update(status=skipped)
            self.totals.bytes_done += self.result["bytes"]
            return
        drop_uncommitted_chunks(lake, sha256=row["sha256"], next_offset=row["next_offset"])
        self.result |= {
            "rows_loaded": row["rows_loaded"],
            "rows_quarantined": row["rows_quarantined"],
            "resumed_from_offset": row["next_offset"] or None,
        }
        bytes_before = self.totals.bytes_done
        blocks = read_blocks(
            path,
            start_offset=row["next_offset"],
            start_line=row["next_line"],
            chunk_bytes=self.settings.trips.chunk_bytes,
        )
        stage = functools.partial(
            stage_block,
            time_bucket_minutes=self.settings.trips.time_bucket_minutes,
            lake=lake,
            folder=bronze_dir(row["sha256"]),
        )
        for block, parsed in staged_in_parallel(blocks, stage):
            self.context.check_cancelled()
            self.commit_block(block, parsed, file_id=row["id"])
            self.totals.bytes_done = bytes_before + block.raw_position
            self.report_progress()
        self.result["publish_s"] = publish_file(
            self.engine, lake, file_row=row, group_resolution=self.settings.trips.h3_resolution
        )
        self.context.log("source %s: published %s", self.result["source"], self.result["publish_s"])
        self.totals.bytes_done = bytes_before + self.result["bytes"]
        self.result["status"] = "loaded"

    def commit_block(self, block: Block, parsed: ParsedBlock, *, file_id: int) -> None:
        commit_chunk(
            self.engine,
            file_id=file_id,
            job_id=self.context.job_id,
            source=self.result["source"],
            trips_table=parsed.trips,
            rejected=parsed.rejected,
            next_offset=block.end_offset,
            next_line=block.end_line,
        )
        self.result["rows_loaded"] += parsed.trips.num_rows
        self.result["rows_quarantined"] += len(parsed.rejected)
        self.totals.rows_done += parsed.trips.num_rows

    def report_progress(self) -> None:
        elapsed = max(time.monotonic() - self.totals.started, 1e-6)
        self.context.progress(
            rows_done=self.totals.rows_done,
            bytes_done=self.totals.bytes_done,
            bytes_total=self.totals.bytes_total,
            current_source=self.result["source"],
            rows_loaded=self.result["rows_loaded"],
            rows_quarantined=self.result["rows_quarantined"],
            rows_per_s=round(self.totals.rows_done / elapsed, 1),
        )


def drop_uncommitted_chunks(lake: Lake, *, sha256: str, next_offset: int) -> None:
    """Bronze chunks at or past the committed offset belong to an interrupted attempt.

    Workers land chunks ahead of the commits, and a resumed read cuts blocks differently,
    so such leftovers would overlap the new chunks: they go before loading resumes.
    """
    for path in lake.list_files(*bronze_dir(sha256)):
        offset = int(path.rsplit("offset=", 1)[1].removesuffix(".parquet"))
        if offset >= next_offset:
            lake.fs.rm(path)


def staged_in_parallel(
    blocks: Iterator[Block], stage: Callable[[Block], ParsedBlock], *, workers: int = 2
) -> Iterator[tuple[Block, ParsedBlock]]:
    """Stage the next blocks on worker threads (Arrow releases the GIL), yielded in file order.

    At most `workers + 1` blocks are in memory at once, so memory stays bounded.
    """
    with ThreadPoolExecutor(workers, thread_name_prefix="stage") as pool:
        pending: deque[tuple[Block, Future[ParsedBlock]]] = deque()
        for block in blocks:
            pending.append((block, pool.submit(stage, block)))
            if len(pending) > workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def warm_up_parser() -> None:
    sample = b"Turin,POINT (7.6 45.0),POINT (7.7 45.1),2018-05-28 09:03:40,cheap_mobile\n"
    parse_block(sample, first_line=2, time_bucket_minutes=60)


def stage_block(
    block: Block, *, time_bucket_minutes: int, lake: Lake, folder: tuple[str, ...]
) -> ParsedBlock:
    """Parse a block and land its valid trips in bronze, before anything is committed."""
    parsed = parse_block(
        block.data,
        first_line=block.first_line,
        time_bucket_minutes=time_bucket_minutes,
        refused=block.refused,
    )
    lake.write_parquet(parsed.trips, *folder, f"offset={block.offset:015d}.parquet")
    return parsed


def drop_chunks_of_dead_job(engine: Engine, job_id: int) -> None:
    """Chunks a killed ingestion landed ahead of its commits go at the next start, so a
    plain glob over bronze counts exactly the committed trips (a retry would drop them too)."""
    lake = Lake(get_settings().resolved_lake_uri)
    with engine.connect() as connection:
        loading = connection.execute(
            sa.select(trip_files.c.sha256, trip_files.c.next_offset).where(
                trip_files.c.job_id == job_id, trip_files.c.state == "loading"
            )
        ).all()
    for sha256, next_offset in loading:
        drop_uncommitted_chunks(lake, sha256=sha256, next_offset=next_offset)
    for layer in ("bronze", "gold"):
        lake.remove_temporaries(layer, "trips")


register_job_kind(JOB_KIND, ingest_trips_job, recover=drop_chunks_of_dead_job)
