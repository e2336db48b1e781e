"""The telemetry file ingestion job: files and URLs → provider adapter → bronze buffers.

Each source is mapped message by message and flushed to bronze before it counts as done; a
marker `bronze/telemetry/_sources/<sha256>.json` then records it, so the same content is not
ingested twice unless forced. A job interrupted mid-file is retried from the file's start:
what was flushed before is in bronze twice and silver keeps one row per (vin, ts).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetlake.errors import FleetlakeError, SourceRejected
from fleetlake.platform.jobs import JobContext, register_job_kind
from fleetlake.platform.lake import Lake
from fleetlake.platform.sources import materialise, sha256_of, source_name
from fleetlake.settings import Settings, get_settings
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.fast_path import canonical_ndjson
from fleetlake.telemetry.files import (
    Message,
    file_format,
    ndjson_chunks,
    ndjson_messages,
    read_messages,
)
from fleetlake.telemetry.providers import adapter_for
from fleetlake.telemetry.providers.base import Adapter, rejected
from fleetlake.telemetry.providers.mapping import CANONICAL
from fleetlake.telemetry.schema import MappedBatch

JOB_KIND = "telemetry.ingest"
SOURCES = ("bronze", "telemetry", "_sources")
PROGRESS_EVERY_S = 1.0


def ingest_telemetry_job(context: JobContext) -> None:
    settings = get_settings()
    params = context.params
    mapping = Path(params["mapping"]) if params.get("mapping") else None
    lake = Lake(settings.resolved_lake_uri)
    results: list[dict[str, Any]] = []
    earlier = Totals()
    for source in params["sources"]:
        context.check_cancelled()
        adapter = adapter_for(params.get("provider") or "canonical", mapping=mapping)
        result = ingest_source(
            context,
            lake=lake,
            settings=settings,
            source=source,
            adapter=adapter,
            force=bool(params.get("force")),
            earlier=earlier,
        )
        earlier.add(result)
        _report(context, None, earlier)
        results.append(result)
        context.set_results(results)
        context.event("source_finished", **result)
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        names = ", ".join(f"{r['name']} ({r['reason']})" for r in failed[:3])
        raise SourceRejected(f"{len(failed)} of {len(results)} sources not ingested: {names}")


def ingest_source(
    context: JobContext,
    *,
    lake: Lake,
    settings: Settings,
    source: str,
    adapter: Adapter,
    force: bool,
    earlier: Totals,
) -> dict[str, Any]:
    """One source, every outcome a result (failures included), never an exception;
    progress counts it on top of the `earlier` sources of the job."""
    started = time.monotonic()
    result: dict[str, Any] = {
        "source": source,
        "name": source_name(source),
        "status": "failed",
        "messages": 0,
        "rows_loaded": 0,  # records landed in bronze
        "rows_quarantined": 0,  # messages (and records) kept in the quarantine
        "bytes": 0,
        "sha256": None,
        "reason": None,
    }
    context.event("source_started", source=source)
    try:
        path = materialise(source, settings=settings, job_id=context.job_id)
        file_format(path)  # refuses an unknown suffix before any work
        result["bytes"] = path.stat().st_size
        result["sha256"] = sha256_of(path)
        marker = (*SOURCES, f"{result['sha256']}.json")
        if lake.exists(*marker) and not force:
            result.update(status="already ingested")
            return result
        buffers = BronzeBuffers.from_settings(settings)
        load_file(
            context, buffers=buffers, path=path, adapter=adapter, result=result, earlier=earlier
        )
        result["status"] = "loaded"
        lake.write_json(result, *marker)  # after the last flush: the content is in bronze
    except FleetlakeError as exc:
        result.update(reason=exc.message)
    except (OSError, EOFError, ValueError) as exc:  # unreadable file, bad gzip, full disk
        result.update(reason=f"{type(exc).__name__}: {exc}")
    result["duration_s"] = round(time.monotonic() - started, 3)
    context.log("source %s: %s (%s)", source, result["status"], result["reason"] or "ok")
    return result


def load_file(
    context: JobContext,
    *,
    buffers: BronzeBuffers,
    path: Path,
    adapter: Adapter,
    result: dict[str, Any],
    earlier: Totals | None = None,
) -> None:
    """Every message of the file mapped and held; all of it durable in bronze on return."""
    last_report = time.monotonic()

    def report() -> None:
        nonlocal last_report
        if time.monotonic() - last_report >= PROGRESS_EVERY_S:
            context.check_cancelled()
            _report(context, result, earlier or Totals())
            last_report = time.monotonic()

    if adapter is CANONICAL and file_format(path) == "ndjson":
        lines = get_settings().telemetry.bulk_lines
        land_ndjson_in_bulk(path, buffers=buffers, result=result, each=report, lines=lines)
    else:
        land(read_messages(path), adapter=adapter, buffers=buffers, result=result, each=report)
    _report(context, result, earlier or Totals())


def land_ndjson_in_bulk(
    path: Path,
    *,
    buffers: BronzeBuffers,
    result: dict[str, Any],
    each: Callable[[], None],
    lines: int,
) -> None:
    """Canonical NDJSON a chunk of lines at a time through the bulk path; a chunk it declines
    goes through the per-message path with its lines' numbers."""
    for first_line, data in ndjson_chunks(path, lines=lines):
        table = canonical_ndjson(data, received_at=datetime.now(UTC), rules=buffers.rules)
        if table is not None:
            buffers.add_table(table, messages=table.num_rows)
            result["messages"] += table.num_rows
            result["rows_loaded"] += table.num_rows
        else:
            messages = ndjson_messages(data, first_line=first_line)
            land(messages, adapter=CANONICAL, buffers=buffers, result=result, flush=False)
        each()
    settle(buffers, result)


def land(
    messages: Iterable[Message],
    *,
    adapter: Adapter,
    buffers: BronzeBuffers,
    result: dict[str, Any],
    each: Callable[[], None] | None = None,
    flush: bool = True,
) -> None:
    """Map and hold every message, then flush (unless `flush` is off): all of it is durable
    in bronze on return. Counts go to `result` (messages, rows_loaded, rows_quarantined)."""
    source = str(result["source"])
    for message in messages:
        received_at = datetime.now(UTC)
        batch = map_message(adapter, message, received_at=received_at)
        buffers.add(batch, source=source, received_at=received_at, position=message.position)
        result["messages"] += 1
        result["rows_loaded"] += len(batch.records)
        result["rows_quarantined"] += len(batch.rejected)
        if each is not None:
            each()
    if not flush:
        return
    settle(buffers, result)


def settle(buffers: BronzeBuffers, result: dict[str, Any]) -> None:
    """Flush what is held; then the counts of what is durable (the buffers' own counts also
    hold records quarantined for an unusable VIN)."""
    buffers.flush_all()
    result["rows_loaded"] = buffers.stats.records
    result["rows_quarantined"] = buffers.stats.rejected


def map_message(adapter: Adapter, message: Message, *, received_at: datetime) -> MappedBatch:
    """The message's records; what is rejected carries the file's line, not the index."""
    if message.error is not None:
        return MappedBatch(rejected=[rejected(message.position, message.error, message.raw)])
    batch = adapter.map(message.payload, received_at=received_at)
    batch.rejected = [dataclasses.replace(r, position=message.position) for r in batch.rejected]
    return batch


@dataclass
class Totals:
    """What the job's finished sources landed: progress counts the whole job, not a file."""

    rows: int = 0
    quarantined: int = 0
    messages: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, result: dict[str, Any]) -> None:
        self.rows += result["rows_loaded"]
        self.quarantined += result["rows_quarantined"]
        self.messages += result["messages"]
        self.bytes += result["bytes"]


def _report(context: JobContext, result: dict[str, Any] | None, earlier: Totals) -> None:
    """The job's progress: `earlier` sources plus the one being read (`result`)."""
    current = result or {"rows_loaded": 0, "rows_quarantined": 0, "messages": 0, "bytes": 0}
    rows = earlier.rows + current["rows_loaded"]
    context.progress(
        rows_done=rows,
        bytes_done=earlier.bytes + current["bytes"],
        bytes_total=earlier.bytes + current["bytes"],
        current_source=result["source"] if result else None,
        messages=earlier.messages + current["messages"],
        rows_quarantined=earlier.quarantined + current["rows_quarantined"],
        rows_per_s=round(rows / max(time.monotonic() - earlier.started, 1e-6), 1),
    )


def remove_crashed_writes(engine: Any, job_id: int) -> None:
    """What a killed ingestion was writing (hidden temporaries) goes at the next start."""
    Lake(get_settings().resolved_lake_uri).remove_temporaries("bronze", "telemetry")


register_job_kind(JOB_KIND, ingest_telemetry_job, recover=remove_crashed_writes)
